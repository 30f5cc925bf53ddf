import { quote, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

/**
 * Agents sometimes paste a stub (`async function callTool(name, args) { ... }`) above their code. A
 * shadowed `callTool` would escape the checks of `static-tool-name` and silently replace the real
 * bridge, so declaring it is reported. Every other provided name (`input`, `console`, a global of the
 * host's) may be declared like any variable: the declaration shadows the provided value in its scope,
 * which is what `const input = { ... }` in a script that does not know about `input` means.
 */
export const noRedeclareProvided: Rule = {
  id: 'no-redeclare-provided',
  description: 'Blocks declaring variables, parameters or functions named callTool.',
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        if (ctx.scope.roleOf(node, parent, key) !== 'declare') return;
        const name = str(node, 'name') ?? '';
        if (name !== 'callTool' || !ctx.allowedGlobals.has(name)) return;
        ctx.report(node, `${quote(name)} is provided by the runtime and cannot be redeclared.`, `Remove your own definition of ${quote(name)} and use the one provided.`);
      },
    };
  },
};
