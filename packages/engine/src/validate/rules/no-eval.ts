import { CODE_GENERATION_NAMES } from '../names.js';
import type { Rule } from '../rule.js';

/** `eval`, `Function` and the other code-generating constructors, in any identifier position. */
export const noEval: Rule = {
  id: 'no-eval',
  description: 'Blocks eval, Function and the other ways of turning strings into code.',
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        const binding = ctx.scope.bindingOf(node, parent, key);
        if (binding === undefined || !CODE_GENERATION_NAMES.has(binding.name)) return;
        const { name, role } = binding;
        ctx.report(
          node,
          role === 'declare'
            ? `\`${name}\` cannot be used as a variable name.`
            : `\`${name}\` is blocked: code cannot be generated from strings.`,
          role === 'declare'
            ? `Rename the variable, e.g. \`${name.toLowerCase()}Value\`.`
            : 'Write the logic directly as code; use `JSON.parse` to read JSON text.',
        );
      },
    };
  },
};
