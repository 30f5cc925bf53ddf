import MagicString from 'magic-string';
import type { Node, ParsedSource } from '../ast/parse.js';
import { WRAP_PREFIX, userLocation } from '../ast/parse.js';
import { isFunction, isFunctionType, isLoop, isLoopType, isNode, patternNames } from '../ast/nodes.js';
import type { FlatTree } from '../ast/walk.js';
import { walk, walkFlat } from '../ast/walk.js';
import { treeFacts } from '../ast/facts.js';
import { BIG_STRING, BLOCKED_PROPERTIES, GUARD_LOCALS, LOOP_FREE, PACED_FROM, PROTECTED_NAMES, REALM_ENTRIES, RESERVED_PREFIX } from '../sandbox/realm-abi.js';
import type { Guards } from '../sandbox/realm-abi.js';
import { isJsSpace } from '../ast/unicode.js';
import type { Issue } from '../source.js';
import { codeAt } from '../source.js';
import type { PositionMap } from '../positions.js';
import { decodeNumbers, positionMap, userPosition } from '../positions.js';

/**
 * Layer 2: rewrites validated AgentScript into the script the sandbox runs.
 *
 * The output is one expression statement, `__ek_register(function (rt, callTool, console, input, ...globals)
 * { ... return async function () { <user code> } })`, whose first line holds the whole header, so that
 * compiling it with `lineOffset: -1` makes V8 report the user's own line numbers. Evaluating it runs no
 * user code: it hands the factory to the realm, which keeps it for later runs of the same code (the same
 * closure across runs keeps V8's feedback and optimised code warm).
 *
 * What is inserted, and why it stays cheap. These guards protect the host and are written whatever
 * `transform` says (see `Guards` in realm-abi.ts):
 * - loops and every user function start with `if (++n > L) f()`: one increment and one compare on
 *   closure-local numbers. `L` is lowered by the runtime to the next checkpoint (memory, run state) and
 *   to -1 once the run is over or a budget is spent, so the same compare also stops detached work. A
 *   worker's heap cap cannot stop a script by itself: V8 aborts the whole process when one growth step
 *   of a large Map or array does not fit, so the heap is checked here, long before that. A light loop
 *   that never suspends counts in locals of its own instead and settles with the runtime now and then
 *   (see GRANT_GUARD and LOOP_FREE);
 * - `catch` and `finally` blocks start with `c()`, which rethrows a pending budget error, so budget
 *   errors cannot be caught and swallowed;
 * - `a + b`, `a += b` and template literals are checked inline (see inlineChecks): the value
 *   goes into a local and numbers fall through a single `typeof` test, with no call (a call per
 *   `+` was a third of a never-seen 100k-turn loop, which runs in V8's interpreter); strings over 64K
 *   characters are checked against the per-string cap and trigger a heap check through `s()` (V8 builds
 *   them as cheap ropes, but flattening one is a single allocation of its whole length);
 * - spreads go through `sp(x)` (bounded, and a source that is not iterable is named as the user wrote
 *   it) and object spreads through `os(x)`;
 * - a write to `.constructor`, `.next`, `.valueOf` or `.then` goes through `ct(o, name)`, and a class with a
 *   heritage checks its instance before fields of those names and its computed field keys (`fk`): even a
 *   failing write of such a key turns off one of V8's protectors for the whole isolate (see Guards.ct);
 * - an async function becomes a plain function that runs its body as an inner async arrow whose
 *   promise it marks handled at once (Node would otherwise report a realm rejection to the host
 *   process, and with --unhandled-rejections=strict end it). The body is wrapped in a `catch` that
 *   waits one microtask before rethrowing, so that the promise is never rejected while the body still
 *   runs inside a deep synchronous call chain, where Node's rejection tracking runs out of stack and
 *   prints to the host's stderr. Name, parameters, `this`, `arguments` and hoisting stay as they were.
 *
 * With `transform: true` (budgets) also:
 * - synchronous functions, and the synchronous part of async ones, count call depth in a `try/finally`;
 *   the runtime enforces the iteration budget and the depth limit at checkpoints;
 * - computed member keys go through `m(key)`, which lets numbers through at once and refuses keys that
 *   lead to constructors or prototypes (converting the key once, so `toString` cannot change it later).
 *
 * Structural refusals that do not depend on `validate`: dynamic `import()` (its rejection carries a host
 * error object), `import.meta`, and identifiers with the runtime's reserved prefix.
 */

const { n: N, L, d: D, D: DMAX, w: W, f: F, k: K, q: Q, g: G, r: R, u: U, c: C, m: M, mc: MC, s: S, t: T, sp: SP, os: OS, dt: DT, v: V, ls: LS, lt: LT, fi: FI, bn: BN, am: AM, ar: AR, th: TH, cs: CS, rt: RT, p: P, x: X, e: E, y: Y } = GUARD_LOCALS;
/** A field of the guard object, by name: a renamed field in the ABI breaks this file's compile. */
const guard = (field: keyof Guards) => `${RT}.${field}`;

/**
 * Work units (see bodyWeights) a heavy body may do between the checkpoints it forces: what a light body
 * does between two ordinary checkpoints, at most.
 */
const HEAVY_WORK = 16 * 16_384;
/** A body with at least this many allocating expressions counts its work, not only its iterations. */
const HEAVY_WEIGHT = 16;

/** The checkpoint guard of a loop or function body of weight `w` (see bodyWeights). */
function loopGuard(w: number): string {
  if (w < HEAVY_WEIGHT) return `if (++${N} > ${L}) ${F}();`;
  return `if (++${N} > ${L} || (${W} += ${w}) > ${HEAVY_WORK}) { ${W} = 0; ${F}(); }`;
}

/**
 * The guard of a light loop that never suspends (see LOOP_FREE): `k` counts down the turns left before
 * the next call to `g` (the loop's turns so far are `q + 1 - k`), `q` is the turn it is charged through,
 * both block-scoped locals of the loop's own, so registers; `n` is a closure slot of the factory, a
 * context load and store each turn, which an interpreted loop pays in full. Counting down to zero needs
 * no compare: `!--k` is a decrement and a jump, where `++k > q` was an increment and a compare, each a
 * call with type feedback in V8's baseline code (a never-seen 100k-turn loop runs there): 54 -> 38
 * instructions a turn for the guard (callgrind, `--no-opt`, 4M turns). `g` returns at least the turn it
 * is given (it charges ahead zero turns or more), so `k` restarts at 1 or more and reaches zero again.
 */
const GRANT_GUARD = `if (!--${K}) ${K} = -${Q} + (${Q} = ${G}(${Q} + 1, ${Q}));`;
/**
 * Around such a loop (and its labels): its counters and its own value for the inline checks, and what it
 * owes or was charged ahead settled however it ends (`q - turns`, what was charged and not taken, is `k - 1`).
 * A visit that starts within LOOP_FREE turns of the next checkpoint (the runtime places checkpoints close
 * together when turns are slow: see PACE_MS in the runtime) calls `g` from its first turn instead: its
 * free turns were as many slow turns with no call, where V8 cannot honour the deadline (see PACED_FROM).
 */
const GRANT_OPEN = `{ let ${K} = ${LOOP_FREE + 1}, ${Q} = ${LOOP_FREE}, ${U}; if (${N} + ${LOOP_FREE} > ${L}) ${K} = 1, ${Q} = ${PACED_FROM}; try { `;
/** GRANT_OPEN for a loop whose visits call `y()` first (see leaveSiteScope): `y()` returns undefined. */
const GRANT_OPEN_Y = GRANT_OPEN.replace(`${U};`, `${U} = ${Y}();`);
const GRANT_CLOSE = ` } finally { if (${Q} === ${LOOP_FREE}) { if ((${N} += ${LOOP_FREE + 1} - ${K}) > ${L}) ${F}(); } else if (${K} > 1) ${R}(${K} - 1); } }`;

/**
 * The entry of a synchronous function of weight `w` with the budget guards: depth and iterations. The
 * depth is counted first, at every entry, since the `finally` of SYNC_EXIT takes it back at every exit:
 * counted after the iterations, it was skipped at each entry that ran a checkpoint, and every checkpoint
 * a run passed let its recursion go one call deeper (a million calls of a small function first, and a
 * recursion 76 deep passed a maxCallDepth of 50). Where the depth is over its limit the checkpoint ends
 * the run, so the entry it does not count among the iterations is never missed.
 */
function syncEnter(w: number): string {
  if (w < HEAVY_WEIGHT) return `if (++${D} > ${DMAX} || ++${N} > ${L}) ${F}(); try {`;
  return `if (++${D} > ${DMAX} || ++${N} > ${L} || (${W} += ${w}) > ${HEAVY_WORK}) { ${W} = 0; ${F}(); } try {`;
}

const SYNC_EXIT = `} finally { ${D}--; }`;
/** The four parts of an inline check: around an expression, and where the expression starts a statement. */
interface InlineCheck {
  open: string;
  close: string;
  statementOpen: string;
  statementClose: string;
}

/**
 * The inline checks, keeping the value they test in `temp`: the factory's `t`, or inside a light loop's
 * block its own `u` (a register, where `t` is a closure slot: see GRANT_OPEN). Nothing runs between the
 * assignment and the reads, so nested checks can share one.
 */
function inlineChecks(temp: string): { temp: string; grow: InlineCheck; bigint: InlineCheck } {
  // Around a string-building expression: its value is kept and returned, after a long string went
  // through `s()`.
  const open = `(typeof (${temp} = (`;
  // What follows the `typeof` test in both forms: a long string goes through `s()`, anything else as it is.
  const growTail = `${temp}.length > ${BIG_STRING} ? ${S}(${temp}) : ${temp}`;
  // The same check where the expression starts a statement: a statement that starts with `(` would
  // continue the line before it when that line has no semicolon (`x = f\ns += t` would call `f`), so
  // the check starts with the name instead, as a sequence. Only the outermost check at that offset needs
  // it, and the rest of the statement binds to the parenthesized value exactly as it bound to the
  // expression.
  const statementOpen = `${temp} = (`;
  // Around a `*`, `**` or `<<` (or its assignment) that may make a BigInt: one operation can make one of
  // 128 MB, which no builtin sees, so a big result makes the heap checked (`bn()`).
  const bigintTail = `=== 'bigint' ? ${BN}(${temp}) : ${temp})`;
  return {
    temp,
    grow: { open, close: `)) === 'string' && ${growTail})`, statementOpen, statementClose: `), (typeof ${temp} === 'string' && ${growTail})` },
    bigint: { open, close: `)) ${bigintTail}`, statementOpen, statementClose: `), (typeof ${temp} ${bigintTail}` },
  };
}
const FACTORY_CHECKS = inlineChecks(T);
const LOOP_CHECKS = inlineChecks(U);
/**
 * Operators that may read a whole string in one native step and call nothing: a comparison, a
 * conversion to a number, a key lookup (`s == 1` over 7.2e6 characters takes 2-7 ms). `+` is not among
 * them (it makes a rope, and a long result goes through `s()`), nor `&&=`, `||=` and `??=`.
 */
const SLOW_BINARY = new Set(['==', '!=', '===', '!==', '<', '>', '<=', '>=', '-', '*', '/', '%', '**', '&', '|', '^', '<<', '>>', '>>>', 'in']);
const LOGICAL_ASSIGN = new Set(['&&=', '||=', '??=']);
const SLOW_UNARY = new Set(['+', '-', '~']);
const SLOW_ASSIGN = new Set(['-=', '*=', '/=', '%=', '**=', '&=', '|=', '^=', '<<=', '>>=', '>>>=']);
/**
 * One such operator (or `switch` case, or `++`/`--`) in this many, counted in source order within each
 * function and each loop, goes through `y()` (see Guards.y). V8 honours the deadline's termination only
 * at a call or at a loop's interrupt budget check, never in straight-line code, so 3,000 statements
 * `x |= s == 1;` (24 KB, within STRICT's 32) held the host 14.5 s past a 500 ms deadline. A path between
 * two calls now meets at most about twice this many such steps (the rest of a callee's and of its
 * caller's); a loop's turns are paced by the runtime (PACE_MS).
 */
const STEP_SITES = 8;
/**
 * A function, a loop or a branch (code that may not run, or not to its end: an `if`'s arms, the right
 * of `&&`, a default value, a `case`, a labelled block) as the rewriter counts its sites (see STEP_SITES and leaveSiteScope).
 */
interface SiteScope {
  end: number;
  kind: 'function' | 'loop' | 'branch';
  /** At most as many sites as any path has run since a stopping point (a `y()`, a call, the scope's start). */
  sites: number;
  /** The most `sites` has been in the scope: a loop's visit may end (`break`) anywhere in it. */
  peak: number;
  /** Whether each visit of the loop calls `y()` as it starts. */
  entry: boolean;
}
/** The fields of a node whose code may be skipped while the node runs (see SiteScope). */
const BRANCH_FIELDS: Readonly<Record<string, readonly string[]>> = {
  IfStatement: ['consequent', 'alternate'],
  ConditionalExpression: ['consequent', 'alternate'],
  LogicalExpression: ['right'],
  AssignmentPattern: ['right'],
  SwitchStatement: ['cases'],
  // A `throw` may leave the block anywhere for the `finally`.
  TryStatement: ['block', 'handler'],
};

/** Operators that can make a BigInt much larger than their operands. */
const BIGINT_GROWTH = new Set(['*', '**', '<<']);
const BIGINT_GROWTH_ASSIGN = new Set(['*=', '**=', '<<=']);
/** The end of an async body: rethrow after one microtask, on a short stack, with the promise marked. */
const ASYNC_CATCH = `catch (${X}) { await 0; throw ${AR}(${P}, ${X}); }`;
/** Longest source text a guard quotes back in an error message. */
const MAX_QUOTED = 120;

export interface TransformOutput {
  /** The script to compile with `lineOffset: -1` and filename `agentscript.js`. */
  code: string;
  /** Maps a position of the output (1-based line as V8 reports it after the offset, 1-based column) to the user's source. */
  mapPosition(line: number, column: number): { line: number; column: number } | undefined;
  /** The rewriter's edits as anchors (see positions.ts), for a realm that maps its own stack traces; made on the first call. */
  anchors(): string;
  /**
   * Where the header's prologue sits in `code`, `[start, end)`: the guards' locals and the runtime's
   * `bind` call, the same text for every script (see `prologue`). It declares only names of the factory's
   * own scope, and the user's code runs in a function nested in it, so no early error of the text depends
   * on it: V8's syntax check may read the text without it (see checkSyntax).
   */
  prologue: readonly [number, number];
  /**
   * Whether the rewriter added private names of its own (a class with a heritage gets a private field that
   * checks its instance first): a realm that ran them is retired like one that ran the script's own (see
   * mayNamePrivately), since V8 adds private fields to frozen objects too.
   */
  addsPrivateNames: boolean;
}

export interface TransformResult {
  output?: TransformOutput;
  issues: Issue[];
}

/** Names bound by the wrapper: the per-run tool function, console, input and the user's globals. */
function wrapperParams(globalNames: readonly string[]): string[] {
  return [RT, 'callTool', 'console', 'input', ...globalNames];
}

/** A key that needs no run-time check: a number literal. String literal keys are checked statically. */
function isSafeStaticKey(key: Node): boolean {
  if (key.type !== 'Literal') return false;
  const v = key.value;
  if (typeof v === 'number') return true;
  return typeof v === 'string' && !BLOCKED_KEYS.has(v);
}

const BLOCKED_KEYS = new Set(BLOCKED_PROPERTIES);

/** The key a derived class's instance is checked with when one of its fields may be a far element (see ClassBody). */
const FAR_INDEX = '4294967294';

/**
 * A literal key naming an array index past BIG_STRING (`a[2147483648]`, `a['4294967294']`): a store
 * there may be far past the end of a long array, which makes its elements a dictionary in one native
 * step (see elementWrite in the realm runtime), so it goes through `lt` like a computed key.
 */
function farIndex(key: Node): boolean {
  const v = key.value;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : Number.NaN;
  return n > BIG_STRING && (typeof v === 'number' || String(n) === v);
}

/**
 * The tree keeps no parentheses, so `f(...(a, b))` has the sequence `a, b` as its argument: made an
 * argument of a guard, it must be parenthesized again, or the guard gets two arguments (and the
 * script the first value instead of the last).
 */
const open = (n: Node): string => (n.type === 'SequenceExpression' ? '(' : '');
const close = (n: Node): string => (n.type === 'SequenceExpression' ? ')' : '');

/** See PROTECTED_NAMES in realm-abi.ts: the rewriter guards static writes and deletes of these names. */
const PROTECTED = new Set<string>(PROTECTED_NAMES);

/** The name of a static key that is one of PROTECTED_NAMES (`o.next`, `o['next']`, a field `next`), or undefined. */
function protectedName(key: Node, computed: boolean): string | undefined {
  const name = !computed && key.type === 'Identifier' ? key.name : key.type === 'Literal' ? key.value : undefined;
  return typeof name === 'string' && PROTECTED.has(name) ? name : undefined;
}

/** `o.constructor` (or `.next`, `.valueOf`), not computed, on anything but `super`. */
function constructorMember(n: Node): boolean {
  return n.type === 'MemberExpression' && n.computed !== true && (n.object as Node).type !== 'Super' && protectedName(n.property as Node, false) !== undefined;
}

/** Whether `n`, as the `field` of `parent`, is a `.constructor` (or `.next`, `.valueOf`) written to or deleted (an ObjectPattern's values are found from the pattern). */
function constructorTarget(n: Node, parent: Node | null, field: string): boolean {
  if (parent === null || !constructorMember(n)) return false;
  switch (parent.type) {
    case 'UnaryExpression':
      return parent.operator === 'delete';
    case 'AssignmentExpression':
    case 'AssignmentPattern':
    case 'ForInStatement':
    case 'ForOfStatement':
      return field === 'left';
    case 'UpdateExpression':
    case 'ArrayPattern':
    case 'RestElement':
      return true;
    default:
      return false;
  }
}

function isNumericLiteral(n: Node): boolean {
  return n.type === 'Literal' && typeof n.value === 'number';
}

type Comments = ParsedSource['comments'];

/** An edit the rewriter would have made inside a comment: V8 would not run it, so the script is refused. */
export class EditInComment extends Error {
  constructor(readonly at: number) {
    super('an edit of the rewrite would land in a comment');
  }
}

/** The comment that holds offset `at` (`start <= at < end`), if any. Comments are in order and never overlap. */
function commentAt(comments: Comments, at: number): (typeof comments)[number] | undefined {
  let lo = 0;
  let hi = comments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((comments[mid] as (typeof comments)[number])[0] <= at) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  const c = found < 0 ? undefined : comments[found];
  return c !== undefined && at < c[1] ? c : undefined;
}

/**
 * Whether text written at `pos` (between `pos - 1` and `pos`) would be part of a comment: inside one,
 * or at the end of one that runs to the end of its line.
 */
function editInComment(comments: Comments, pos: number): boolean {
  const c = commentAt(comments, pos - 1);
  return c !== undefined && (pos < c[1] || c[2] === 1);
}

/**
 * Every edit of the rewrite goes through here: one that would land in a comment throws. The positions
 * come from the tree, which never points into a comment, except where the rewriter looks at raw text
 * (an arrow's `=>`, a method's `async`); whatever a new such place gets wrong, V8 must never see a guard
 * commented out, or the rest of the text read another way than the checks read it.
 */
export class CommentSafeString extends MagicString {
  readonly #comments: Comments;
  /** Offsets where text was written on the right: the closing text of what ends there. */
  readonly #closes = new Set<number>();

  constructor(text: string, comments: Comments) {
    super(text);
    this.#comments = comments;
  }

  #at(pos: number): void {
    if (this.#comments.length > 0 && editInComment(this.#comments, pos)) throw new EditInComment(pos);
  }

  /**
   * The rewriter writes what opens at an offset on its left (`appendLeft`, so it survives edits of the
   * text after it) and what closes there on its right (`prependRight`), and magic-string puts the left
   * side first. Where one statement ends and the next begins with no character between them
   * (`for (;;) x;y += s`), the next one's opening text would come before the first one's closing text.
   * What opens where something has closed goes on the right instead, after what closed: nothing can
   * close at an offset after something opened there (a node that ends there starts before it, and the
   * walk enters it first).
   */
  override appendLeft(index: number, content: string): this {
    this.#at(index);
    if (this.#closes.has(index)) return super.appendRight(index, content) as this;
    return super.appendLeft(index, content) as this;
  }

  override appendRight(index: number, content: string): this {
    this.#at(index);
    this.#closes.add(index);
    return super.appendRight(index, content) as this;
  }

  override prependLeft(index: number, content: string): this {
    this.#at(index);
    return super.prependLeft(index, content) as this;
  }

  override prependRight(index: number, content: string): this {
    this.#at(index);
    this.#closes.add(index);
    return super.prependRight(index, content) as this;
  }

  override overwrite(start: number, end: number, content: string, options?: Parameters<MagicString['overwrite']>[3]): this {
    this.#at(start);
    this.#at(end);
    return super.overwrite(start, end, content, options) as this;
  }

  override update(start: number, end: number, content: string, options?: Parameters<MagicString['update']>[3]): this {
    this.#at(start);
    this.#at(end);
    return super.update(start, end, content, options) as this;
  }

  override remove(start: number, end: number): this {
    this.#at(start);
    this.#at(end);
    return super.remove(start, end) as this;
  }
}

/**
 * The offset just after the `=>` of an arrow function whose expression body starts at `bodyStart`:
 * between the two stand only white space, comments (which may hold a `=>` of their own) and the
 * parentheses around the body (not in the tree).
 */
function arrowBodyInsertion(text: string, comments: Comments, fnStart: number, bodyStart: number): number {
  let i = bodyStart - 1;
  while (i > fnStart) {
    const c = commentAt(comments, i);
    if (c !== undefined) {
      i = c[0] - 1;
      continue;
    }
    const ch = text.charCodeAt(i);
    if (ch === 0x3e && text.charCodeAt(i - 1) === 0x3d) return i + 1; // `=>`
    if (ch !== 0x28 && !isJsSpace(ch)) break; // `(` around the body, white space
    i--;
  }
  throw new EditInComment(bodyStart);
}

export interface TransformOptions {
  /**
   * Write the budget guards too (iteration and call-depth limits, key checks). Without them the
   * host-protection guards and the structural refusals remain.
   */
  guards: boolean;
}

/** Offset of the `async` keyword in `text[from, to)`, outside comments; -1 if there is none. */
function findAsyncKeyword(text: string, comments: Comments, from: number, to: number): number {
  const word = /\basync\b/g;
  word.lastIndex = from;
  for (let m = word.exec(text); m !== null && m.index < to; m = word.exec(text)) {
    if (commentAt(comments, m.index) === undefined) return m.index;
  }
  return -1;
}

/** Source text a guard quotes in an error message, as a JS string literal (whitespace runs collapsed). */
function quoted(text: string): string {
  const one = text.replace(/\s+/g, ' ');
  return JSON.stringify(one.length > MAX_QUOTED ? `${one.slice(0, MAX_QUOTED - 3)}...` : one);
}

/**
 * The computed member keys on the callee path of a call, `new` or tagged template: the parts V8 quotes
 * when it reports that the callee is not a function (`o[k]()`, `a[i].b[j]()`, `f()[k]()`).
 */
function collectCalleeKeys(callee: Node, into: Set<Node>): void {
  let n: Node | undefined = callee;
  while (n) {
    if (n.type === 'ChainExpression') n = n.expression as Node;
    else if (n.type === 'MemberExpression') {
      if (n.computed === true) into.add(n.property as Node);
      n = n.object as Node;
    } else if (n.type === 'CallExpression') n = n.callee as Node;
    else n = undefined;
  }
}

/**
 * The rewriter's edits as anchors (see positions.ts), read off magic-string's pieces in the order
 * of the output: `''` if they do not add up to the output's length (the anchors would be wrong, so there
 * are none). Linear in the number of pieces, a few per edit.
 */
function anchorsOf(ms: MagicString, length: number): string {
  interface Piece { start: number; content: string; intro: string; outro: string; edited: boolean; next: Piece | null }
  const inner = ms as unknown as { intro: string; outro: string; firstChunk: Piece | null };
  const parts: number[] = [];
  let at = inner.intro.length;
  for (let c = inner.firstChunk; c !== null; c = c.next) {
    at += c.intro.length;
    parts.push(at, c.start, c.edited ? 0 : c.content.length);
    at += c.content.length + c.outro.length;
  }
  return at + inner.outro.length === length ? parts.join(',') : '';
}

/**
 * Maps V8's (line, column) in the rewritten script to the user's source. The anchors are read off the
 * MagicString now, so that nothing keeps it: a run keeps these closures for as long as it is in flight,
 * and the MagicString of the agent script is about 17 KB of small objects, which 200 runs in flight
 * carried through every minor collection (and promoted) for nothing. A function of its own, so that
 * its closures keep the texts alone, not transformAgentScript's whole scope (the tree, its facts).
 */
function positionLookup(ms: MagicString, code: string, userCode: string): Pick<TransformOutput, 'mapPosition' | 'anchors'> {
  const anchors = anchorsOf(ms, code.length);
  // Made on the first lookup: most runs never map a position.
  let map: PositionMap | undefined;
  const mapPosition = (line: number, column: number) => {
    map ??= positionMap(decodeNumbers(anchors, codeAt), code, userCode, WRAP_PREFIX.length, codeAt);
    if (map.anchors.length === 0) return undefined;
    const [l, c] = userPosition(map, line, column);
    return { line: l, column: c };
  };
  return { mapPosition, anchors: () => anchors };
}

/**
 * A pattern with a rest element. V8 builds an array pattern's rest from its source's iterator in one
 * native step, and an object pattern's rest by copying its source's properties in one native step.
 */
function hasRest(p: Node): boolean {
  if (p.type === 'ArrayPattern') return (p.elements as (Node | null)[]).some((e) => e !== null && e.type === 'RestElement');
  return p.type === 'ObjectPattern' && (p.properties as Node[]).some((e) => e.type === 'RestElement');
}

/**
 * The patterns with a rest element in a binding or assignment target, in source order (one before the
 * patterns it holds). Not an array pattern that is itself a rest element's target (`[...[a, ...b]]`, a
 * rest parameter `...[a, ...b]`): its value is an array V8 has just made, walked by the frozen intrinsic
 * iterator.
 */
function restPatterns(target: Node | null, out: Node[], underRest = false): Node[] {
  if (target === null) return out;
  switch (target.type) {
    case 'ArrayPattern':
      if (!underRest && hasRest(target)) out.push(target);
      for (const e of target.elements as (Node | null)[]) restPatterns(e, out);
      break;
    case 'ObjectPattern':
      if (hasRest(target)) out.push(target);
      for (const p of target.properties as Node[]) restPatterns(p.type === 'RestElement' ? p : (p.value as Node), out);
      break;
    case 'AssignmentPattern':
      restPatterns(target.left as Node, out);
      break;
    case 'RestElement':
      restPatterns(target.argument as Node, out, true);
      break;
    default:
      break;
  }
  return out;
}

/** Whether `await` or `yield` of this function stands inside `node` (an arrow around it could not hold them). */
function suspends(node: Node): boolean {
  let found = false;
  walk(node, { enter(n) {
    if (found || isFunction(n)) return false;
    if (n.type === 'AwaitExpression' || n.type === 'YieldExpression' || (n.type === 'ForOfStatement' && n.await === true)) found = true;
    return !found;
  } });
  return found;
}

/** The first identifier read inside `node` (not a property name) whose name is in `names`, if any. */
function readsAny(node: Node, names: ReadonlySet<string>, skip: ReadonlySet<Node>): Node | undefined {
  let found: Node | undefined;
  walk(node, { enter(n, parent, key) {
    if (found !== undefined || skip.has(n)) return false;
    if (n.type !== 'Identifier' || !names.has(n.name as string)) return true;
    const propertyName = parent !== null && parent.computed !== true && ((parent.type === 'MemberExpression' && key === 'property') || (parent.type === 'Property' && key === 'key' && parent.shorthand !== true));
    if (!propertyName) found = n;
    return false;
  } });
  return found;
}

/** `o.length` or `o['length']`: a member whose assignment may preallocate an array (see Guards.ls and Guards.lt). */
function isLengthMember(n: Node): boolean {
  if (n.type !== 'MemberExpression') return false;
  const key = n.property as Node;
  return n.computed === true ? key.type === 'Literal' && key.value === 'length' : key.type === 'Identifier' && key.name === 'length';
}

/**
 * In `o.length = v` (or `o['length'] = v`), the text from the `.` (or `[`) to the end of the `=`, which
 * `ls(o, v)` replaces by a comma: only white space and comments stand between the tokens. Null when the
 * target is parenthesized (`(o.length) = v`): then the check form is written instead.
 */
function lengthAssignment(text: string, comments: Comments, left: Node, right: Node): [number, number] | null {
  const key = left.property as Node;
  const from = tokenBefore(text, comments, key.start);
  if (text[from] !== (left.computed === true ? '[' : '.')) return null;
  let to = left.computed === true ? text.indexOf(']', key.end) + 1 : key.end;
  if (to <= 0) return null;
  to = tokenAfter(text, comments, to);
  return text[to] === '=' && to < right.start ? [from, to + 1] : null;
}

/**
 * For `o.length = v` written so that `ls(o, v)` can replace it, the span `lengthAssignment` gives; null
 * for every other assignment, whose member target goes through `lt` instead (see memberTarget): a
 * compound one, `(o.length) = v`, whose parentheses leave no room for `ls`, and `super.length = v`,
 * which `target` refuses.
 */
function lengthStoreIn(text: string, comments: Comments, node: Node): [number, number] | null {
  const left = node.left as Node;
  if (node.operator !== '=' || !isLengthMember(left) || (left.object as Node).type === 'Super') return null;
  return lengthAssignment(text, comments, left, node.right as Node);
}

/** The offset of the last character before `at` that is neither white space nor in a comment. */
function tokenBefore(text: string, comments: Comments, at: number): number {
  let i = at - 1;
  for (;;) {
    const c = commentAt(comments, i);
    if (c !== undefined) i = c[0] - 1;
    else if (isJsSpace(text.charCodeAt(i))) i--;
    else return i;
  }
}

/** The offset of the first character from `at` on that is neither white space nor in a comment. */
function tokenAfter(text: string, comments: Comments, at: number): number {
  let i = at;
  for (;;) {
    const c = commentAt(comments, i);
    if (c !== undefined) i = c[1];
    else if (isJsSpace(text.charCodeAt(i))) i++;
    else return i;
  }
}

/** Whether the value of the expression `node` (under `parent`, at `field`) is thrown away. */
function discarded(node: Node, parent: Node | null, field: string): boolean {
  if (parent === null) return false;
  if (parent.type === 'ExpressionStatement') return true;
  if (parent.type === 'ForStatement') return field === 'init' || field === 'update';
  if (parent.type === 'SequenceExpression') {
    const all = parent.expressions as Node[];
    return all[all.length - 1] !== node;
  }
  return false;
}

/**
 * Whether a `+` at `field` of `parent` is an operand of another `+`, or the right side of a `+=`: then the
 * outer operation's growth check covers it, and the `+` needs none of its own. A string it makes is part
 * of the string the outer one makes (nothing of the script can reach it in between, and joining two
 * strings copies no characters), so the outer check charges those characters once, where a check at
 * every level charged them again at each level. It also keeps a long chain (`a + b + c + ...`) flat: a
 * check nested in a check per term took 500 terms past what V8 compiles.
 */
function insideConcatenation(parent: Node | null, field: string): boolean {
  if (parent === null) return false;
  if (parent.type === 'BinaryExpression') return parent.operator === '+';
  return parent.type === 'AssignmentExpression' && parent.operator === '+=' && field === 'right';
}

/** The offset of the `)` that closes a loop's head, the last one before its body (outside comments). */
function headEnd(text: string, comments: Comments, loopStart: number, bodyStart: number): number {
  for (let i = bodyStart - 1; i > loopStart; i--) {
    const c = commentAt(comments, i);
    if (c !== undefined) i = c[0];
    else if (text.charCodeAt(i) === 0x29) return i;
  }
  throw new EditInComment(bodyStart);
}

export function transformAgentScript(parsed: ParsedSource, globalNames: readonly string[], options: TransformOptions = { guards: true }): TransformResult {
  try {
    return rewrite(parsed, globalNames, options);
  } catch (e) {
    if (!(e instanceof EditInComment)) throw e;
    return {
      issues: [{
        ruleId: 'syntax',
        message: 'Syntax error: a comment stands where the script must be rewritten (between an arrow function\'s `=>` and its body, say).',
        hint: 'Move the comment.',
        ...userLocation(parsed, e.at),
      }],
    };
  }
}

function rewrite(parsed: ParsedSource, globalNames: readonly string[], options: TransformOptions): TransformResult {
  const issues: Issue[] = [];
  const text = parsed.wrapped;
  const ms = new CommentSafeString(text, parsed.comments);
  const budgets = options.guards;

  const issue = (node: Node, ruleId: string, message: string, hint: string) => {
    issues.push({ ruleId, message, hint, ...userLocation(parsed, node.start) });
  };
  const source = (node: Node) => quoted(text.slice(node.start, node.end));

  // Patterns with a rest element. V8 builds an array pattern's rest from the source's iterator in one
  // native step: an iterator whose `next` is itself a builtin (`{ next: Object }`) runs no script code, so
  // no checkpoint, from one element to the next, and the array grows until the heap is gone. So every
  // such pattern destructures a value that went through `sp`, as a spread does, whatever `transform`
  // says; an object pattern's rest copies its source's properties in one step, so its source goes
  // through `os`, as an object spread's does (the `sp` below stands for either).
  // Where the value is an expression of the script's (a declaration's initialiser, an assignment's right
  // side) it is wrapped in place. An assignment target elsewhere becomes `dt((v) => (pattern = sp(v))).v`,
  // a setter that destructures where the value is assigned. A binding pattern elsewhere (inside a larger
  // pattern, a parameter, a `catch` or `for-of` binding) is cut out and replaced by a name of the
  // runtime's, and destructured from `sp(name)` right after: as the next declarators, or at the top of
  // the function, `catch` or loop body. That text is written after the walk, with every edit inside it.
  let temps = 0;
  /** Binding patterns cut out: the runtime's name that stands in their place, and (after the walk) their text. */
  const hoisted = new Map<Node, { name: string; text: string }>();
  /** Text written before and after one character of the source, after the walk (see the end of rewrite). */
  const charEdits = new Map<number, { before: (() => string)[]; after: (() => string)[] }>();
  const charEdit = (at: number) => {
    let e = charEdits.get(at);
    if (e === undefined) charEdits.set(at, (e = { before: [], after: [] }));
    return e;
  };
  /** The guard a pattern's source goes through: `sp` for an array pattern, `os` for an object pattern. */
  const sourceGuard = (u: Node) => (u.type === 'ArrayPattern' ? SP : OS);
  /** `pattern = sp(name, "")` for each pattern cut out, once their texts are known. */
  const destructures = (list: readonly Node[]) => () => list.map((u) => {
    const h = hoisted.get(u) as { name: string; text: string };
    return `${h.text} = ${sourceGuard(u)}(${h.name}, "")`;
  }).join(', ');
  /**
   * Cuts `list` out of the binding `root` (a declarator's pattern, a catch parameter, a function's
   * parameters); false, with an issue, when the rest of the binding reads a name they bind: destructured
   * later, that name would not be bound yet.
   */
  const hoist = (roots: readonly Node[], list: readonly Node[]): boolean => {
    const bound: string[] = [];
    for (const u of list) patternNames(u, bound);
    const names = new Set(bound);
    const skip = new Set(list);
    for (const root of roots) {
      const read = readsAny(root, names, skip);
      if (read !== undefined) {
        issue(read, 'rest-pattern-order', `\`${read.name as string}\` is read in the same binding as the rest pattern that binds it, which AgentScript destructures after the rest of that binding.`, 'Destructure in two steps: first the outer value, then `const [a, ...rest] = value` (or `{ a, ...rest }`).');
        return false;
      }
    }
    for (const u of list) hoisted.set(u, { name: `${RESERVED_PREFIX}_r${++temps}`, text: '' });
    return true;
  };
  /** An assignment target destructured where it is assigned: `dt((v) => (pattern = sp(v, ""))).v`. */
  const assignThrough = (u: Node) => {
    if (suspends(u)) {
      issue(u, 'rest-pattern-await', 'A rest pattern inside a larger assignment pattern cannot hold `await` or `yield` in AgentScript.', 'Destructure in two steps: assign the outer value first, then `[a, ...rest] = value` (or `({ a, ...rest } = value)`).');
      return;
    }
    // (Parenthesized: an object pattern would start a block.)
    ms.appendLeft(u.start, `${DT}((${V}) => (`);
    ms.prependRight(u.end, ` = ${sourceGuard(u)}(${V}, ""))).v`);
  };
  /** Rest patterns in an assignment's target (`=`), or in the target of a `for-in`/`for-of` head. */
  const restInAssignment = (target: Node, right: Node | null, valueUsed: boolean) => {
    // (V8 describes an assignment's source that is not iterable by its value, not by its text.)
    for (const u of restPatterns(target, [])) {
      if (u !== target || right === null || valueUsed) assignThrough(u);
      else {
        ms.appendLeft(right.start, `${sourceGuard(u)}(${open(right)}`);
        ms.prependRight(right.end, `${close(right)}, "")`);
      }
    }
  };
  /** Rest patterns in a declarator with an initialiser: the whole pattern in place, the others after it. */
  const restInDeclarator = (declarator: Node) => {
    const id = declarator.id as Node;
    const init = declarator.init as Node;
    const list = restPatterns(id, []);
    if (list[0] === id) {
      ms.appendLeft(init.start, `${sourceGuard(id)}(${open(init)}`);
      ms.prependRight(init.end, `${close(init)}, ${source(init)})`);
      list.shift();
    }
    if (list.length > 0 && hoist([id], list)) charEdit(declarator.end).before.push(() => `, ${destructures(list)()}`);
  };
  /** Rest patterns of a function's parameters: destructured at the top of its body, as `var`s (parameters may share a name with one). */
  const restInParams = (fn: Node): (() => string) | null => {
    const params = fn.params as Node[];
    const list: Node[] = [];
    for (const p of params) restPatterns(p, list);
    if (list.length === 0 || !hoist(params, list)) return null;
    const decls = destructures(list);
    return () => `var ${decls()}; `;
  };

  /** Async method functions, with the offset of their `async` keyword (it precedes the key). */
  const methodFunctions = new Map<Node, number>();
  /** Computed keys on a callee path (see collectCalleeKeys). */
  const calleeKeys = new Set<Node>();
  /** Offsets where an expression statement starts and no inline check has been written yet. */
  const statementStarts = new Set<number>();
  /** Member expressions that are assignment targets other than `o.length = v` (see memberTarget). */
  const memberTargets = new Set<Node>();
  /**
   * Marks `n` as an assignment target, if it is a member expression. A property of `super` is refused as
   * one: its store lands on `this` (an array's `length` set through it preallocates up to 2^25 elements
   * in one native step, like any other), and `super` cannot be handed to `lt` to charge it first.
   */
  const target = (n: Node | null | undefined) => {
    if (n?.type !== 'MemberExpression') return;
    if ((n.object as Node).type === 'Super') {
      issue(n, 'no-super-assignment', 'Assigning to a property of `super` is not available in AgentScript.', 'Assign to the object itself (`this.x = value`), or call a method of the parent.');
    } else memberTargets.add(n);
  };
  /**
   * The functions and light loops around the walk's position, innermost last, each with where it ends and
   * the inline checks written inside it: a light loop's keep their value in the loop's own `u`, a
   * function's (and those of a function inside such a loop) in the factory's `t`.
   */
  const checkScopes: { end: number; checks: typeof FACTORY_CHECKS }[] = [];
  /** The inline checks (and the local they and `lt` keep a value in) at the walk's position. */
  const checksHere = () => (checkScopes.length > 0 ? (checkScopes[checkScopes.length - 1] as { checks: typeof FACTORY_CHECKS }).checks : FACTORY_CHECKS);
  /** Wraps an expression in an inline check: the string growth check or the BigInt one. */
  const inlineCheck = (node: Node, kind: 'grow' | 'bigint') => {
    const check: InlineCheck = checksHere()[kind];
    const atStatement = statementStarts.delete(node.start);
    ms.appendLeft(node.start, atStatement ? check.statementOpen : check.open);
    ms.prependRight(node.end, atStatement ? check.statementClose : check.close);
  };
  /**
   * An assignment target `o[k]` (or `o.length`, `o['length']`) other than `o.length = v`, written as
   * `lt(o, t = (k))[t]` (or `lt(o, 'length').length`), in every mode: setting an array's `length`
   * preallocates up to 2^25 elements in one native step, and a computed key (`a[k] = 3.3e7` with `k` made
   * at run time), a compound assignment or a destructuring target reached it with nothing charged (24 of
   * them in a loop aborted a 512 MB host). The store stays at the site, so its inline cache does too;
   * numeric and ordinary literal keys are left as they are. False (nothing written) for those, for
   * `super` and for an optional chain (which is no target).
   */
  const memberTarget = (node: Node): boolean => {
    const object = node.object as Node;
    const key = node.property as Node;
    if (object.type === 'Super' || node.optional === true) return false;
    const length = isLengthMember(node);
    if (node.computed === true && !length) {
      if (isSafeStaticKey(key) && protectedName(key, true) === undefined && !farIndex(key)) return false;
      // The key's own parentheses stay inside (the tree keeps none: `a[(k)]` has the key `k`).
      let bracket = tokenBefore(text, parsed.comments, key.start);
      while (text[bracket] === '(') bracket = tokenBefore(text, parsed.comments, bracket);
      const end = node.end - 1;
      if (text[bracket] !== '[' || text[end] !== ']') throw new Error(`rewriter: no brackets around the key at ${key.start}`);
      statementStarts.delete(node.start);
      const { temp } = checksHere();
      ms.appendLeft(node.start, `${LT}(`);
      ms.update(bracket, bracket + 1, `, ${temp} = (`);
      ms.update(end, end + 1, `))[${temp}]`);
      return true;
    }
    if (!length) return false;
    statementStarts.delete(node.start);
    ms.appendLeft(node.start, `${LT}(`);
    ms.prependRight(object.end, ", 'length')");
    return true;
  };
  /** Per function and loop around the walk's position, innermost last (see SiteScope and STEP_SITES). */
  const siteScopes: SiteScope[] = [{ end: Infinity, kind: 'function', sites: 0, peak: 0, entry: false }];
  /** Where each optional chain around the walk's position ends: what follows a `?.` may be skipped. */
  const chainEnds: number[] = [];
  /** Counts a site of the innermost scope; every STEP_SITES-th goes through `y()` first. */
  const stepSite = (node: Node) => {
    const scope = siteScopes[siteScopes.length - 1] as SiteScope;
    if (++scope.sites < STEP_SITES) {
      if (scope.sites > scope.peak) scope.peak = scope.sites;
      return;
    }
    scope.sites = 0;
    // At a statement's start, as a sequence that starts with a name (see inlineChecks on why).
    if (statementStarts.delete(node.start)) ms.appendLeft(node.start, `${Y}(), `);
    else {
      ms.appendLeft(node.start, `(${Y}(), `);
      ms.prependRight(node.end, ')');
    }
  };
  /**
   * Leaves the innermost scope. A function's body runs from a call, a stopping point, so its sites end
   * there. A branch joins its scope's paths: the count after it is the larger of the two (counted in
   * source order, a `y()` every eighth site landed in `if (x) ...` as often as not, and a script whose
   * every eighth site sat in a branch that never ran met no call at all: 3.6 s past the deadline). A
   * loop's back edge is a stopping point too (V8 checks the stack limit, and so the termination, at
   * each), but a visit that ends in its first turn (`do { ... } while (0)`, a `break`) takes none: its
   * sites run on from the code before the loop into the code after it, and counted from zero per loop,
   * a script of such loops (or of loops nested so) met seven slow steps per loop and no call (2.3 s past
   * the deadline). So a loop's sites carry on from the enclosing count: when a path could reach
   * STEP_SITES, the visit calls `y()` as it starts (once per visit, not per turn), and the count after
   * the loop is the most its visit can have run since a stopping point.
   */
  const leaveSiteScope = () => {
    const inner = siteScopes.pop() as SiteScope;
    const outer = siteScopes[siteScopes.length - 1];
    if (inner.kind === 'function' || outer === undefined) return;
    // The most a branch reached, not where it ended: a `break` may leave it anywhere (a `case`, a block
    // with a label), and the sites after it in its text never ran.
    if (inner.kind === 'branch') {
      if (inner.peak > outer.sites) outer.sites = inner.peak;
    } else if (inner.peak > 0) {
      if (outer.sites + inner.peak >= STEP_SITES) {
        inner.entry = true;
        outer.sites = inner.peak;
      } else outer.sites += inner.peak;
    }
    if (inner.peak > outer.peak) outer.peak = inner.peak;
    if (outer.sites > outer.peak) outer.peak = outer.sites;
  };
  /** Whether a labelled statement labels a loop (whose own scope sees a `break` out of it). */
  const labelsLoop = (node: Node) => {
    let body = node.body as Node;
    while (body.type === 'LabeledStatement') body = body.body as Node;
    return isLoop(body);
  };
  const { tree, weights, suspending } = treeFacts(parsed);
  const placesCalls = callsOnlyCallTool(tree);
  const weightOf = (n: Node) => weights.get(n) ?? 0;
  // The validator's walker: an explicit stack (user code can nest deeply) and source order.
  /** Rest patterns in a `for-in`/`for-of` head: a declaration's are destructured at the top of the body. */
  const restInLoopHead = (loop: Node) => {
    const left = loop.left as Node;
    if (left.type !== 'VariableDeclaration') {
      restInAssignment(left, null, true);
      return;
    }
    const id = (left.declarations as Node[])[0]?.id as Node;
    const list = restPatterns(id, []);
    if (list.length === 0 || !hoist([id], list)) return;
    const decls = destructures(list);
    const kind = left.kind as string;
    // After the head's `)`: the body, whatever it is, inside a block that destructures first.
    charEdit(headEnd(text, parsed.comments, loop.start, (loop.body as Node).start)).after.push(() => ` { ${kind} ${decls()}; `);
    ms.prependRight((loop.body as Node).end, ' }');
  };

  // A trailing expression statement is the script's value, as in a REPL.
  const last = parsed.body[parsed.body.length - 1];
  const valueStatement = last && last.type === 'ExpressionStatement' && !(last as { directive?: unknown }).directive ? last : null;
  /** Where each labelled loop's outermost label starts: a loop's grant block goes around its labels. */
  const labelled = new Map<Node, number>();

  /**
   * `o.constructor = v` (or any write to it) turns off V8's species fast paths for the whole process when
   * `o` is an array or a RegExp, even when the write fails on the frozen prototype's read-only
   * `constructor`: V8 drops the flag when it looks the key up; `o.next = v` the iterator fast paths when
   * `o` is an iterator, `o.valueOf = v` another when it is a String object. Written `ct(o, 'next').next`,
   * which throws for those (see Guards.ct).
   */
  const refuseProtectedTarget = (member: Node) => {
    const object = member.object as Node;
    ms.appendLeft(object.start, `${guard('ct')}(${open(object)}`);
    ms.prependRight(object.end, `${close(object)}, '${protectedName(member.property as Node, false) as string}')`);
  };
  /**
   * `callTool(a, b)` becomes `callTool(a, cs(line, column, b))` (see Guards.cs): the call's place rides on
   * its last argument, evaluated after every other part of the call, so the runtime need not capture the
   * stack at the call (about 64 K instructions a call, the host's frames under the realm entry included).
   * Written as the walk enters the call, before any check inside its last argument, so that it wraps them.
   * Not for a call with no argument or a spread last (nothing to wrap whole), nor for `callTool?.()` or a
   * parenthesized callee (V8 may place those elsewhere): those capture their frames as before.
   */
  const placeToolCall = (node: Node) => {
    const callee = node.callee as Node;
    const args = node.arguments as Node[];
    const lastArg = args[args.length - 1];
    if (callee.type !== 'Identifier' || callee.name !== 'callTool' || node.optional === true || callee.start !== node.start || lastArg === undefined || lastArg.type === 'SpreadElement') return;
    const { line, column } = userLocation(parsed, node.start);
    ms.appendLeft(lastArg.start, `${CS}(${line}, ${column}, `);
    ms.prependRight(lastArg.end, ')');
  };
  /** Class bodies of classes with a heritage, as the walk enters them (before their fields). */
  const classHeritage = new Set<Node>();
  let addsPrivateNames = false;
  walkFlat(tree, { enter(node, parent, field, type) {
    while (checkScopes.length > 0 && node.start >= (checkScopes[checkScopes.length - 1] as { end: number }).end) checkScopes.pop();
    while (node.start >= (siteScopes[siteScopes.length - 1] as { end: number }).end) leaveSiteScope();
    while (chainEnds.length > 0 && node.start >= (chainEnds[chainEnds.length - 1] as number)) chainEnds.pop();
    if (type === 'ChainExpression') chainEnds.push(node.end);
    if ((type === 'LabeledStatement' && parent?.type !== 'LabeledStatement' && !labelsLoop(node)) || (parent !== null && (BRANCH_FIELDS[parent.type]?.includes(field) === true || (parent.type === 'AssignmentExpression' && LOGICAL_ASSIGN.has(parent.operator as string) && field === 'right') ||
      (chainEnds.length > 0 && (field === 'arguments' || (field === 'property' && parent.computed === true)))))) {
      const outer = siteScopes[siteScopes.length - 1] as SiteScope;
      siteScopes.push({ end: node.end, kind: 'branch', sites: outer.sites, peak: outer.sites, entry: false });
    }
    // Before whatever the walk writes at that offset (a string check starts there for `a + b`).
    if (node === valueStatement) ms.appendLeft(node.start, 'return ');
    if (isFunctionType(type) || isLoopType(type)) siteScopes.push({ end: node.end, kind: isLoopType(type) ? 'loop' : 'function', sites: 0, peak: 0, entry: false });
    // Outermost at its offsets, before the checks below, so that they close inside it.
    else if (
      (type === 'BinaryExpression' && SLOW_BINARY.has(node.operator as string) && !(isNumericLiteral(node.left as Node) && isNumericLiteral(node.right as Node))) ||
      (type === 'UnaryExpression' && SLOW_UNARY.has(node.operator as string) && !isNumericLiteral(node.argument as Node)) ||
      type === 'UpdateExpression' ||
      (type === 'AssignmentExpression' && SLOW_ASSIGN.has(node.operator as string))
    ) stepSite(node);
    else if (type === 'SwitchCase' && isNode(node.test)) stepSite(node.test as Node);
    switch (type) {
      case 'LabeledStatement': {
        if (parent?.type === 'LabeledStatement') break;
        let body = node.body as Node;
        while (body.type === 'LabeledStatement') body = body.body as Node;
        if (isLoop(body)) labelled.set(body, node.start);
        break;
      }
      case 'ImportExpression':
        issue(node, 'no-dynamic-import', 'Dynamic import() is not available in AgentScript.', 'Use callTool(...) to reach host functionality.');
        return false;
      case 'MetaProperty':
        issue(node, 'no-meta-property', '`import.meta` and `new.target` are not available in AgentScript.', 'Remove it.');
        return false;
      case 'Identifier':
      case 'PrivateIdentifier': {
        const name = node.name as string;
        if (name.startsWith(RESERVED_PREFIX)) {
          issue(node, 'reserved-prefix', `Identifiers starting with "${RESERVED_PREFIX}" are reserved for the runtime: "${name}".`, 'Rename the identifier.');
        }
        return false;
      }
      case 'CallExpression':
        if (placesCalls) placeToolCall(node);
        collectCalleeKeys(node.callee as Node, calleeKeys);
        break;
      case 'NewExpression':
        collectCalleeKeys(node.callee as Node, calleeKeys);
        break;
      case 'TaggedTemplateExpression':
        collectCalleeKeys(node.tag as Node, calleeKeys);
        break;
      case 'ExpressionStatement':
        statementStarts.add(node.start);
        break;
      default:
        break;
    }

    // The span `ls` replaces in an assignment written as `o.length = v` (see lengthStoreIn), or null.
    const lengthSpan = type === 'AssignmentExpression' ? lengthStoreIn(text, parsed.comments, node) : null;
    // Assignment targets: a member among them is written through `lt` when it is visited (see memberTarget).
    if (type === 'AssignmentExpression') {
      // `o.length = v` is `ls(o, v)` (below); `a[k]++` grows by one at most.
      if (lengthSpan === null) target(node.left as Node);
    } else if (type === 'ForInStatement' || type === 'ForOfStatement') target(node.left as Node);
    // `o[k]++` stores as `o[k] = v` does, and `super.next++` on `this`: a key V8 guards turns off a
    // protector of the isolate there too, even when the store then fails on a frozen object.
    else if (type === 'UpdateExpression') target(node.argument as Node);
    else if (type === 'ArrayPattern') for (const element of node.elements as (Node | null)[]) target(element);
    else if (type === 'ObjectPattern') for (const prop of node.properties as Node[]) target(prop.type === 'RestElement' ? (prop.argument as Node) : (prop.value as Node));
    else if (type === 'AssignmentPattern' || type === 'RestElement') target((type === 'RestElement' ? node.argument : node.left) as Node);
    // A delete looks its key up as a write does, and turns off the same protectors (see Guards.ct).
    else if (type === 'UnaryExpression' && node.operator === 'delete') {
      const argument = node.argument as Node;
      const chained = argument.type === 'ChainExpression' ? (argument.expression as Node) : null;
      if (chained === null) target(argument);
      else if (chained.type === 'MemberExpression' && (chained.computed === true || protectedName(chained.property as Node, false) !== undefined)) {
        // An optional chain cannot take a guard around its object without changing where it stops.
        issue(node, 'no-optional-delete', 'Deleting a computed, `next`, `valueOf` or `constructor` property through an optional chain is not available in AgentScript.', 'Test the object first: `if (o) delete o[k];`.');
      }
    }

    if (((type === 'Property' && node.method === true) || type === 'MethodDefinition') && isNode(node.value) && (node.value as Node).async === true) {
      const key = node.key as Node;
      methodFunctions.set(node.value as Node, findAsyncKeyword(text, parsed.comments, node.start, key.start));
    }

    if (isFunctionType(type)) {
      checkScopes.push({ end: node.end, checks: FACTORY_CHECKS });
      const body = node.body as Node;
      const isAsync = node.async === true;
      const isGen = node.generator === true;
      const paramRests = restInParams(node);
      if (paramRests !== null && body.type === 'BlockStatement') charEdit(body.start).after.push(paramRests);
      /** Opens an expression body: `head` then `return (`, with the parameters' rest patterns between. */
      const openExpressionBody = (at: number, head: string) => {
        if (paramRests === null) ms.appendLeft(at, `${head}return (`);
        else charEdit(at - 1).after.push(() => `${head}${paramRests()}return (`);
      };
      if (isAsync && !isGen) {
        // The async function becomes a plain one (its keyword goes: at the property for methods, at the
        // function's own start otherwise) around an async arrow that holds the original body.
        const kw = methodFunctions.has(node) ? (methodFunctions.get(node) as number) : node.start;
        if (kw >= 0 && text.startsWith('async', kw)) ms.remove(kw, kw + 5);
        const enter = budgets ? ` ${syncEnter(weightOf(node))}` : ` ${loopGuard(weightOf(node))}`;
        const exit = budgets ? ` ${SYNC_EXIT}` : '';
        const run = `const ${P} = (async () => { try `;
        const done = ` ${ASYNC_CATCH} })(); return ${AM}(${P});${exit} }`;
        if (body.type === 'BlockStatement') {
          // The original block becomes the `try` block of the inner arrow.
          ms.appendLeft(body.start, `{${enter} ${run}`);
          ms.prependRight(body.end, done);
        } else {
          // Expression body: `x => expr` becomes `x => { ... try { return (expr); } ... }`. The parenthesis
          // keeps `return` from being cut off by automatic semicolon insertion when `expr` starts on a new line.
          const at = arrowBodyInsertion(text, parsed.comments, node.start, body.start);
          openExpressionBody(at, ` {${enter} ${run}{ `);
          ms.prependRight(node.end, `); }${done}`);
        }
      } else if (body.type === 'BlockStatement') {
        if (isAsync) {
          // An async generator: the same rethrow after a microtask, so no request promise of it is
          // rejected inside a deep synchronous call chain.
          ms.appendLeft(body.start + 1, `try { ${loopGuard(weightOf(node))}`);
          ms.prependRight(body.end - 1, `} ${ASYNC_CATCH.replace(`${AR}(${P}, ${X})`, X)}`);
        } else if (budgets && !isGen) {
          ms.appendLeft(body.start + 1, syncEnter(weightOf(node)));
          ms.prependRight(body.end - 1, SYNC_EXIT);
        } else ms.appendLeft(body.start + 1, loopGuard(weightOf(node)));
      } else {
        const at = arrowBodyInsertion(text, parsed.comments, node.start, body.start);
        if (budgets) {
          openExpressionBody(at, ` { ${syncEnter(weightOf(node))} `);
          ms.prependRight(node.end, `); ${SYNC_EXIT} }`);
        } else {
          openExpressionBody(at, ` { ${loopGuard(weightOf(node))} `);
          ms.prependRight(node.end, '); }');
        }
      }
    } else if (isLoopType(type)) {
      const body = node.body as Node;
      const weight = weightOf(node);
      let check: string;
      // Known once the walk has left the loop (see leaveSiteScope): whether its visits call `y()` first.
      const scope = siteScopes[siteScopes.length - 1] as SiteScope;
      if (weight < HEAVY_WEIGHT && !suspending.has(node)) {
        // First, so that its closing text comes after the body's (a later prependRight goes before it).
        ms.prependRight(node.end, GRANT_CLOSE);
        // Its first character's own text, after anything earlier code inserts at that offset.
        charEdit(labelled.get(node) ?? node.start).before.push(() => (scope.entry ? GRANT_OPEN_Y : GRANT_OPEN));
        checkScopes.push({ end: node.end, checks: LOOP_CHECKS });
        check = GRANT_GUARD;
      } else {
        check = loopGuard(weight);
        // A heavy loop has no block of its own to start in: its turns call `y()` (a turn of it is long).
        charEdit(body.start)[body.type === 'BlockStatement' ? 'after' : 'before'].push(() => (scope.entry ? `${Y}();` : ''));
      }
      if (type === 'ForOfStatement' || type === 'ForInStatement') restInLoopHead(node);
      if (type === 'ForInStatement') {
        // (A sequence is parenthesized again: `for (k in a, b)` lists `b`.)
        const right = node.right as Node;
        ms.appendLeft(right.start, `${FI}(${open(right)}`);
        ms.prependRight(right.end, `${close(right)})`);
      }
      if (body.type === 'BlockStatement') ms.appendLeft(body.start + 1, check);
      else {
        ms.appendLeft(body.start, `{ ${check} `);
        ms.prependRight(body.end, ' }');
      }
    } else if (type === 'CatchClause') {
      // What was caught is handed over first, so a V8 message that quotes a guard is put back into the
      // user's words before the script reads it. A destructuring pattern reads it on entry: the error is
      // caught under a name of the runtime's, cleaned, and thrown to an inner catch with the pattern.
      const param = node.param as Node | null;
      const body = node.body as Node;
      if (param === null || param.type === 'Identifier') ms.appendLeft(body.start + 1, param ? `${C}(${param.name as string});` : `${C}();`);
      else {
        ms.appendLeft(param.start, `${E}) { ${C}(${E}); try { throw ${E}; } catch (`);
        const list = restPatterns(param, []);
        if (list.length > 0 && hoist([param], list)) {
          const decls = destructures(list);
          charEdit(body.start).after.push(() => `let ${decls()}; `);
        }
        ms.appendLeft(body.start + 1, `${C}();`);
        ms.prependRight(body.end, ' }');
      }
    } else if (type === 'ThrowStatement') {
      // The statement's place travels with the value: one with no stack of its own is located there.
      const arg = node.argument as Node;
      const { line, column } = userLocation(parsed, node.start);
      ms.appendLeft(arg.start, `${TH}(${open(arg)}`);
      ms.prependRight(arg.end, `${close(arg)}, ${line}, ${column})`);
    } else if (type === 'TryStatement' && node.finalizer) {
      ms.appendLeft((node.finalizer as Node).start + 1, `${C}();`);
    } else if (memberTargets.has(node) && memberTarget(node)) {
      // Written as `lt(o, t = key)[t]` (see memberTarget): `lt` checks the key as `m` would.
    } else if (type === 'ClassBody' && parent?.superClass) {
      // A class with a heritage defines its fields on what its base returned, which may be an iterator or a
      // String object (or, for `extends Array`, an array): a field `next` or `valueOf` there would turn off
      // a protector of the isolate (see Guards.ct). Its instance is checked first, by a private field of the
      // runtime's that comes before the script's own (fields are defined in order, after the base returns).
      classHeritage.add(node);
      const names = new Set<string>();
      for (const el of node.body as Node[]) {
        const name = el.type === 'PropertyDefinition' && el.static !== true ? protectedName(el.key as Node, el.computed === true) : undefined;
        if (name !== undefined) names.add(name);
        // An element far past the end of a long array that the base returned would turn its elements into a
        // dictionary (see elementWrite in the runtime): a computed key may be one, so it is checked as one.
        if (el.type === 'PropertyDefinition' && el.static !== true && (el.computed === true || farIndex(el.key as Node))) names.add(FAR_INDEX);
      }
      let i = 0;
      for (const name of names) ms.appendLeft(node.start + 1, ` #${RESERVED_PREFIX}_f${i++} = ${guard('ct')}(this, '${name}');`);
      if (i > 0) addsPrivateNames = true;
    } else if (type === 'PropertyDefinition' && node.computed === true) {
      // A class field is defined on the instance, which an `Array` base, or a base constructor that returns
      // an array, makes an array: `[k] = 1` with k = 'constructor' would turn off V8's species fast paths
      // for the whole process (see speciesHolder in the runtime), so its key goes through `m` too; in a
      // class with a heritage through `fk`, which also refuses the other keys V8 guards (see Guards.fk).
      const key = node.key as Node;
      const heritage = parent?.type === 'ClassBody' && classHeritage.has(parent) && node.static !== true;
      if (heritage || (budgets && !isSafeStaticKey(key))) {
        ms.appendLeft(key.start, `${heritage ? guard('fk') : M}(${open(key)}`);
        ms.prependRight(key.end, `${close(key)})`);
      }
    } else if (type === 'MemberExpression' && node.computed !== true && constructorTarget(node, parent, field)) {
      refuseProtectedTarget(node);
    } else if (type === 'MemberExpression' && node.computed === true) {
      const key = node.property as Node;
      if (budgets && !isSafeStaticKey(key)) {
        const onCallee = calleeKeys.has(key);
        ms.appendLeft(key.start, `${onCallee ? MC : M}(${open(key)}`);
        ms.prependRight(key.end, `${close(key)}${onCallee ? `, ${source(key)}` : ''})`);
      }
    } else if (type === 'VariableDeclarator' && node.init) {
      restInDeclarator(node);
    } else if (type === 'AssignmentExpression' && node.operator === '=' && (node.left as Node).type.endsWith('Pattern')) {
      restInAssignment(node.left as Node, node.right as Node, !discarded(node, parent, field));
    } else if (type === 'ObjectPattern') {
      // Destructuring reads keys: `const { [k]: v } = obj` is a computed read like `obj[k]`.
      for (const prop of node.properties as Node[]) {
        const key = prop.key as Node | undefined;
        if (budgets && prop.computed === true && key && !isSafeStaticKey(key)) {
          ms.appendLeft(key.start, `${M}(${open(key)}`);
          ms.prependRight(key.end, `${close(key)})`);
        }
        if (prop.type === 'Property' && constructorMember(prop.value as Node)) refuseProtectedTarget(prop.value as Node);
      }
    } else if (type === 'BinaryExpression' && node.operator === '+') {
      if (!(isNumericLiteral(node.left as Node) && isNumericLiteral(node.right as Node)) && !insideConcatenation(parent, field)) {
        inlineCheck(node, 'grow');
      }
    } else if (type === 'AssignmentExpression' && node.operator === '+=') {
      inlineCheck(node, 'grow');
    } else if (type === 'BinaryExpression' && BIGINT_GROWTH.has(node.operator as string)) {
      // With a number literal on either side the result is a number (a BigInt operand would throw).
      if (!isNumericLiteral(node.left as Node) && !isNumericLiteral(node.right as Node)) inlineCheck(node, 'bigint');
    } else if (type === 'AssignmentExpression' && BIGINT_GROWTH_ASSIGN.has(node.operator as string)) {
      if (!isNumericLiteral(node.right as Node)) inlineCheck(node, 'bigint');
    } else if (type === 'TemplateLiteral' && field !== 'quasi' && (node.expressions as Node[]).length > 0) {
      // (A tagged template's quasi is not a string of its own: the tag receives the parts.)
      inlineCheck(node, 'grow');
    } else if (type === 'ObjectExpression') {
      // `{ ...str }` copies every character of a string as a property: bounded like Object.assign.
      for (const prop of node.properties as Node[]) {
        if (prop.type === 'SpreadElement') {
          const arg = prop.argument as Node;
          ms.appendLeft(arg.start, `${OS}(${open(arg)}`);
          ms.prependRight(arg.end, `${close(arg)})`);
        }
      }
    } else if (type === 'ArrayExpression' || type === 'CallExpression' || type === 'NewExpression') {
      // Array and argument spreads iterate, so they can produce more elements than their source
      // holds (an iterator over a huge sparse array); object spreads are bounded above instead.
      const items = (type === 'ArrayExpression' ? node.elements : node.arguments) as (Node | null)[];
      for (const item of items) {
        if (item && item.type === 'SpreadElement') {
          const arg = item.argument as Node;
          ms.appendLeft(arg.start, `${SP}(${open(arg)}`);
          ms.prependRight(arg.end, `${close(arg)}, ${source(arg)})`);
        }
      }
    }
    // After the checks above, so that its parenthesis closes inside theirs (`a.length += n` has both).
    if (lengthSpan !== null) {
      // `o.length = v` becomes `ls(o, v)`: the object, then the value, then the assignment, as before.
      // (The statement no longer starts with the object: a check around it takes the inner form.)
      const left = node.left as Node;
      statementStarts.delete(node.start);
      ms.appendLeft(left.start, `${LS}(`);
      ms.overwrite(lengthSpan[0], lengthSpan[1], ',');
      ms.prependRight((node.right as Node).end, ')');
    }
    return true;
  } });
  // The scopes the walk never left (they end the script): a loop among them may still start a long path.
  while (siteScopes.length > 1) leaveSiteScope();

  if (issues.length > 0) return { issues };

  // The rest patterns cut out, and the text written beside single characters, in source order by where
  // each ends: a pattern's text is read once every edit inside it is written (patterns and characters
  // inside it come first), and a character's text once the patterns it destructures are read (they stand
  // before it). The character keeps the edits around it: closing checks of an initialiser before it, the
  // opening ones of what follows after it.
  const events: { at: number; u?: Node }[] = [];
  for (const u of hoisted.keys()) events.push({ at: u.end, u });
  for (const at of charEdits.keys()) events.push({ at });
  events.sort((a, b) => a.at - b.at || (a.u ? -1 : 1));
  for (const { at, u } of events) {
    if (u !== undefined) {
      const h = hoisted.get(u) as { name: string; text: string };
      h.text = ms.slice(u.start, u.end);
      ms.overwrite(u.start, u.end, h.name);
    } else {
      const e = charEdits.get(at) as { before: (() => string)[]; after: (() => string)[] };
      const around = (parts: (() => string)[]) => parts.map((f) => f()).join('');
      ms.overwrite(at, at + 1, `${around(e.before)}${text[at] as string}${around(e.after)}`, { contentOnly: true });
    }
  }

  const params = wrapperParams(globalNames).join(', ');
  // Both functions are parenthesized: V8 compiles a parenthesized function expression eagerly, with
  // the code around it. Without the parentheses it pre-parses the script's whole text at compile time
  // and parses it twice more on the first calls (the factory, then the body): for a script never seen
  // before, that is most of what its run costs V8.
  const opening = `${REALM_ENTRIES.register}((function (${params}) { 'use strict'; `;
  const locals = PROLOGUES[budgets ? 1 : 0];
  // The wrapped text is `<prefix line>\n<user code>\n}`: replace the prefix line (keeping its newline)
  // and the closing brace, so user line k is output line k + 1.
  ms.overwrite(0, WRAP_PREFIX.length - 1, `${opening}${locals}return (async function () {`);
  ms.overwrite(text.length - 1, text.length, '}); }));');

  let code = ms.toString();
  // The header is the text's start (every other edit lies at or after the user's code); were it ever
  // not, the prologue is not located, and the syntax check reads the whole text.
  let prologueAt: readonly [number, number] = code.startsWith(opening) && code.startsWith(locals, opening.length) ? [opening.length, opening.length + locals.length] : [0, 0];
  if (prologueAt[1] > 0) {
    // Only the guards the text calls are bound (see GUARD_FIELDS): the header is written again with them,
    // in the same chunk of the MagicString, so that its edits still describe `code` (see anchorsOf).
    const used = prologue(budgets, guardsIn(code, prologueAt[1]));
    ms.overwrite(0, WRAP_PREFIX.length - 1, `${opening}${used}return (async function () {`);
    code = `${opening}${used}${code.slice(prologueAt[1])}`;
    prologueAt = [opening.length, opening.length + used.length];
  }
  return { output: { code, ...positionLookup(ms, code, parsed.code), prologue: prologueAt, addsPrivateNames }, issues };
}

/**
 * Whether every `callTool` of the tree is the callee of a call: then no name of the script's can be
 * bound to anything else (a declaration, a parameter, a label or a property key is an Identifier too, and
 * so is a `callT\u006fol` escape, decoded by the parser), and each such call calls the factory's own
 * `callTool`, which may be told its place (see Guards.cs). Anything else (an alias, `xs.map(callTool)`,
 * `typeof callTool`, a shadowing binding) and no call is placed: they capture their frames as before.
 */
function callsOnlyCallTool(tree: FlatTree): boolean {
  const { nodes, types, parents, keys } = tree;
  for (let i = 0; i < nodes.length; i++) {
    if (types[i] !== 'Identifier' || (nodes[i] as Node).name !== 'callTool') continue;
    if (keys[i] !== 'callee' || parents[i]?.type !== 'CallExpression') return false;
  }
  return true;
}

/**
 * The guards a factory binds to locals of its own in its prologue (see `prologue`), by their local's name,
 * with the field of the guard object each reads.
 */
const GUARD_FIELDS: ReadonlyMap<string, keyof Guards> = new Map<string, keyof Guards>([
  [DMAX, 'D'], [F, 'f'], [G, 'g'], [R, 'r'], [C, 'c'], [M, 'm'], [MC, 'mc'], [SP, 'sp'], [OS, 'os'], [DT, 'dt'],
  [LS, 'ls'], [LT, 'lt'], [FI, 'fi'], [BN, 'bn'], [AM, 'am'], [AR, 'ar'], [TH, 'th'], [S, 'big'], [Y, 'y'], [CS, 'cs'],
]);
/** What follows `__ek_` in a guard's local: one or two characters. */
const LOCAL_AT = `${RESERVED_PREFIX}_`.length;
/** GUARD_FIELDS' locals by the one or two characters after `__ek_` (the first's code * 128 + the second's, or 0). */
const GUARD_KEYS: ReadonlyMap<number, string> = new Map([...GUARD_FIELDS.keys()].map((local) => [localKey(local, LOCAL_AT, local.length), local]));

function localKey(text: string, from: number, end: number): number {
  return end - from === 1 ? text.charCodeAt(from) * 128 : end - from === 2 ? text.charCodeAt(from) * 128 + text.charCodeAt(from + 1) : -1;
}

/**
 * The locals of GUARD_FIELDS that `code` names from `from` on: every name that starts with the reserved
 * prefix there, read to its end (a user's name never has the prefix; a string or comment of the user's
 * that holds one only binds a guard more). A text that names none of a guard's local never reads it.
 * Read by character codes: the names are not cut out of the text.
 */
function guardsIn(code: string, from: number): Set<string> {
  const names = new Set<string>();
  for (let at = code.indexOf(RESERVED_PREFIX, from); at >= 0; at = code.indexOf(RESERVED_PREFIX, at + LOCAL_AT)) {
    let end = at + LOCAL_AT;
    while (end < code.length && isNameChar(code.charCodeAt(end))) end++;
    const local = code.charCodeAt(at + LOCAL_AT - 1) === 0x5f ? GUARD_KEYS.get(localKey(code, at + LOCAL_AT, end)) : undefined;
    if (local !== undefined) names.add(local);
  }
  return names;
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24;
}

/**
 * The header's prologue, after the factory's `'use strict'`: the guards' locals, and the call that hands
 * the runtime their accessors. Each guard's local is declared only where `used` holds it (all of them by
 * default): a text's compile parses, and its factory runs, one declaration and one property load per
 * guard, and an agent script calls a few of the nineteen (callgrind: 830 K -> 750 K instructions to
 * compile bench's agent script, out of about 6 M a never-seen run).
 *
 * All `var`: no script can name them (the reserved prefix), and a `let` or `const` of the factory read
 * from the script's function carries a TDZ check at each read. That check's throw is an exit V8's
 * optimising compiler does not mark, so it would not peel a loop that calls a guard (`g`, `y`, `big`),
 * and the loop's values stayed tagged in its optimised code: a 3e6-turn `sum += i % 7` loop ran 220.6 M
 * instructions a run on the main thread before, 165.6 M now (callgrind, Node 20); see docs/performance.md.
 */
function prologue(budgets: boolean, used?: ReadonlySet<string>): string {
  const guards: string[] = [];
  for (const [local, field] of GUARD_FIELDS) if (used === undefined || used.has(local)) guards.push(`${local} = ${guard(field)}`);
  return (
    `var ${N} = 0, ${L} = ${guard('L')}, ${D} = 0, ${W} = 0, ${T}; ${guards.length > 0 ? `var ${guards.join(', ')}; ` : ''}` +
    `${guard('bind')}(() => ${N}, (v) => { ${L} = v; }, () => ${D}, ${budgets ? 1 : 0}); `
  );
}
const PROLOGUES = [prologue(false), prologue(true)] as const;
