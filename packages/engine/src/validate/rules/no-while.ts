import type { Rule } from '../rule.js';

export const noWhile: Rule = {
  id: 'no-while',
  description: '`while` and `do-while` loops, unless the dialect allows them (whileLoops).',
  create(ctx) {
    if (ctx.dialect.whileLoops) return {};
    const hint = 'Use a bounded `for` loop, e.g. `for (let i = 0; i < items.length; i++)`, or `for (const item of items)`.';
    return {
      WhileStatement(node) {
        ctx.report(node, '`while` loops are not allowed at this security level.', hint);
      },
      DoWhileStatement(node) {
        ctx.report(node, '`do ... while` loops are not allowed at this security level.', hint);
      },
    };
  },
};
