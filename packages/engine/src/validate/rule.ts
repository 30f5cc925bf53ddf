import type { Dialect } from '../levels.js';
import type { Node, Span } from '../ast/nodes.js';
import type { ScopeView } from './scope.js';

/** Everything a rule may use while the tree is walked. One context per rule per validation run. */
export interface RuleContext {
  readonly dialect: Dialect;
  /** `dialect.globals` plus the per-run names (`callTool`, `input`, `console`, user globals). */
  readonly allowedGlobals: ReadonlySet<string>;
  /** Scope state at the node being visited. */
  readonly scope: ScopeView;
  /** Reports a violation over `span` (offsets in the wrapped text) under this rule's id; `suggestions` are names the writer likely meant. */
  report(span: Span, message: string, hint: string, suggestions?: readonly string[]): void;
}

/**
 * Called with the node, its parent and the parent's key holding it (`callee`, `params`, ...).
 * `parent` is null only for the root.
 */
export type NodeHandler = (node: Node, parent: Node | null, key: string) => void;

/**
 * Handlers keyed by node type (`'WhileStatement'`), by `'Type:exit'` for the way back up, and by
 * `'*'` / `'*:exit'` for every node. On entry `'*'` runs before typed handlers, on exit after.
 */
export type RuleVisitor = { readonly [selector: string]: NodeHandler | undefined };

export interface Rule {
  /** Kebab-case id reported as `Issue.ruleId`. */
  readonly id: string;
  /** One line on what the rule blocks and why. */
  readonly description: string;
  /** Builds fresh per-run state; return an empty visitor when the dialect makes the rule moot. */
  create(ctx: RuleContext): RuleVisitor;
}
