import type { Dialect } from '../levels.js';
import type { ParsedSource } from '../ast/parse.js';
import { userLocation, WRAP_PREFIX } from '../ast/parse.js';
import { treeFacts } from '../ast/facts.js';
import type { Issue } from '../source.js';
import type { Span } from '../ast/nodes.js';
import type { NodeHandler, Rule, RuleContext } from './rule.js';
import { noAccessor } from './rules/no-accessor.js';
import { noAsyncFunction } from './rules/no-async-function.js';
import { noBigint } from './rules/no-bigint.js';
import { noBlockedIdentifier } from './rules/no-blocked-identifier.js';
import { noBlockedProperty } from './rules/no-blocked-property.js';
import { noClass } from './rules/no-class.js';
import { noDebugger } from './rules/no-debugger.js';
import { noDecorator } from './rules/no-decorator.js';
import { noDynamicImport } from './rules/no-dynamic-import.js';
import { noEval } from './rules/no-eval.js';
import { noForIn } from './rules/no-for-in.js';
import { noFunctionDeclaration } from './rules/no-function-declaration.js';
import { noFunctionExpression } from './rules/no-function-expression.js';
import { noGenerator } from './rules/no-generator.js';
import { noGlobalAssignment } from './rules/no-global-assignment.js';
import { noImportMeta } from './rules/no-import-meta.js';
import { noInfiniteLoop } from './rules/no-infinite-loop.js';
import { noLabel } from './rules/no-label.js';
import { noMetaProgramming } from './rules/no-meta-programming.js';
import { noNewTarget } from './rules/no-new-target.js';
import { noRegex } from './rules/no-regex.js';
import { noUnsafeRegex } from './rules/no-unsafe-regex.js';
import { noRedeclareProvided } from './rules/no-redeclare-provided.js';
import { noReservedPrefix } from './rules/no-reserved-prefix.js';
import { noThis } from './rules/no-this.js';
import { noThrow } from './rules/no-throw.js';
import { noWhile } from './rules/no-while.js';
import { noWith } from './rules/no-with.js';
import { staticToolName } from './rules/static-tool-name.js';
import { unknownGlobal } from './rules/unknown-global.js';
import { ScopeTracker } from './scope.js';
import { walkFlat } from '../ast/walk.js';

export type { Rule, RuleContext, RuleVisitor, NodeHandler } from './rule.js';

export interface ValidateOptions {
  dialect: Dialect;
  /** names provided per run: callTool, input, console (if the dialect allows), user globals */
  extraGlobals: readonly string[];
}

/** Every rule, each applied at every level; dialect-controlled rules turn themselves off. */
export const RULES: readonly Rule[] = [
  // Always blocked.
  noEval,
  noBlockedIdentifier,
  noWith,
  noDebugger,
  noDynamicImport,
  noImportMeta,
  noNewTarget,
  noBlockedProperty,
  noReservedPrefix,
  noThis,
  noGlobalAssignment,
  noRedeclareProvided,
  noMetaProgramming,
  noDecorator,
  noInfiniteLoop,
  staticToolName,
  unknownGlobal,
  // Dialect-controlled.
  noWhile,
  noForIn,
  noFunctionDeclaration,
  noFunctionExpression,
  noAsyncFunction,
  noGenerator,
  noClass,
  noAccessor,
  noRegex,
  noUnsafeRegex,
  noThrow,
  noLabel,
  noBigint,
];

/** At most this many issues are returned: the first ones by position. */
export const MAX_ISSUES = 100;

interface Found {
  start: number;
  end: number;
  ruleId: string;
  message: string;
  hint: string;
  suggestions?: readonly string[];
}

function compareFound(a: Found, b: Found): number {
  return a.start - b.start || a.end - b.end || (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0);
}

/**
 * Keeps the first MAX_ISSUES issues by position. Sorting and truncating whenever the buffer holds
 * twice the cap keeps the total cost linear however many violations a hostile script contains.
 */
class IssueBuffer {
  #items: Found[] = [];
  add(f: Found): void {
    this.#items.push(f);
    if (this.#items.length >= 2 * MAX_ISSUES) this.#trim();
  }
  #trim(): void {
    this.#items.sort(compareFound);
    if (this.#items.length > MAX_ISSUES) this.#items.length = MAX_ISSUES;
  }
  result(): Found[] {
    this.#trim();
    return this.#items;
  }
}

/** A visitor's selector, `'Type'` or `'Type:exit'`, read once per distinct selector. */
interface Selector {
  readonly type: string;
  readonly exit: boolean;
}
const selectors = new Map<string, Selector>();

function parseSelector(selector: string): Selector {
  let parsed = selectors.get(selector);
  if (parsed === undefined) {
    parsed = selector.endsWith(':exit') ? { type: selector.slice(0, -':exit'.length), exit: true } : { type: selector, exit: false };
    selectors.set(selector, parsed);
  }
  return parsed;
}

/**
 * The names a run may read, for the last names asked for: every check of a host's scripts asks with the
 * same ones. Compared by content, not by identity, so an array changed in place is never mistaken for
 * the one seen before. Rules only read the set (`ReadonlySet`), so it can be shared.
 */
let lastGlobals: { dialect: readonly string[]; extra: readonly string[]; set: ReadonlySet<string> } | undefined;

function globalsOf(options: ValidateOptions): ReadonlySet<string> {
  const last = lastGlobals;
  if (last !== undefined && sameNames(last.dialect, options.dialect.globals) && sameNames(last.extra, options.extraGlobals)) return last.set;
  const set: ReadonlySet<string> = new Set([...options.dialect.globals, ...options.extraGlobals]);
  lastGlobals = { dialect: [...options.dialect.globals], extra: [...options.extraGlobals], set };
  return set;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Layer 1: checks the parsed script against the dialect and returns every violation (capped at
 * MAX_ISSUES, sorted by position), located in the user's own source. Assumes `parsed.syntaxErrors`
 * is empty. One walk for everything, after the one that gathers the tree's facts (ast/facts.ts, shared with
 * the rewriter); both linear and iterative.
 */
export function validateAst(parsed: ParsedSource, options: ValidateOptions): Issue[] {
  const buffer = new IssueBuffer();
  // The wrapper function is ours; the user's statements hang off a synthetic root so that its name
  // and header are never checked.
  try {
    const facts = treeFacts(parsed);
    const { root } = facts;
    const scope = new ScopeTracker(root, facts.varNames);
    const allowedGlobals = globalsOf(options);
    const enter = new Map<string, NodeHandler[]>();
    const exit = new Map<string, NodeHandler[]>();
    for (const rule of RULES) {
      const ctx: RuleContext = {
        dialect: options.dialect,
        allowedGlobals,
        scope,
        report(span: Span, message: string, hint: string, suggestions?: readonly string[]) {
          buffer.add(suggestions === undefined || suggestions.length === 0 ? { start: span.start, end: span.end, ruleId: rule.id, message, hint } : { start: span.start, end: span.end, ruleId: rule.id, message, hint, suggestions });
        },
      };
      const visitor = rule.create(ctx);
      // `for...in` allocates nothing (Object.entries made an array per rule per run); own keys only, as
      // Object.entries read them, so an enumerable property added to Object.prototype is never a handler.
      for (const selector in visitor) {
        if (!Object.hasOwn(visitor, selector)) continue;
        const handler = visitor[selector];
        if (!handler) continue;
        const { type, exit: onExit } = parseSelector(selector);
        const map = onExit ? exit : enter;
        const list = map.get(type);
        if (list) list.push(handler);
        else map.set(type, [handler]);
      }
    }
    const anyEnter = enter.get('*') ?? [];
    const anyExit = exit.get('*') ?? [];
    // Indexed loops: these run for every node, and iterator objects would dominate the cost. The type
    // comes from the flat tree's list (see WalkHandlers) and serves the scope tracker and both lookups.
    walkFlat(facts.tree, {
      enter(node, parent, key, type) {
        scope.enter(node, parent, key, type);
        for (let h = 0; h < anyEnter.length; h++) (anyEnter[h] as NodeHandler)(node, parent, key);
        const typed = enter.get(type);
        if (typed) for (let h = 0; h < typed.length; h++) (typed[h] as NodeHandler)(node, parent, key);
      },
      leave(node, parent, key, type) {
        const typed = exit.get(type);
        if (typed) for (let h = 0; h < typed.length; h++) (typed[h] as NodeHandler)(node, parent, key);
        for (let h = 0; h < anyExit.length; h++) (anyExit[h] as NodeHandler)(node, parent, key);
        scope.leave(node);
      },
    });
  } catch {
    // A bug here must not let code through unchecked: fail closed with an issue, never throw.
    buffer.add({
      start: WRAP_PREFIX.length,
      end: WRAP_PREFIX.length,
      ruleId: 'validator-error',
      message: 'The validator could not check this code.',
      hint: 'Simplify the code and try again.',
    });
  }
  return buffer.result().map((f) => {
    const from = userLocation(parsed, f.start);
    const to = userLocation(parsed, f.end);
    const issue: Issue = { ruleId: f.ruleId, message: f.message, hint: f.hint, line: from.line, column: from.column, endLine: to.line, endColumn: to.column };
    if (f.suggestions !== undefined) issue.suggestions = [...f.suggestions];
    return issue;
  });
}
