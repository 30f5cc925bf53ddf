import type { Rule } from '../rule.js';

/** `with` makes every name inside it resolve against an object the script controls. */
export const noWith: Rule = {
  id: 'no-with',
  description: 'Blocks `with` statements.',
  create(ctx) {
    return {
      WithStatement(node) {
        ctx.report(node, '`with` statements are not allowed.', 'Access the properties explicitly, e.g. `const { a, b } = obj;`.');
      },
    };
  },
};
