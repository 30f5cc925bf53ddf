import type { Rule } from '../rule.js';

export const noRegex: Rule = {
  id: 'no-regex',
  description: 'Regular expression literals, unless the dialect allows them (regexLiterals).',
  create(ctx) {
    if (ctx.dialect.regexLiterals) return {};
    return {
      Literal(node) {
        if (node.regex === undefined || node.regex === null) return;
        ctx.report(
          node,
          'Regular expression literals are not allowed at this security level.',
          'Use string methods instead: `includes`, `startsWith`, `endsWith`, `indexOf`, `split`, `replaceAll`, `toLowerCase`.',
        );
      },
    };
  },
};
