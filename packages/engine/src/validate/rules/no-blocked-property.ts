import { BLOCKED_PROPERTIES } from '../../levels.js';
import type { Node } from '../../ast/nodes.js';
import { quote, staticKey } from '../../ast/nodes.js';
import type { Rule, RuleContext } from '../rule.js';

const BLOCKED: ReadonlySet<string> = new Set(BLOCKED_PROPERTIES);
const HINT =
  'Read only data properties. Prototypes and constructors are off limits; ' +
  'use `Object.keys/values/entries`, spread, or `Array.isArray` instead.';

function report(ctx: RuleContext, node: Node, name: string, what: string): void {
  ctx.report(node, `${what} ${quote(name)} is blocked.`, HINT);
}

/**
 * Property names that reach constructors or rewrite prototypes (BLOCKED_PROPERTIES), when the name is known statically:
 * `x.constructor`, `x['__proto__']`, `` x[`constructor`] ``, `x['con' + 'structor']`, the same keys in
 * destructuring patterns, and `__proto__` as an object-literal key (it sets the prototype).
 * Keys computed at run time are the runtime's job.
 */
export const noBlockedProperty: Rule = {
  id: 'no-blocked-property',
  description: 'Blocks access to constructor, __proto__ and the legacy accessor methods.',
  create(ctx) {
    return {
      MemberExpression(node) {
        const name = staticKey(node);
        if (name !== undefined && BLOCKED.has(name)) report(ctx, node, name, 'Access to property');
      },
      Property(node, parent) {
        const name = staticKey(node);
        if (name === undefined || !BLOCKED.has(name) || !parent) return;
        if (parent.type === 'ObjectPattern') {
          report(ctx, node, name, 'Destructuring property');
        } else if (parent.type === 'ObjectExpression' && name === '__proto__') {
          // Only `__proto__` has special meaning as a literal key; `{ caller: 'x' }` is plain data.
          report(ctx, node, name, 'Object key');
        }
      },
    };
  },
};
