import type { Node } from './nodes.js';
import { isNode } from './nodes.js';
import { oxcVisitorKeys } from './oxc.js';

/**
 * oxc's node type names, each the one interned copy of its text. On Node 20 the tree crosses from Rust
 * as JSON, and `JSON.parse` interns no string value longer than ten characters: every `MemberExpression`
 * is a string of its own, so every later `node.type === '...'` test and every lookup by type compares
 * characters. `flatten` puts the interned copy in each node it lists (the same text: nothing a pass reads
 * changes), after which those tests compare pointers.
 */
const TYPE_NAMES: ReadonlyMap<string, string> = new Map(Object.keys(oxcVisitorKeys()).map((t) => [t, t]));

/**
 * `type` is `node.type`, read from the flat tree's list (an array read, where `node.type` on nodes of many
 * shapes is a megamorphic load): a pass that tests the type should take it from here.
 */
export interface WalkHandlers {
  /** Called before the children of `node`. Returning false skips them (and the matching `leave`). */
  enter(node: Node, parent: Node | null, key: string, type: string): boolean | void;
  /** Called after all children of `node`. */
  leave?(node: Node, parent: Node | null, key: string, type: string): void;
}

/**
 * Depth-first walk over every node of an ESTree-shaped tree, in source order for ordinary nodes.
 * Iterative with an explicit stack, so nesting depth costs heap, not call stack: a script nested
 * thousands of levels deep cannot overflow it. Each node is entered and left exactly once.
 */
export function walk(root: Node, handlers: WalkHandlers): void {
  walkFlat(flatten(root), handlers);
}

/**
 * A tree's nodes in the order `walk` enters them, with what `walk` hands its handlers: enumerating a
 * node's children (a `for...in` and a property load per key, on nodes of many shapes) is most of what a
 * walk costs, so a script's tree is enumerated once and each pass (facts, validation, rewriting) replays
 * the list with `walkFlat`.
 */
export interface FlatTree {
  readonly nodes: readonly Node[];
  readonly parents: readonly (Node | null)[];
  readonly keys: readonly string[];
  /** `types[i]`: node i's type name, the interned copy: an array read, where `node.type` on nodes of many shapes is a megamorphic load. */
  readonly types: readonly string[];
  /** `ends[i]`: the index just past node i's subtree (its last descendant's index plus one). */
  readonly ends: readonly number[];
}

/**
 * Enumerates `root`'s tree: every object under a node with a string `type` is a child (whatever the key,
 * so a field this code has never heard of is still walked), in source order.
 */
export function flatten(root: Node): FlatTree {
  const nodes: Node[] = [];
  const parents: (Node | null)[] = [];
  const keys: string[] = [];
  const types: string[] = [];
  const ends: number[] = [];
  // To visit, top last, with the key that holds each. A null node is the marker that closes the subtree
  // of the innermost open node.
  const todo: (Node | null)[] = [root];
  const todoKeys: string[] = [''];
  /**
   * The nodes whose subtree is being listed, innermost last. A node's children lie on `todo` right above
   * its marker, and every subtree taken before one of them is closed first, so the innermost open node
   * is the parent of whatever is taken next: no parent is kept per entry.
   */
  const open: number[] = [];
  while (todo.length > 0) {
    const node = todo.pop() as Node | null;
    const key = todoKeys.pop() as string;
    if (node === null) {
      ends[open.pop() as number] = nodes.length;
      continue;
    }
    const index = nodes.length;
    let type = node.type;
    // JSON.parse interns the short names already (see TYPE_NAMES): only the longer ones are looked up.
    if (type.length > 10) {
      const interned = TYPE_NAMES.get(type);
      if (interned !== undefined) node.type = type = interned;
    }
    nodes.push(node);
    parents.push(open.length > 0 ? (nodes[open[open.length - 1] as number] as Node) : null);
    keys.push(key);
    types.push(type);
    ends.push(index + 1);
    open.push(index);
    todo.push(null);
    todoKeys.push('');
    // Children pushed in source order, then that segment reversed so the first child is taken first.
    // `for...in` over an AST node uses V8's enum cache and allocates nothing.
    const first = todo.length;
    for (const k in node) {
      const v = node[k];
      // A back-link to the parent (some ESTree producers add one) would make the walk loop forever.
      if (v === null || typeof v !== 'object' || k === 'parent') continue;
      if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const item: unknown = v[j];
          if (isNode(item)) {
            todo.push(item);
            todoKeys.push(k);
          }
        }
      } else if (isNode(v)) {
        todo.push(v);
        todoKeys.push(k);
      }
    }
    for (let i = first, j = todo.length - 1; i < j; i++, j--) {
      const n = todo[i] as Node;
      todo[i] = todo[j] as Node;
      todo[j] = n;
      const k = todoKeys[i] as string;
      todoKeys[i] = todoKeys[j] as string;
      todoKeys[j] = k;
    }
  }
  return { nodes, parents, keys, types, ends };
}

/** `walk` over a flattened tree: the same calls in the same order, without enumerating any node again. */
export function walkFlat(tree: FlatTree, handlers: WalkHandlers): void {
  const { nodes, parents, keys, types, ends } = tree;
  // Entered nodes waiting for their `leave`, innermost last.
  const open: number[] = [];
  const count = nodes.length;
  let i = 0;
  for (;;) {
    while (open.length > 0 && (ends[open[open.length - 1] as number] as number) <= i) {
      const j = open.pop() as number;
      handlers.leave?.(nodes[j] as Node, parents[j] as Node | null, keys[j] as string, types[j] as string);
    }
    if (i >= count) return;
    if (handlers.enter(nodes[i] as Node, parents[i] as Node | null, keys[i] as string, types[i] as string) === false) {
      i = ends[i] as number;
      continue;
    }
    open.push(i);
    i++;
  }
}
