import type { Node } from './parse.js';

export type { Node };

/**
 * Type of the synthetic root the validator walks: the user's statements, without the wrapper
 * function. Rules use `'AgentScript:exit'` to act once the whole script has been seen.
 */
export const ROOT_TYPE = 'AgentScript';

/** Anything with a source range in the wrapped text. */
export interface Span {
  start: number;
  end: number;
}

/** True for ESTree nodes: objects with a string `type`. Regex values, template cooked/raw pairs are not. */
export function isNode(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && typeof (value as { type?: unknown }).type === 'string';
}

/** The node under `key`, or null. Never throws on unexpected shapes. */
export function child(node: Node, key: string): Node | null {
  const v = node[key];
  return isNode(v) ? v : null;
}

/** The nodes under an array-valued `key` (holes and non-nodes become null). */
export function children(node: Node, key: string): readonly (Node | null)[] {
  const v = node[key];
  if (!Array.isArray(v)) return [];
  return v.map((x: unknown) => (isNode(x) ? x : null));
}

export function str(node: Node, key: string): string | undefined {
  const v = node[key];
  return typeof v === 'string' ? v : undefined;
}

export function flag(node: Node, key: string): boolean {
  return node[key] === true;
}

/** The name of an `Identifier` node, else undefined. */
export function identifierName(node: Node | null): string | undefined {
  return node !== null && node.type === 'Identifier' ? str(node, 'name') : undefined;
}

export function isFunction(node: Node): boolean {
  return isFunctionType(node.type);
}

/** `isFunction` by the node's type name, for a pass that has read it already. */
export function isFunctionType(type: string): boolean {
  return type === 'FunctionDeclaration' || type === 'FunctionExpression' || type === 'ArrowFunctionExpression';
}

export function isLoop(node: Node): boolean {
  return isLoopType(node.type);
}

/** `isLoop` by the node's type name, for a pass that has read it already. */
export function isLoopType(type: string): boolean {
  switch (type) {
    case 'ForStatement':
    case 'ForInStatement':
    case 'ForOfStatement':
    case 'WhileStatement':
    case 'DoWhileStatement':
      return true;
    default:
      return false;
  }
}

// Longer than any name worth matching; stops `'a' + 'a' + ...` chains from building huge strings.
const MAX_STATIC_STRING = 256;

/**
 * The string an expression evaluates to when it is built only from string literals: `'x'`, `` `x` ``
 * and `'con' + 'structor'`. Iterative, so a long `+` chain cannot overflow the stack. Numbers are left
 * out on purpose: `1 + 2` is addition, and no name this is used for contains digits only.
 */
export function staticString(expr: Node): string | undefined {
  const pending: Node[] = [expr];
  let out = '';
  // `+` is left-associative, so evaluating leaves left to right concatenates in source order.
  while (pending.length > 0) {
    const n = pending.pop() as Node;
    if (n.type === 'Literal') {
      if (typeof n.value !== 'string') return undefined;
      out += n.value;
    } else if (n.type === 'TemplateLiteral') {
      if (children(n, 'expressions').length > 0) return undefined;
      const quasi = children(n, 'quasis')[0];
      const value = quasi ? (quasi.value as { cooked?: unknown; raw?: unknown } | null) : null;
      const text = value ? (typeof value.cooked === 'string' ? value.cooked : value.raw) : '';
      if (typeof text !== 'string') return undefined;
      out += text;
    } else if (n.type === 'BinaryExpression' && n.operator === '+') {
      const left = child(n, 'left');
      const right = child(n, 'right');
      if (!left || !right) return undefined;
      pending.push(right, left);
    } else {
      return undefined;
    }
    if (out.length > MAX_STATIC_STRING) return undefined;
  }
  return out;
}

/**
 * The property name a member expression, object property, pattern property or class member refers
 * to, when it is known without running the code. Undefined for dynamic keys and private names.
 */
export function staticKey(node: Node): string | undefined {
  const key = node.type === 'MemberExpression' ? child(node, 'property') : child(node, 'key');
  if (!key) return undefined;
  if (!flag(node, 'computed')) {
    if (key.type === 'Identifier') return str(key, 'name');
    if (key.type === 'Literal') {
      const v = key.value;
      if (typeof v === 'string') return v;
      if (typeof v === 'number') return String(v);
    }
    return undefined;
  }
  return staticString(key);
}

/** Names bound by a binding pattern (`a`, `{ b, c: [d] }`, `...e`, `f = 1`), appended to `out`. */
export function patternNames(pattern: Node | null, out: string[]): void {
  if (!pattern) return;
  const pending: Node[] = [pattern];
  while (pending.length > 0) {
    const n = pending.pop() as Node;
    switch (n.type) {
      case 'Identifier': {
        const name = str(n, 'name');
        if (name !== undefined) out.push(name);
        break;
      }
      case 'ObjectPattern':
        for (const p of children(n, 'properties')) {
          if (!p) continue;
          const target = p.type === 'RestElement' ? child(p, 'argument') : child(p, 'value');
          if (target) pending.push(target);
        }
        break;
      case 'ArrayPattern':
        for (const e of children(n, 'elements')) if (e) pending.push(e);
        break;
      case 'RestElement': {
        const a = child(n, 'argument');
        if (a) pending.push(a);
        break;
      }
      case 'AssignmentPattern': {
        const l = child(n, 'left');
        if (l) pending.push(l);
        break;
      }
      default:
        // Member expressions only occur in assignment targets, which bind nothing.
        break;
    }
  }
}

/** Short human description of a function-like node for messages. */
export function functionLabel(node: Node): string {
  const name = identifierName(child(node, 'id'));
  return name !== undefined ? quote(name) : 'anonymous function';
}

// Identifiers and literals can be thousands of characters long; messages stay readable.
const MAX_QUOTED = 60;

/** `name` in backticks for a message, shortened with an ellipsis when very long. */
export function quote(name: string): string {
  return `\`${name.length > MAX_QUOTED ? `${name.slice(0, MAX_QUOTED)}…` : name}\``;
}
