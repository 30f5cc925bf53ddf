import { analyzeRegex } from '../../scan/index.js';
import { str } from '../../ast/nodes.js';
import type { Node } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

const HINT = 'Rewrite the pattern without a repeated group that itself repeats (e.g. `(a+)+`) or overlapping alternatives (e.g. `(a|ab)*`); often a string method or a simpler pattern does the job.';

/**
 * Patterns with catastrophic backtracking, found in the parsed tree: regex literals (the pre-scan's
 * lexer can misjudge `/` in rare code) and `RegExp('...')` / `new RegExp('...')` with a literal pattern,
 * which the pre-scan cannot see. Dynamic patterns are left to the run's deadline.
 */
export const noUnsafeRegex: Rule = {
  id: 'no-unsafe-regex',
  description: 'Regex patterns with catastrophic backtracking, as literals or literal RegExp arguments.',
  create(ctx) {
    const check = (node: Node, pattern: string, flags: string | undefined) => {
      const r = analyzeRegex(pattern, flags);
      if (!r.safe) ctx.report(node, `This regular expression can take exponential time${r.reason ? `: ${r.reason}` : ''}.`, HINT);
    };
    const onRegExpCall = (node: Node) => {
      const callee = node.callee as Node | undefined;
      if (!callee || callee.type !== 'Identifier' || str(callee, 'name') !== 'RegExp' || ctx.scope.isBound('RegExp')) return;
      const args = (node.arguments as Node[] | undefined) ?? [];
      const pattern = args[0];
      if (!pattern || pattern.type !== 'Literal' || typeof pattern.value !== 'string') return;
      const flags = args[1] && args[1].type === 'Literal' && typeof args[1].value === 'string' ? args[1].value : undefined;
      check(pattern, pattern.value, flags);
    };
    return {
      Literal(node) {
        const regex = node.regex as { pattern?: unknown; flags?: unknown } | null | undefined;
        if (!regex || typeof regex.pattern !== 'string') return;
        check(node, regex.pattern, typeof regex.flags === 'string' ? regex.flags : undefined);
      },
      CallExpression: onRegExpCall,
      NewExpression: onRegExpCall,
    };
  },
};
