import { functionLabel } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noFunctionDeclaration: Rule = {
  id: 'no-function-declaration',
  description: '`function name() {}` declarations, unless the dialect allows them (functionDeclarations).',
  create(ctx) {
    if (ctx.dialect.functionDeclarations) return {};
    return {
      FunctionDeclaration(node) {
        ctx.report(
          node,
          `Function declaration ${functionLabel(node)} is not allowed at this security level.`,
          'Use an arrow function assigned to a constant: `const name = (a, b) => { ... };`.',
        );
      },
    };
  },
};
