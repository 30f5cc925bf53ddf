import type { ParsedSource } from '../ast/parse.js';
import { userLocation } from '../ast/parse.js';
import type { Node } from '../ast/nodes.js';
import { child, children, identifierName, quote, staticString } from '../ast/nodes.js';
import { walk } from '../ast/walk.js';
import type { Issue } from '../source.js';
import { MAX_SUGGESTED_NAMES, closeNames } from '../suggest.js';
import { MAX_ISSUES } from './index.js';

/**
 * Calls of tools that a run with `toolNames` would not have: `callTool('orders:lst', ...)` when the
 * user's tools are `orders:list` and `orders:get`. Not a validation error (the call fails at run time
 * with `UNKNOWN_TOOL`, which a script may catch), but what a writer wants to see before running: the
 * first MAX_SUGGESTED_NAMES of them name the closest of `toolNames`, and only of those, so one user's
 * check never shows another's tools.
 * Only literal names are checked; a name built at run time is the run's business. Assumes the code parsed.
 */
export function unknownToolCalls(parsed: ParsedSource, toolNames: readonly string[]): Issue[] {
  const known = new Set(toolNames);
  const issues: Issue[] = [];
  let suggested = 0;
  for (const statement of parsed.body) {
    walk(statement, {
      enter(node: Node) {
        if (issues.length >= MAX_ISSUES) return false;
        if (node.type !== 'CallExpression' || identifierName(child(node, 'callee')) !== 'callTool') return;
        const first = children(node, 'arguments')[0];
        const name = first ? staticString(first) : undefined;
        if (first == null || name === undefined || known.has(name)) return;
        // Only the first names get suggestions: each is a scan of every tool name.
        const close = suggested < MAX_SUGGESTED_NAMES ? closeNames(name, toolNames, { partial: true }) : [];
        suggested++;
        const from = userLocation(parsed, first.start);
        const to = userLocation(parsed, first.end);
        const issue: Issue = {
          ruleId: 'unknown-tool',
          message: `There is no tool ${quote(name)} for this user: the call would fail with UNKNOWN_TOOL.`,
          hint: close.length > 0 ? `Did you mean ${close.map(quote).join(' or ')}?` : 'Call one of the tools this run has (`describe()` lists them).',
          line: from.line,
          column: from.column,
          endLine: to.line,
          endColumn: to.column,
        };
        if (close.length > 0) issue.suggestions = close;
        issues.push(issue);
      },
    });
  }
  return issues;
}
