import { quote, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

// The names the runtime provides to every run. User globals are data and may be shadowed freely.
const PROVIDED = new Set(['callTool', 'input', 'console']);

/**
 * Agents sometimes paste a stub (`async function callTool(name, args) { ... }`) or sample data
 * (`const input = { ... }`) above their code. Either silently replaces what the runtime provides,
 * and a shadowed `callTool` escapes the checks of `static-tool-name`, so the declaration is reported.
 */
export const noRedeclareProvided: Rule = {
  id: 'no-redeclare-provided',
  description: 'Blocks declaring variables, parameters or functions named callTool, input or console when the run provides them.',
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        if (ctx.scope.roleOf(node, parent, key) !== 'declare') return;
        const name = str(node, 'name') ?? '';
        if (!PROVIDED.has(name) || !ctx.allowedGlobals.has(name)) return;
        ctx.report(
          node,
          `${quote(name)} is provided by the runtime and cannot be redeclared.`,
          name === 'input'
            ? 'Remove the declaration and read the real `input`; copy it if you need a changed version: ' +
              '`const data = { ...input }`.'
            : `Remove your own definition of ${quote(name)} and use the one provided.`,
        );
      },
    };
  },
};
