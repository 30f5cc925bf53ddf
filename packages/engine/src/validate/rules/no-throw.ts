import type { Rule } from '../rule.js';

export const noThrow: Rule = {
  id: 'no-throw',
  description: '`throw` statements, unless the dialect allows them (throwStatements).',
  create(ctx) {
    if (ctx.dialect.throwStatements) return {};
    return {
      ThrowStatement(node) {
        ctx.report(
          node,
          '`throw` is not allowed at this security level.',
          "Return an error value instead, e.g. `return { error: 'what went wrong' };`.",
        );
      },
    };
  },
};
