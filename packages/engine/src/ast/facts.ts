import type { ParsedSource } from './parse.js';
import { WRAP_PREFIX } from './parse.js';
import type { Node } from './nodes.js';
import { ROOT_TYPE, children, child, isFunctionType, isLoopType, patternNames, str } from './nodes.js';
import type { FlatTree } from './walk.js';
import { flatten } from './walk.js';

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

const factsOf = new WeakMap<ParsedSource, TreeFacts>();

/** The facts of a parsed script (which must have parsed without errors), gathered once per parse. */
export function treeFacts(parsed: ParsedSource): TreeFacts {
  const known = factsOf.get(parsed);
  if (known) return known;
  const root: Node = { type: ROOT_TYPE, body: parsed.body, start: WRAP_PREFIX.length, end: WRAP_PREFIX.length + parsed.code.length };
  const varNames = new Map<Node, string[]>();
  const weights = new Map<Node, number>();
  const tree = flatten(root);
  // One pass over the list, in the order `walk` enters the nodes: a node's subtree is the list from it
  // up to `ends` of it, so what is open (var scopes, weighed bodies) closes once the pass gets there,
  // without a call per node.
  const { nodes, types, ends } = tree;
  /** Open var scopes, innermost last: their names, and where each ends. */
  const scopes: string[][] = [];
  const scopeEnds: number[] = [];
  /** Open loops and functions, innermost last: their index, and the allocating expressions counted so far. */
  const bodies: number[] = [];
  const counts: number[] = [];
  const suspending = new Set<Node>();
  const count = nodes.length;
  for (let i = 0; ; i++) {
    while (scopeEnds.length > 0 && (scopeEnds[scopeEnds.length - 1] as number) <= i) {
      scopeEnds.pop();
      scopes.pop();
    }
    // A loop's count goes on into the body around it; a function's stays its own.
    while (bodies.length > 0 && (ends[bodies[bodies.length - 1] as number] as number) <= i) {
      const b = bodies.pop() as number;
      const own = counts.pop() as number;
      weights.set(nodes[b] as Node, own);
      if (counts.length > 0 && !isFunctionType(types[b] as string)) counts[counts.length - 1] = (counts[counts.length - 1] as number) + own;
    }
    if (i >= count) break;
    const node = nodes[i] as Node;
    const type = types[i] as string;
    const fn = isFunctionType(type);
    if (i === 0 || fn || type === 'StaticBlock') {
      const names: string[] = [];
      varNames.set(node, names);
      scopes.push(names);
      scopeEnds.push(ends[i] as number);
    } else if (type === 'VariableDeclaration' && str(node, 'kind') === 'var') {
      const target = scopes[scopes.length - 1];
      if (target) for (const d of children(node, 'declarations')) if (d) patternNames(child(d, 'id'), target);
    }
    if (fn || isLoopType(type)) {
      bodies.push(i);
      counts.push(0);
    } else if (counts.length > 0 && (ALLOCATING.has(type) || (type === 'BinaryExpression' && node.operator === '+'))) {
      counts[counts.length - 1] = (counts[counts.length - 1] as number) + 1;
    }
    // Every loop open around a suspension point, out to the function it is in, may suspend (a `for
    // await` is one itself, at its head).
    if (type === 'AwaitExpression' || type === 'YieldExpression' || (type === 'ForOfStatement' && node.await === true)) {
      for (let b = bodies.length - 1; b >= 0; b--) {
        const at = bodies[b] as number;
        if (isFunctionType(types[at] as string)) break;
        suspending.add(nodes[at] as Node);
      }
    }
  }
  const facts = { root, varNames, weights, suspending, tree };
  factsOf.set(parsed, facts);
  return facts;
}
