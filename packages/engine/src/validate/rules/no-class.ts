import type { Node } from '../../ast/nodes.js';
import { child, identifierName, quote } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noClass: Rule = {
  id: 'no-class',
  description: 'Class declarations and expressions, unless the dialect allows them (classes).',
  create(ctx) {
    if (ctx.dialect.classes) return {};
    const check = (node: Node): void => {
      const name = identifierName(child(node, 'id'));
      ctx.report(
        node,
        `Class ${name !== undefined ? quote(name) : '(anonymous)'} is not allowed at this security level.`,
        'Use plain objects for data and arrow functions for behaviour, e.g. `const makeItem = (x) => ({ ...x })`.',
      );
    };
    return { ClassDeclaration: check, ClassExpression: check };
  },
};
