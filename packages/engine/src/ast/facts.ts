import type { ParsedSource } from './parse.js';
import { WRAP_PREFIX } from './parse.js';
import type { Node } from './nodes.js';
import { ROOT_TYPE, children, child, isFunction, isLoop, patternNames, str } from './nodes.js';
import type { FlatTree } from './walk.js';
import { flatten, walkFlat } from './walk.js';

/**
 * What the validator and the rewriter both need to know about a tree before their own walk, gathered in
 * one walk: every pass over the tree costs about as much as the rules themselves on a small script, and
 * every script an LLM sends is new, so nothing of this is ever cached across scripts.
 */
export interface TreeFacts {
  /** The synthetic root over the user's statements (the wrapper function is ours and never checked). */
  root: Node;
  /** `var` names of each var scope (functions, static blocks, the root): `var` hoists, so a scope's names are known only after its body. */
  varNames: Map<Node, string[]>;
  /**
   * The weight of every loop and function: how many expressions that may allocate run per iteration or
   * call (nested loops included, nested functions not: they have guards of their own).
   */
  weights: Map<Node, number>;
  /**
   * Loops that may suspend between two turns: a `for await`, or an `await` or `yield` in the loop's head
   * or body outside nested functions. The others run each of their visits to the end in one stretch.
   */
  suspending: Set<Node>;
  /** `root`'s tree enumerated once: the validator and the rewriter walk it with `walkFlat`. */
  tree: FlatTree;
}

/** Expressions that may allocate or grow a structure: the unit of a body's weight. */
const ALLOCATING: ReadonlySet<string> = new Set(['CallExpression', 'NewExpression', 'ObjectExpression', 'ArrayExpression', 'AssignmentExpression', 'TemplateLiteral', 'TaggedTemplateExpression', 'SpreadElement']);

function isVarScope(node: Node): boolean {
  return isFunction(node) || node.type === 'StaticBlock';
}

const factsOf = new WeakMap<ParsedSource, TreeFacts>();

/** The facts of a parsed script (which must have parsed without errors), gathered once per parse. */
export function treeFacts(parsed: ParsedSource): TreeFacts {
  const known = factsOf.get(parsed);
  if (known) return known;
  const root: Node = { type: ROOT_TYPE, body: parsed.body, start: WRAP_PREFIX.length, end: WRAP_PREFIX.length + parsed.code.length };
  const varNames = new Map<Node, string[]>();
  const weights = new Map<Node, number>();
  const scopes: string[][] = [];
  const work: number[] = [];
  const suspending = new Set<Node>();
  /** Per open node: whether its subtree suspends outside nested functions. */
  const suspends: boolean[] = [];
  const tree = flatten(root);
  walkFlat(tree, {
    enter(node) {
      work.push(0);
      suspends.push(false);
      if (node === root || isVarScope(node)) {
        const names: string[] = [];
        varNames.set(node, names);
        scopes.push(names);
      } else if (node.type === 'VariableDeclaration' && str(node, 'kind') === 'var') {
        const target = scopes[scopes.length - 1];
        if (target) for (const d of children(node, 'declarations')) if (d) patternNames(child(d, 'id'), target);
      }
    },
    leave(node) {
      if (node === root || isVarScope(node)) scopes.pop();
      const own = (work.pop() as number) + (ALLOCATING.has(node.type) || (node.type === 'BinaryExpression' && node.operator === '+') ? 1 : 0);
      const fn = isFunction(node);
      if (fn || isLoop(node)) weights.set(node, own);
      if (work.length > 0 && !fn) work[work.length - 1] = (work[work.length - 1] as number) + own;
      const suspended = (suspends.pop() as boolean) || node.type === 'AwaitExpression' || node.type === 'YieldExpression' || (node.type === 'ForOfStatement' && node.await === true);
      if (suspended && !fn) {
        if (isLoop(node)) suspending.add(node);
        if (suspends.length > 0) suspends[suspends.length - 1] = true;
      }
    },
  });
  const facts = { root, varNames, weights, suspending, tree };
  factsOf.set(parsed, facts);
  return facts;
}
