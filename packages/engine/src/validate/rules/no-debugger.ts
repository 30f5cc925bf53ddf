import type { Rule } from '../rule.js';

export const noDebugger: Rule = {
  id: 'no-debugger',
  description: 'Blocks `debugger` statements.',
  create(ctx) {
    return {
      DebuggerStatement(node) {
        ctx.report(
          node,
          '`debugger` statements are not allowed.',
          'Remove the `debugger` statement; use `console.log` to inspect values.',
        );
      },
    };
  },
};
