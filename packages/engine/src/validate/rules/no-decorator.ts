import type { Rule } from '../rule.js';

/**
 * oxc accepts decorators in plain JavaScript but V8 does not run them, and they call arbitrary
 * functions with class internals. Blocked at every level.
 */
export const noDecorator: Rule = {
  id: 'no-decorator',
  description: 'Blocks decorators (`@dec`).',
  create(ctx) {
    return {
      Decorator(node) {
        ctx.report(node, 'Decorators are not supported.', 'Remove the decorator and call the function explicitly on the value.');
      },
    };
  },
};
