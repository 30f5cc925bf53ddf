import type { Rule } from '../rule.js';

export const noForIn: Rule = {
  id: 'no-for-in',
  description: '`for-in` loops, unless the dialect allows them (forIn).',
  create(ctx) {
    if (ctx.dialect.forIn) return {};
    return {
      ForInStatement(node) {
        ctx.report(
          node,
          '`for (... in ...)` loops are not allowed at this security level.',
          'Iterate own keys instead: `for (const key of Object.keys(obj))` or `for (const [key, value] of Object.entries(obj))`.',
        );
      },
    };
  },
};
