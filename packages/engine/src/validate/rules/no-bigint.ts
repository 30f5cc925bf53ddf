import { quote } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noBigint: Rule = {
  id: 'no-bigint',
  description: 'BigInt literals, unless the dialect allows them (bigint).',
  create(ctx) {
    if (ctx.dialect.bigint) return {};
    return {
      Literal(node) {
        if (node.bigint === undefined || node.bigint === null) return;
        ctx.report(
          node,
          `BigInt literal ${quote(typeof node.raw === 'string' ? node.raw : 'n')} is not allowed at this security level.`,
          'Use a regular number (drop the `n` suffix), or a string if the value exceeds Number.MAX_SAFE_INTEGER.',
        );
      },
    };
  },
};
