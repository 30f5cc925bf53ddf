import { child, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noNewTarget: Rule = {
  id: 'no-new-target',
  description: 'Blocks `new.target`.',
  create(ctx) {
    return {
      MetaProperty(node) {
        const meta = child(node, 'meta');
        if (!meta || str(meta, 'name') !== 'new') return;
        ctx.report(
          node,
          '`new.target` is not allowed.',
          'Remove `new.target`; call functions normally and pass options as arguments.',
        );
      },
    };
  },
};
