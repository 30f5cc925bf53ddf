import type { Node } from '../../ast/nodes.js';
import { child, children, identifierName, quote, staticKey } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

/** `Object` methods that define, inspect or swap property descriptors and prototypes. */
const OBJECT_META = new Set([
  'defineProperty',
  'defineProperties',
  'setPrototypeOf',
  'getPrototypeOf',
  'getOwnPropertyDescriptor',
  'getOwnPropertyDescriptors',
]);

const HINT = 'Build plain objects instead: `{ ...obj, key: value }`, `Object.assign({}, a, b)`, `Object.entries(obj)`.';

/**
 * Descriptors and prototypes are how a script would get at accessors and constructors the other
 * rules block by name. Aliases (`const O = Object; O.defineProperty`) are left to the runtime.
 */
export const noMetaProgramming: Rule = {
  id: 'no-meta-programming',
  description:
    'Blocks Object.defineProperty/-ies, set/getPrototypeOf, getOwnPropertyDescriptor(s), ' +
    'Object.create with descriptors, and Reflect unless the dialect provides it.',
  create(ctx) {
    const isGlobalObject = (n: Node | null): boolean => identifierName(n) === 'Object' && !ctx.scope.isBound('Object');
    const reflectAllowed = ctx.allowedGlobals.has('Reflect');

    /** `const { defineProperty } = Object` reaches the same functions. */
    const checkDestructuring = (pattern: Node | null, source: Node | null): void => {
      if (!pattern || pattern.type !== 'ObjectPattern' || !isGlobalObject(source)) return;
      for (const p of children(pattern, 'properties')) {
        if (!p || p.type !== 'Property') continue;
        const name = staticKey(p);
        if (name !== undefined && (OBJECT_META.has(name) || name === 'create')) {
          ctx.report(p, `Destructuring \`Object.${name}\` is not allowed.`, HINT);
        }
      }
    };

    return {
      MemberExpression(node, parent, key) {
        if (!isGlobalObject(child(node, 'object'))) return;
        const name = staticKey(node);
        if (name === undefined) return;
        if (OBJECT_META.has(name)) {
          ctx.report(node, `\`Object.${name}\` is not allowed.`, HINT);
          return;
        }
        if (name !== 'create') return;
        const call = parent !== null && parent.type === 'CallExpression' && key === 'callee' ? parent : null;
        if (!call) {
          ctx.report(
            node,
            '`Object.create` may only be called directly.',
            'Call `Object.create(proto)` in place, or use an object literal.',
          );
          return;
        }
        const args = children(call, 'arguments');
        if (args.length >= 2 || args.some((a) => a !== null && a.type === 'SpreadElement')) {
          ctx.report(
            call,
            '`Object.create` with a property-descriptor argument is not allowed.',
            'Use `Object.create(proto)` and plain assignments, or an object literal.',
          );
        }
      },
      Identifier(node, parent, key) {
        if (reflectAllowed || identifierName(node) !== 'Reflect' || ctx.scope.roleOf(node, parent, key) !== 'read') return;
        if (ctx.scope.isBound('Reflect')) return;
        const member = parent !== null && parent.type === 'MemberExpression' && key === 'object' ? parent : null;
        const method = member ? staticKey(member) : undefined;
        ctx.report(
          member ?? node,
          `${method !== undefined ? quote(`Reflect.${method}`) : '`Reflect`'} is not available at this security level.`,
          'Use ordinary property access and calls, e.g. `obj[key]`, `fn(...args)`, `key in obj`.',
        );
      },
      VariableDeclarator(node) {
        checkDestructuring(child(node, 'id'), child(node, 'init'));
      },
      AssignmentExpression(node) {
        checkDestructuring(child(node, 'left'), child(node, 'right'));
      },
    };
  },
};
