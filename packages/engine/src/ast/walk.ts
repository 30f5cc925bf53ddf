import type { Node } from './nodes.js';
import { isNode } from './nodes.js';

export interface WalkHandlers {
  /** Called before the children of `node`. Returning false skips them (and the matching `leave`). */
  enter(node: Node, parent: Node | null, key: string): boolean | void;
  /** Called after all children of `node`. */
  leave?(node: Node, parent: Node | null, key: string): void;
}


/**
 * Depth-first walk over every node of an ESTree-shaped tree, in source order for ordinary nodes.
 * Iterative with an explicit stack, so nesting depth costs heap, not call stack: a script nested
 * thousands of levels deep cannot overflow it. Each node is entered and left exactly once.
 */
export function walk(root: Node, handlers: WalkHandlers): void {
  const nodes: Node[] = [root];
  const parents: (Node | null)[] = [null];
  const keys: string[] = [''];
  // 0 = not entered yet, 1 = children pushed, waiting for leave.
  const states: number[] = [0];

  while (nodes.length > 0) {
    const top = nodes.length - 1;
    const node = nodes[top] as Node;
    const parent = parents[top] as Node | null;
    const key = keys[top] as string;
    if (states[top] === 1) {
      nodes.pop();
      parents.pop();
      keys.pop();
      states.pop();
      handlers.leave?.(node, parent, key);
      continue;
    }
    if (handlers.enter(node, parent, key) === false) {
      nodes.pop();
      parents.pop();
      keys.pop();
      states.pop();
      continue;
    }
    states[top] = 1;
    // Children are pushed in source order, then that segment of the stack is reversed so the first
    // child is entered first. `for...in` over an AST node uses V8's enum cache and allocates
    // nothing, which matters since this runs once per node.
    const first = nodes.length;
    for (const k in node) {
      const v = node[k];
      // A back-link to the parent (some ESTree producers add one) would make the walk loop forever.
      if (v === null || typeof v !== 'object' || k === 'parent') continue;
      if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const item: unknown = v[j];
          if (isNode(item)) {
            nodes.push(item);
            parents.push(node);
            keys.push(k);
            states.push(0);
          }
        }
      } else if (isNode(v)) {
        nodes.push(v);
        parents.push(node);
        keys.push(k);
        states.push(0);
      }
    }
    for (let i = first, j = nodes.length - 1; i < j; i++, j--) {
      const n = nodes[i] as Node;
      nodes[i] = nodes[j] as Node;
      nodes[j] = n;
      const k = keys[i] as string;
      keys[i] = keys[j] as string;
      keys[j] = k;
      // parents and states are identical across the segment: nothing to swap.
    }
  }
}
