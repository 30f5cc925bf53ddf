import { child, quote, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noLabel: Rule = {
  id: 'no-label',
  description: 'Labeled statements, unless the dialect allows them (labels).',
  create(ctx) {
    if (ctx.dialect.labels) return {};
    return {
      LabeledStatement(node) {
        const label = child(node, 'label');
        const name = label ? str(label, 'name') : undefined;
        ctx.report(
          node,
          `Label ${quote(name ?? '?')} is not allowed at this security level.`,
          'Remove the label; leave nested loops with a flag variable checked in the loop condition, or with `return`.',
        );
      },
    };
  },
};
