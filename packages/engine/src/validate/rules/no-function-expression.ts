import { functionLabel, quote, staticKey, str } from '../../ast/nodes.js';
import type { Node } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

/**
 * `function () {}` expressions and object/class methods. Arrow functions stay allowed: they are the
 * callbacks of array methods. Accessors are `no-accessor`'s, and methods of a class the dialect
 * forbids anyway are left to `no-class`, so one mistake gives one report.
 */
export const noFunctionExpression: Rule = {
  id: 'no-function-expression',
  description: 'Function expressions and object/class methods, unless the dialect allows them (functionExpressions).',
  create(ctx) {
    if (ctx.dialect.functionExpressions) return {};
    const reportExpression = (node: Node): void => {
      ctx.report(
        node,
        `Function expression ${functionLabel(node)} is not allowed at this security level.`,
        'Use an arrow function instead: `(x) => { ... }`.',
      );
    };
    return {
      FunctionExpression(node, parent, key) {
        if (parent && key === 'value' && (parent.type === 'Property' || parent.type === 'MethodDefinition')) {
          const kind = str(parent, 'kind');
          if (kind === 'get' || kind === 'set') return;
          if (parent.type === 'MethodDefinition' && !ctx.dialect.classes) return;
          if (parent.type === 'Property' && parent.method !== true) {
            reportExpression(node);
            return;
          }
          const name = staticKey(parent);
          // Only plain identifiers are echoed into the suggested code; other keys would need quoting.
          const asKey = name !== undefined && /^[A-Za-z_$][\w$]{0,40}$/.test(name) ? name : 'key';
          ctx.report(
            parent,
            `Method ${name !== undefined ? quote(name) : '(computed name)'} is not allowed at this security level.`,
            `Use a property holding an arrow function: \`${asKey}: (x) => { ... }\`.`,
          );
          return;
        }
        reportExpression(node);
      },
    };
  },
};
