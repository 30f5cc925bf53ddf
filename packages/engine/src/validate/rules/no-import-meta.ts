import { child, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

export const noImportMeta: Rule = {
  id: 'no-import-meta',
  description: 'Blocks `import.meta`.',
  create(ctx) {
    return {
      MetaProperty(node) {
        const meta = child(node, 'meta');
        if (!meta || str(meta, 'name') !== 'import') return;
        ctx.report(
          node,
          '`import.meta` is not available: scripts are not modules.',
          'Remove `import.meta`; pass needed values through `input`.',
        );
      },
    };
  },
};
