import { RESERVED_PREFIX } from '../../levels.js';
import { quote } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

function suggestion(name: string): string {
  return name.slice(RESERVED_PREFIX.length).replace(/^_+/, '') || 'value';
}

/** The runtime's own bindings carry the reserved prefix; a script must neither read nor shadow them. */
export const noReservedPrefix: Rule = {
  id: 'no-reserved-prefix',
  description: `Blocks variables and references whose name starts with \`${RESERVED_PREFIX}\`.`,
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        const name = ctx.scope.bindingOf(node, parent, key)?.name;
        if (name === undefined || !name.startsWith(RESERVED_PREFIX)) return;
        ctx.report(
          node,
          `${quote(name)} uses the prefix \`${RESERVED_PREFIX}\`, which is reserved for the runtime.`,
          `Rename it so that it does not start with \`${RESERVED_PREFIX}\`, e.g. ${quote(suggestion(name))}.`,
        );
      },
    };
  },
};
