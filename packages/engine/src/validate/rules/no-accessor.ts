import type { Node } from '../../ast/nodes.js';
import { quote, staticKey, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

const HINT = 'Use a plain data property, or an arrow function property such as `total: () => a + b` called explicitly.';

/** Getters and setters run code on a plain property read or write, which hides calls from the reader. */
export const noAccessor: Rule = {
  id: 'no-accessor',
  description: 'Getters, setters and `accessor` fields, unless the dialect allows them (accessors).',
  create(ctx) {
    if (ctx.dialect.accessors) return {};
    const check = (node: Node): void => {
      const kind = str(node, 'kind');
      if (kind !== 'get' && kind !== 'set') return;
      const name = staticKey(node);
      const what = kind === 'get' ? 'Getter' : 'Setter';
      ctx.report(node, `${what} ${name !== undefined ? quote(name) : '(computed name)'} is not allowed at this security level.`, HINT);
    };
    return {
      Property: check,
      MethodDefinition: check,
      AccessorProperty(node) {
        const name = staticKey(node);
        const label = name !== undefined ? quote(name) : '(computed name)';
        ctx.report(node, `Accessor field ${label} is not allowed at this security level.`, HINT);
      },
    };
  },
};
