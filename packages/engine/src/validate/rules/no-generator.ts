import type { Node } from '../../ast/nodes.js';
import { flag, functionLabel } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

const HINT = 'Collect the values in an array and return or loop over it instead of yielding them.';

export const noGenerator: Rule = {
  id: 'no-generator',
  description: 'Generator functions and `yield`, unless the dialect allows them (generators).',
  create(ctx) {
    if (ctx.dialect.generators) return {};
    const check = (node: Node): void => {
      if (!flag(node, 'generator')) return;
      ctx.report(node, `Generator function ${functionLabel(node)} is not allowed at this security level.`, HINT);
    };
    return {
      FunctionDeclaration: check,
      FunctionExpression: check,
      YieldExpression(node) {
        ctx.report(node, '`yield` is not allowed at this security level.', HINT);
      },
    };
  },
};
