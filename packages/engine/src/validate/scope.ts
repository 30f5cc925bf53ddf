import type { Node } from '../ast/nodes.js';
import { child, children, flag, isFunction, patternNames, str } from '../ast/nodes.js';

/** How a pattern or target position is used: bound by a declaration, or assigned to. */
export type TargetMode = 'declare' | 'write';

/**
 * What an `Identifier` node is: a variable `read`, `write` or `declare`, or not a variable at all
 * (`property` for `a.b`, `{ b: 1 }` and class member names, `label` for labels, `meta` for
 * `new.target` / `import.meta`).
 */
export type IdentifierRole = 'read' | 'write' | 'declare' | 'property' | 'label' | 'meta';

/** What rules may ask about names at the current point of the walk. */
export interface ScopeView {
  /** True when a declaration in an enclosing scope binds `name` at the current node. */
  isBound(name: string): boolean;
  /** Role of an identifier, given the parent and the parent's key holding it (as handlers get them). */
  roleOf(identifier: Node, parent: Node | null, key: string): IdentifierRole;
  /** The name an identifier reads, writes or declares, with that role; undefined for keys, labels and meta properties. */
  bindingOf(identifier: Node, parent: Node | null, key: string): { readonly name: string; readonly role: 'read' | 'write' | 'declare' } | undefined;
  /** `write` for assignment targets, `declare` for binding patterns, undefined elsewhere. */
  modeOf(node: Node): TargetMode | undefined;
  /** Every name declared anywhere in the script (filled as the walk goes, complete at the end). */
  readonly declaredNames: ReadonlySet<string>;
}


/** Names declared with let/const/using/class/function directly in a statement list (block scoping). */
function lexicalNames(statements: readonly (Node | null)[], out: string[]): void {
  for (let s of statements) {
    // Labels do not change where a labeled function declaration binds.
    while (s && s.type === 'LabeledStatement') s = child(s, 'body');
    if (!s) continue;
    if (s.type === 'VariableDeclaration') {
      if (str(s, 'kind') === 'var') continue;
      for (const d of children(s, 'declarations')) if (d) patternNames(child(d, 'id'), out);
    } else if (s.type === 'FunctionDeclaration' || s.type === 'ClassDeclaration') {
      patternNames(child(s, 'id'), out);
    }
  }
}

function loopHeadNames(decl: Node | null, out: string[]): void {
  if (!decl || decl.type !== 'VariableDeclaration' || str(decl, 'kind') === 'var') return;
  for (const d of children(decl, 'declarations')) if (d) patternNames(child(d, 'id'), out);
}

// Containers through which a declare/write mode flows down to the identifiers of a pattern.
const PATTERN_CONTAINERS = new Set(['ObjectPattern', 'ArrayPattern', 'RestElement', 'AssignmentPattern', 'Property']);

/**
 * Tracks which names are bound while the main walk runs. Each name has a count of enclosing
 * declarations; entering a scope increments the counts of its names, leaving decrements them, so a
 * lookup is O(1) and the whole analysis stays linear in the size of the tree.
 *
 * Block-level function declarations are block-scoped (strict-mode semantics), not hoisted as
 * sloppy-mode Annex B would: code relying on that hoisting is reported, which is the safer side.
 */
export class ScopeTracker implements ScopeView {
  readonly #root: Node;
  readonly #varNames: Map<Node, string[]>;
  readonly #counts = new Map<string, number>();
  readonly #frameNodes: Node[] = [];
  readonly #frameNames: string[][] = [];
  readonly #modes = new Map<Node, TargetMode>();
  readonly #declared = new Set<string>();
  /**
   * The last identifier `roleOf` or `bindingOf` answered for, with its parent, key and answer: each
   * identifier is asked about by several rules in a row, and its role cannot change until the walk enters
   * another node (only `enter` sets roles), which clears this.
   */
  #askedNode: Node | null = null;
  #askedParent: Node | null = null;
  #askedKey = '';
  #askedRole: IdentifierRole = 'read';
  #askedBinding: { readonly name: string; readonly role: 'read' | 'write' | 'declare' } | undefined;

  /** @param varNames the `var` names of each var scope under `root` (see ast/facts.ts). */
  constructor(root: Node, varNames: Map<Node, string[]>) {
    this.#root = root;
    this.#varNames = varNames;
  }

  get declaredNames(): ReadonlySet<string> {
    return this.#declared;
  }

  isBound(name: string): boolean {
    return (this.#counts.get(name) ?? 0) > 0;
  }

  roleOf(identifier: Node, parent: Node | null, key: string): IdentifierRole {
    if (identifier === this.#askedNode && parent === this.#askedParent && key === this.#askedKey) return this.#askedRole;
    const role = this.#modes.get(identifier) ?? nonTargetRole(parent, key);
    this.#askedNode = identifier;
    this.#askedParent = parent;
    this.#askedKey = key;
    this.#askedRole = role;
    this.#askedBinding = role === 'read' || role === 'write' || role === 'declare' ? { name: str(identifier, 'name') ?? '', role } : undefined;
    return role;
  }

  bindingOf(identifier: Node, parent: Node | null, key: string): { readonly name: string; readonly role: 'read' | 'write' | 'declare' } | undefined {
    this.roleOf(identifier, parent, key);
    return this.#askedBinding;
  }

  modeOf(node: Node): TargetMode | undefined {
    return this.#modes.get(node);
  }

  /** `type` is `node.type`, which the walk has read already. */
  enter(node: Node, parent: Node | null, key: string, type: string): void {
    this.#askedNode = null;
    const names = this.#scopeNames(node, type, parent, key);
    if (names !== null && names.length > 0) {
      for (const n of names) {
        this.#counts.set(n, (this.#counts.get(n) ?? 0) + 1);
        this.#declared.add(n);
      }
      // The case block of a switch starts at its first case (the discriminant is outside it) but
      // ends with the switch, so its frame is owned by the switch.
      this.#frameNodes.push(type === 'SwitchCase' && parent ? parent : node);
      this.#frameNames.push(names);
    }
    // Only declaration and assignment targets get an entry, so the map stays small.
    const mode = parent ? this.#targetMode(type, parent, key) : undefined;
    if (mode !== undefined) this.#modes.set(node, mode);
  }

  leave(node: Node): void {
    // (An empty stack is tested first: `#frameNodes[-1]` would be a named property lookup of "-1".)
    const top = this.#frameNodes.length - 1;
    if (top < 0 || this.#frameNodes[top] !== node) return;
    this.#frameNodes.pop();
    for (const n of this.#frameNames.pop() ?? []) {
      const c = (this.#counts.get(n) ?? 1) - 1;
      if (c <= 0) this.#counts.delete(n);
      else this.#counts.set(n, c);
    }
  }

  /** Names a node brings into scope for its own subtree, or null if it opens no scope. */
  #scopeNames(node: Node, type: string, parent: Node | null, key: string): string[] | null {
    if (node === this.#root) {
      const out: string[] = [];
      append(out, this.#varNames.get(node));
      lexicalNames(children(node, 'body'), out);
      return out;
    }
    // Allocates only for the few node types that open a scope: this runs once per node.
    switch (type) {
      case 'FunctionExpression':
      case 'FunctionDeclaration':
      case 'ArrowFunctionExpression': {
        const out: string[] = [];
        // The name of a function expression is visible only inside it; a declaration's name
        // belongs to the enclosing block (see lexicalNames).
        if (type === 'FunctionExpression') patternNames(child(node, 'id'), out);
        for (const p of children(node, 'params')) patternNames(p, out);
        return out;
      }
      case 'ClassExpression': {
        const out: string[] = [];
        patternNames(child(node, 'id'), out);
        return out;
      }
      case 'CatchClause': {
        const out: string[] = [];
        patternNames(child(node, 'param'), out);
        return out;
      }
      case 'BlockStatement': {
        const out: string[] = [];
        // A function's `var`s live in its body, not in its parameter list: `(a = v) => { var v; }`
        // does not see the `v` of the body.
        if (parent && key === 'body' && isFunction(parent)) append(out, this.#varNames.get(parent));
        lexicalNames(children(node, 'body'), out);
        return out;
      }
      case 'StaticBlock': {
        const out: string[] = [];
        append(out, this.#varNames.get(node));
        lexicalNames(children(node, 'body'), out);
        return out;
      }
      case 'SwitchCase': {
        if (!parent || parent.type !== 'SwitchStatement' || children(parent, 'cases')[0] !== node) return null;
        const out: string[] = [];
        for (const c of children(parent, 'cases')) if (c) lexicalNames(children(c, 'consequent'), out);
        return out;
      }
      case 'ForStatement': {
        const out: string[] = [];
        loopHeadNames(child(node, 'init'), out);
        return out;
      }
      case 'ForInStatement':
      case 'ForOfStatement': {
        const out: string[] = [];
        loopHeadNames(child(node, 'left'), out);
        return out;
      }
      default:
        return null;
    }
  }

  #targetMode(type: string, parent: Node, key: string): TargetMode | undefined {
    const parentType = parent.type;
    const inherited = PATTERN_CONTAINERS.has(parentType) ? this.#modes.get(parent) : undefined;
    if (inherited !== undefined) {
      switch (parentType) {
        case 'ObjectPattern':
          return key === 'properties' ? inherited : undefined;
        case 'Property':
          return key === 'value' ? inherited : undefined;
        case 'ArrayPattern':
          return key === 'elements' ? inherited : undefined;
        case 'RestElement':
          return key === 'argument' ? inherited : undefined;
        case 'AssignmentPattern':
          return key === 'left' ? inherited : undefined;
        default:
          return undefined;
      }
    }
    switch (parentType) {
      case 'VariableDeclarator':
        return key === 'id' ? 'declare' : undefined;
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        return key === 'params' || key === 'id' ? 'declare' : undefined;
      case 'ClassDeclaration':
      case 'ClassExpression':
        return key === 'id' ? 'declare' : undefined;
      case 'CatchClause':
        return key === 'param' ? 'declare' : undefined;
      case 'AssignmentExpression':
        return key === 'left' ? 'write' : undefined;
      case 'UpdateExpression':
        return key === 'argument' ? 'write' : undefined;
      case 'ForInStatement':
      case 'ForOfStatement':
        return key === 'left' && type !== 'VariableDeclaration' ? 'write' : undefined;
      default:
        return undefined;
    }
  }
}

// A loop, not push(...xs): spreading a very long array overflows the argument limit.
function append(out: string[], names: readonly string[] | undefined): void {
  if (names) for (const n of names) out.push(n);
}

/** Role of an identifier that is not a declaration or assignment target. */
function nonTargetRole(parent: Node | null, key: string): IdentifierRole {
  if (!parent) return 'read';
  switch (parent.type) {
    case 'MemberExpression':
      return key === 'property' && !flag(parent, 'computed') ? 'property' : 'read';
    case 'Property':
    case 'MethodDefinition':
    case 'PropertyDefinition':
    case 'AccessorProperty':
      return key === 'key' && !flag(parent, 'computed') ? 'property' : 'read';
    case 'LabeledStatement':
    case 'BreakStatement':
    case 'ContinueStatement':
      return key === 'label' ? 'label' : 'read';
    case 'MetaProperty':
      return 'meta';
    default:
      return 'read';
  }
}
