import type { Node } from '../../ast/nodes.js';
import { child, identifierName, isFunctionType, isLoopType } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

/** Whether an expression is truthy without running anything: literals, `!0`, `{}`, `[]`, functions. */
function constantTruthiness(expr: Node): boolean | undefined {
  let negations = 0;
  let n: Node | null = expr;
  // Iterative so that `!!!!...x` cannot overflow the stack.
  while (n && n.type === 'UnaryExpression' && n.operator === '!') {
    negations++;
    n = child(n, 'argument');
  }
  if (!n) return undefined;
  let truthy: boolean;
  switch (n.type) {
    case 'Literal':
      if (n.regex !== undefined && n.regex !== null) truthy = true;
      else if (typeof n.bigint === 'string') truthy = n.bigint !== '0';
      else truthy = Boolean(n.value);
      break;
    case 'TemplateLiteral': {
      const exprs = n.expressions;
      const quasis = n.quasis;
      if (!Array.isArray(exprs) || exprs.length > 0 || !Array.isArray(quasis)) return undefined;
      const q = quasis[0] as { value?: { cooked?: unknown } } | undefined;
      truthy = typeof q?.value?.cooked === 'string' && q.value.cooked.length > 0;
      break;
    }
    case 'ObjectExpression':
    case 'ArrayExpression':
    case 'ArrowFunctionExpression':
    case 'FunctionExpression':
    case 'ClassExpression':
      truthy = true;
      break;
    default:
      return undefined;
  }
  return negations % 2 === 0 ? truthy : !truthy;
}

function isConstantLoop(node: Node): boolean {
  switch (node.type) {
    case 'ForStatement': {
      const test = child(node, 'test');
      return test === null || constantTruthiness(test) === true;
    }
    case 'WhileStatement':
    case 'DoWhileStatement': {
      const test = child(node, 'test');
      return test !== null && constantTruthiness(test) === true;
    }
    default:
      return false;
  }
}

type FrameKind = 'loop' | 'switch' | 'label' | 'function';

interface Frame {
  kind: FrameKind;
  node: Node;
  /** Constant-condition loop that must contain an exit. */
  candidate: boolean;
  /**
   * Lowest frame index a jump inside this frame leaves: every frame at or above it is exited.
   * Kept as a minimum and merged into the parent on the way up, so each jump costs O(1).
   */
  exitLevel: number;
  /** For labels: index of the loop the label names (for `continue label`), or -1. */
  loopIndex: number;
}

/**
 * `for (;;)`, `while (true)`, `do {} while (1)` and similar loops with no `break`, `return`, `throw`
 * or labeled `continue`/`break` that could leave them. A `yield` counts as an exit, since the consumer
 * of a generator may stop pulling. The runtime bounds every loop regardless; this is early feedback.
 */
export const noInfiniteLoop: Rule = {
  id: 'no-infinite-loop',
  description: 'Blocks loops whose condition is always true and that contain no way out.',
  create(ctx) {
    const frames: Frame[] = [];
    const loops: number[] = [];
    const breakables: number[] = [];
    const functions: number[] = [];
    const labels = new Map<string, number[]>();

    const push = (kind: FrameKind, node: Node, candidate = false): void => {
      const index = frames.length;
      frames.push({ kind, node, candidate, exitLevel: Number.POSITIVE_INFINITY, loopIndex: -1 });
      if (kind === 'loop') {
        loops.push(index);
        // Labels directly wrapping this loop name it for `continue label`.
        for (let i = index - 1; i >= 0 && (frames[i] as Frame).kind === 'label'; i--) (frames[i] as Frame).loopIndex = index;
      }
      if (kind === 'loop' || kind === 'switch') breakables.push(index);
      if (kind === 'function') functions.push(index);
    };

    const pop = (node: Node): void => {
      // Runs for every node, mostly with no frame open: `frames[-1]` would be a named property lookup
      // (the key "-1", up the prototype chain), where an empty stack is one compare.
      if (frames.length === 0) return;
      const frame = frames[frames.length - 1];
      if (!frame || frame.node !== node) return;
      frames.pop();
      const index = frames.length;
      if (frame.kind === 'loop') loops.pop();
      if (frame.kind === 'loop' || frame.kind === 'switch') breakables.pop();
      if (frame.kind === 'function') functions.pop();
      if (frame.kind === 'label') {
        const name = identifierName(child(node, 'label'));
        if (name !== undefined) labels.get(name)?.pop();
      }
      if (frame.candidate && !(frame.exitLevel <= index)) {
        ctx.report(
          node,
          'This loop never ends: its condition is always true and nothing inside leaves it.',
          'Bound the loop, e.g. `for (let i = 0; i < 100; i++)`, or add a `break` once the work is done.',
        );
      }
      // Jumps cannot cross a function boundary; `return` inside a callback leaves only the callback.
      const parent = frames[index - 1];
      if (parent && frame.kind !== 'function' && frame.exitLevel < parent.exitLevel) parent.exitLevel = frame.exitLevel;
    };

    const jump = (level: number): void => {
      if (frames.length === 0) return;
      const top = frames[frames.length - 1];
      if (top && level < top.exitLevel) top.exitLevel = level;
    };

    const leaveFunction = (): void => {
      jump((functions[functions.length - 1] ?? -1) + 1);
    };

    return {
      '*'(node) {
        // Read once: this runs for every node, and `node.type` on nodes of many shapes is a megamorphic load.
        const type = node.type;
        if (isLoopType(type)) push('loop', node, isConstantLoop(node));
        else if (type === 'SwitchStatement') push('switch', node);
        else if (isFunctionType(type)) push('function', node);
        else if (type === 'LabeledStatement') {
          push('label', node);
          const name = identifierName(child(node, 'label'));
          if (name !== undefined) {
            const stack = labels.get(name);
            if (stack) stack.push(frames.length - 1);
            else labels.set(name, [frames.length - 1]);
          }
        }
      },
      '*:exit'(node) {
        pop(node);
      },
      ReturnStatement: leaveFunction,
      ThrowStatement: leaveFunction,
      YieldExpression: leaveFunction,
      BreakStatement(node) {
        const label = identifierName(child(node, 'label'));
        if (label === undefined) {
          const target = breakables[breakables.length - 1];
          if (target !== undefined) jump(target);
          return;
        }
        const target = labels.get(label)?.at(-1);
        if (target !== undefined) jump(target);
      },
      ContinueStatement(node) {
        const label = identifierName(child(node, 'label'));
        const target =
          label === undefined ? loops[loops.length - 1] : (frames[labels.get(label)?.at(-1) ?? -1]?.loopIndex ?? -1);
        // `continue` restarts its target loop (not an exit of it) but leaves every loop nested inside.
        if (target !== undefined && target >= 0) jump(target + 1);
      },
    };
  },
};
