import { str } from '../../ast/nodes.js';
import { CODE_GENERATION_NAMES } from '../names.js';
import type { Rule } from '../rule.js';

/** `eval`, `Function` and the other code-generating constructors, in any identifier position. */
export const noEval: Rule = {
  id: 'no-eval',
  description: 'Blocks eval, Function and the other ways of turning strings into code.',
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        const role = ctx.scope.roleOf(node, parent, key);
        if (role !== 'read' && role !== 'write' && role !== 'declare') return;
        const name = str(node, 'name') ?? '';
        if (!CODE_GENERATION_NAMES.has(name)) return;
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
