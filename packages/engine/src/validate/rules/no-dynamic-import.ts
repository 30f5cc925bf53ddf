import type { Rule } from '../rule.js';

/** `import()` (including `import.source()` / `import.defer()`) would load host modules. */
export const noDynamicImport: Rule = {
  id: 'no-dynamic-import',
  description: 'Blocks dynamic `import()`.',
  create(ctx) {
    return {
      ImportExpression(node) {
        ctx.report(
          node,
          'Dynamic `import()` is not allowed: scripts cannot load modules.',
          "Use `await callTool('tool:name', { ... })` for host capabilities; write helpers inline.",
        );
      },
    };
  },
};
