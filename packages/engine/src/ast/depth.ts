/**
 * How deep oxc-parser must recurse to read a text, over-estimated from the pre-scan lexer's view of it,
 * before oxc reads it. oxc parses on the host's own thread, in native code whose recursion (building the
 * tree, then converting and freeing it) has no stack check: a text that nests deeply enough overflows the
 * thread's stack and the process dies of a segmentation fault, not an error. Brackets are bounded by the
 * pre-scan's nesting limit (which `check()` and `scoreAgentScript` do not run), but most of JavaScript
 * nests without them. On Node's 8 MB main-thread stack, about 7,000 levels of `if (a)`, 10,000 of `a =`
 * or `a ? b :`, 50,000 of prefix operators and 60,000 of `1 +`, `a &&` or tagged templates, and 150,000 of
 * `f()` or `a.b`, killed the process (a worker thread has 4 MB): `a=a=a=...`, 30 KB, within STRICT's
 * limits.
 *
 * The estimate is in units of about 140 bytes of native stack (what a level of `1 +` took). Within each
 * bracket (and template `${`), it adds up the tokens that may open a level:
 *   - 8 for an assignment (`=` and every compound form), `=>`, a conditional's `?` and every `:`, `...`,
 *     `yield`, a `class` in another's `extends`, a bracket that is open, and a statement word (`if`,
 *     `else`, `for`, `while`, `do`, `with`);
 *   - 2 for `new` and `**` (16,000 and 20,000 levels overflowed);
 *   - 1 for a prefix `!`, `~`, `+`, `-`, `++`, `--`, `typeof`, `void`, `delete`, `await` (25,000 levels
 *     and more), any other operator (binary, `.`, `?.`, postfix), a template, `in`, `instanceof`, and a
 *     `)` or `]` that closed (a call, an index, a group: what follows may chain on it).
 * An expression ends at a `,` or `;` of its own bracket, so its units count from there. A statement that
 * takes another ends with it, at a `;` or at the `}` of a block that stands as a statement (not a
 * function's body), unless `else` (or a do-while's `while`) follows, which goes on one level deeper:
 * statement units (and those of any expression in the same bracket) count from the last such end.
 * Words count wherever they stand, property names included, and keywords spelled with escapes as
 * keywords: the estimate only errs upwards (in flat code too: 8,192 function declarations or `switch`
 * statements side by side in one block reach it, each `(...)` counting one). The largest JavaScript bundles in this repository's
 * dependencies (webpack, babel, terser, 0.3 to 2.5 MB) stay under a sixth of the limit.
 */
import { lex, type LexContext, type LexSink } from './lexer.js';

/** The most units (see above) a text may reach, in levels of the costliest kind: 8,192 units. */
export const MAX_PARSE_DEPTH = 1024;
const HEAVY = 8;
const LIGHT = 1;

/** Prefix words by what a level of them costs: `yield` nests an assignment, `new` a member and its arguments. */
const PREFIX_WORDS: ReadonlyMap<string, number> = new Map([
  ['yield', 8],
  ['new', 2],
  ['typeof', 1],
  ['void', 1],
  ['delete', 1],
  ['await', 1],
]);
const BINARY_WORDS: ReadonlySet<string> = new Set(['in', 'instanceof']);
const STATEMENT_WORDS: ReadonlySet<string> = new Set(['if', 'else', 'for', 'while', 'do', 'with']);

/**
 * Tokens after which a `/` reads two ways, so that the lexer (which decides by the previous token, as
 * V8's scanner is told by its parser) may take a regex literal for a division or the other way round,
 * and then a quote or a backtick inside it for the start of a string: `of` and `await` are names in
 * some places and keywords in others; after `break`, `continue` or `debugger` and a line break, and
 * after a `}` that ends a block, a statement (and so a regex) begins; a `for await (...)` head is one
 * the lexer does not know. A script that means a regex or a division there can write it in parentheses.
 */
const AMBIGUOUS_BEFORE_SLASH: ReadonlySet<string> = new Set(['of', 'await', 'break', 'continue', 'debugger', '}', 'for await (...)']);

/** Why the estimate refuses a text: each has its own rule id and message (see ast/parse.ts). */
export type DepthRefusal = 'depth' | 'escaped-keyword' | 'ambiguous-slash' | 'hashbang';

/**
 * Keywords that are names wherever they are not keywords, and that the lexer and a parser read alike
 * spelled with escapes (a name, then what follows it as after a name; `\u{67}et` is a legal name, and
 * `\u0067et x() {}` an error V8 reports): never refused for their escapes. A `/` after `of` is refused
 * on its own (see AMBIGUOUS_BEFORE_SLASH).
 */
const ESCAPABLE: ReadonlySet<string> = new Set(['get', 'set', 'async', 'of']);

/** Words whose escaped spelling is refused (see word). */
const KEYWORDS: ReadonlySet<string> = new Set(
  'if for while with do else return typeof case in of new delete void throw instanceof yield await break continue debugger try catch finally class function extends let async static get set switch var const import export super this null true false default'.split(' '),
);

/** The character codes the units turn on. */
const CH = { eq: 0x3d, bang: 0x21, lt: 0x3c, gt: 0x3e, question: 0x3f } as const;

interface Frame {
  /** A `for await (` head, after whose `)` a statement, and so a regex, may begin. */
  forAwait?: boolean;
  expression: number;
  statement: number;
  /** `do`s whose `while` has not come yet (after them, a `while` may continue the statement before it). */
  dos: number;
  /** A statement ended: the next token decides whether the statement units before it are over. */
  ended: boolean;
}

class DepthSink implements LexSink {
  full = false;
  /** Where the estimate first passed the limit, or -1. */
  at = -1;
  /** Why it refused (see DepthRefusal), when `at` is set. */
  reason: DepthRefusal = 'depth';
  readonly #src: string;
  readonly #max: number;
  readonly #frames: Frame[] = [{ expression: 0, statement: 0, dos: 0, ended: false }];
  /** Every frame's units, open brackets included. */
  #total = 0;
  /** The previous token was `extends`: a `class` now nests in the heritage of another. */
  #extends = false;
  /** The previous token, as far as a `/` after it may read two ways (see AMBIGUOUS_BEFORE_SLASH). */
  #prev = '';
  /** The word before the previous token, if it was one. */
  #prevWord = '';

  constructor(src: string, max: number) {
    this.#src = src;
    this.#max = max;
  }

  special(): void {}
  lineSeparator(): void {}
  identifier(): void {}

  regex(start: number): void {
    this.#slash(start);
    this.#token('');
  }

  open(offset: number, depth: number): void {
    this.#settle(false);
    this.#extends = false;
    const forAwait = this.#prev === 'await' && this.#prevWord === 'for' && this.#src.charCodeAt(offset) === 0x28;
    while (this.#frames.length <= depth) {
      this.#frames.push({ expression: 0, statement: 0, dos: 0, ended: false, forAwait });
      this.#add(offset, HEAVY);
    }
    this.#token('');
  }

  close(offset: number, depth: number, statement: boolean): void {
    let forAwait = false;
    while (this.#frames.length > depth + 1) {
      const f = this.#frames.pop() as Frame;
      forAwait = f.forAwait === true;
      this.#total -= f.expression + f.statement + HEAVY;
    }
    const brace = this.#src.charCodeAt(offset) === 0x7d;
    this.#token(brace ? '}' : forAwait ? 'for await (...)' : '');
    const f = this.#top();
    // A block that stands as a statement ends the statements that took it (a body's `}` ends nothing: a
    // function expression may stand inside a statement that goes on). A call, an index or a group may
    // be chained on (`f()()()`, `a[0][0]`); what follows a brace counts by its own operators.
    if (statement) f.ended = true;
    else if (!brace) {
      f.expression += LIGHT;
      this.#add(offset, LIGHT);
    }
  }

  word(start: number, end: number): void {
    const len = end - start;
    let w = len >= 2 && len <= 60 ? this.#src.slice(start, end) : '';
    // A keyword spelled with escapes is an error that oxc reports after it has read on as if it were
    // one, and the lexer, which decides by the words it sees, reads it as a name: refused outright (V8
    // refuses it too, so no script that runs is lost). A property name right after its `.` (`o.\u0069f`,
    // not a spread's `...`) may be any word, escaped or not, and is a name to every reader; so are the
    // words of ESCAPABLE.
    if (w.includes('\\')) {
      w = unescaped(w);
      if (KEYWORDS.has(w) && !ESCAPABLE.has(w) && !this.#propertyName(start)) this.#refuse(start, 'escaped-keyword');
    }
    const f = this.#top();
    const continues = w === 'else' || (w === 'while' && f.dos > 0);
    if (continues && w === 'while' && f.ended) f.dos--;
    this.#settle(continues);
    if (w === 'do') f.dos++;
    const heritage = this.#extends && w === 'class';
    this.#extends = w === 'extends';
    // A property name (`a.of`) is a value to every reader.
    this.#token(this.#prev === '.' ? '' : w);
    if (STATEMENT_WORDS.has(w)) {
      f.statement += HEAVY;
      this.#add(start, HEAVY);
      return;
    }
    const units = heritage ? HEAVY : (PREFIX_WORDS.get(w) ?? (BINARY_WORDS.has(w) ? LIGHT : 0));
    f.expression += units;
    this.#add(start, units);
  }

  punctuator(offset: number, c: number): void {
    this.#settle(false);
    this.#extends = false;
    if (c === 0x2f) this.#slash(offset);
    this.#token(c === 0x2e ? '.' : '');
    const f = this.#top();
    if (c === 0x2c || c === 0x3b) {
      this.#total -= f.expression;
      f.expression = 0;
      if (c === 0x3b) f.ended = true;
      return;
    }
    const units = this.#units(offset, c);
    f.expression += units;
    this.#add(offset, units);
  }

  /** What the punctuator at `offset` adds (see above). */
  #units(offset: number, c: number): number {
    const src = this.#src;
    const before = src.charCodeAt(offset - 1);
    const after = src.charCodeAt(offset + 1);
    switch (c) {
      case CH.eq:
        // `==`, `===`, `!=`, `<=`, `>=` compare; `<<=`, `>>=` and every other `x=` assign; `=>` is heavy.
        if (after === CH.eq || before === CH.eq || before === CH.bang) return LIGHT;
        if ((before === CH.lt || before === CH.gt) && src.charCodeAt(offset - 2) !== before) return LIGHT;
        return HEAVY;
      case CH.bang:
        return LIGHT;
      case CH.question:
        // `?.` and `??` chain; a conditional nests (`??=` counts at its `=`).
        return after === 0x2e || after === CH.question || before === CH.question ? LIGHT : HEAVY;
      case 0x3a:
        return HEAVY;
      case 0x2a:
        return before === 0x2a ? 2 : LIGHT;
      case 0x2e:
        return before === 0x2e && src.charCodeAt(offset - 2) === 0x2e ? HEAVY : LIGHT;
      default:
        return LIGHT;
    }
  }

  /** The word at `start` is a property name: it follows a `.` token at once. */
  #propertyName(start: number): boolean {
    return this.#prev === '.' && this.#src.charCodeAt(start - 1) === 0x2e && this.#src.charCodeAt(start - 2) !== 0x2e;
  }

  /**
   * A `/` (a division, or a regex literal's start) where the lexer and a parser may read it differently:
   * refused, since the estimate would then count what the parser reads as a regex, or skip what it reads
   * as code (`of / a ? a : ... / 1` hid a chain that crashed the host).
   */
  #slash(offset: number): void {
    if (AMBIGUOUS_BEFORE_SLASH.has(this.#prev)) this.#refuse(offset, 'ambiguous-slash');
  }

  #token(kind: string): void {
    this.#prevWord = this.#prev;
    this.#prev = kind;
  }

  #refuse(offset: number, reason: DepthRefusal = 'depth'): void {
    if (this.at < 0) {
      this.at = offset;
      this.reason = reason;
      this.full = true;
    }
  }

  #top(): Frame {
    return this.#frames[this.#frames.length - 1] as Frame;
  }

  /**
   * Applies an ended statement's verdict: unless `continues`, the statement units of the frame are over,
   * and so is any expression in it (a statement's end is one of its own).
   */
  #settle(continues: boolean): void {
    const f = this.#top();
    if (!f.ended) return;
    f.ended = false;
    if (continues) return;
    this.#total -= f.statement + f.expression;
    f.statement = 0;
    f.expression = 0;
    f.dos = 0;
  }

  #add(offset: number, n: number): void {
    this.#total += n;
    if (this.#total > this.#max) this.#refuse(offset);
  }
}

/** An identifier's text with its `\\uXXXX` and `\\u{...}` escapes decoded (a malformed one is dropped). */
export function unescaped(word: string): string {
  return word.replace(/\\u(?:\{([0-9a-fA-F]{1,6})\}|([0-9a-fA-F]{4}))?/g, (_m, braced: string | undefined, four: string | undefined) => {
    const hex = braced ?? four;
    const cp = hex === undefined ? -1 : Number.parseInt(hex, 16);
    return cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
  });
}

/** The events of a lex the estimate takes (see LexSink). */
const Event = { OPEN: 0, REGEX: 1, CLOSE: 2, WORD: 3, PUNCTUATOR: 4 } as const;
type Event = (typeof Event)[keyof typeof Event];

/**
 * Hands every event of one lex to a pass's own sink and to the estimate, so that a pass that lexes the
 * text anyway (the pre-scan) takes the estimate along. The lex stops when the pass's sink is full, as it
 * would alone; the estimate stops taking events once it has refused (its verdict is then final).
 */
class DepthTee implements LexSink {
  readonly #sink: LexSink;
  readonly #depth: DepthSink;
  /** The estimate threw (a bug of ours): it is dropped, and parseDepthExceeded lexes the text itself. */
  #failed = false;
  /** The estimate still wants events. */
  #live = true;

  constructor(sink: LexSink, depth: DepthSink) {
    this.#sink = sink;
    this.#depth = depth;
  }

  get full(): boolean {
    return this.#sink.full;
  }

  /** The estimate's verdict, when it is the one `parseDepthExceeded` would reach alone, else undefined. */
  verdict(): number | undefined {
    if (this.#failed) return undefined;
    // Stopped early by the pass, the lex may have left text unread that the estimate had to see.
    if (this.#depth.full || !this.#sink.full) return this.#depth.at;
    return undefined;
  }

  /** Why the estimate refused, with a verdict of an offset. */
  get reason(): DepthRefusal {
    return this.#depth.reason;
  }

  special(offset: number, codePoint: number, context: LexContext): void {
    this.#sink.special(offset, codePoint, context);
  }

  lineSeparator(offset: number, codePoint: number, context: LexContext): void {
    this.#sink.lineSeparator(offset, codePoint, context);
  }

  identifier(start: number, end: number): void {
    this.#sink.identifier(start, end);
  }

  // Each event goes to the pass's sink first, as it would without the estimate, whose throws it never sees.
  open(offset: number, depth: number): void {
    this.#sink.open(offset, depth);
    if (this.#live) this.#toDepth(Event.OPEN, offset, depth, false);
  }

  regex(start: number, bodyEnd: number, end: number): void {
    this.#sink.regex(start, bodyEnd, end);
    if (this.#live) this.#toDepth(Event.REGEX, start, 0, false);
  }

  close(offset: number, depth: number, statement: boolean): void {
    this.#sink.close?.(offset, depth, statement);
    if (this.#live) this.#toDepth(Event.CLOSE, offset, depth, statement);
  }

  word(start: number, end: number): void {
    this.#sink.word?.(start, end);
    if (this.#live) this.#toDepth(Event.WORD, start, end, false);
  }

  punctuator(offset: number, c: number): void {
    this.#sink.punctuator?.(offset, c);
    if (this.#live) this.#toDepth(Event.PUNCTUATOR, offset, c, false);
  }

  #toDepth(event: Event, a: number, b: number, statement: boolean): void {
    const depth = this.#depth;
    try {
      switch (event) {
        case Event.OPEN:
          depth.open(a, b);
          break;
        case Event.REGEX:
          depth.regex(a);
          break;
        case Event.CLOSE:
          depth.close(a, b, statement);
          break;
        case Event.WORD:
          depth.word(a, b);
          break;
        default:
          depth.punctuator(a, b);
      }
    } catch {
      this.#failed = true;
    }
    this.#live = !this.#failed && !depth.full;
  }
}

/** The last text whose estimate (at MAX_PARSE_DEPTH) a pass took along (see lexWithDepth), that estimate and its reason. */
let lastText: string | undefined;
let lastAt = -1;
let lastReason: DepthRefusal = 'depth';

/**
 * `lex(code, sink)` that also takes the estimate of `code` (at MAX_PARSE_DEPTH) along, for the
 * `parseDepthExceeded(code)` that follows: one lex of the text instead of two. Returns the estimate, or
 * undefined when the lex stopped before the estimate could be made (`sink` was full first). Throws what
 * `lex` throws.
 */
export function lexWithDepth(code: string, sink: LexSink): number | undefined {
  let at: number | undefined = 0;
  let reason: DepthRefusal = 'hashbang';
  if (code.startsWith('#!')) lex(code, sink);
  else {
    const tee = new DepthTee(sink, new DepthSink(code, MAX_PARSE_DEPTH * HEAVY));
    lex(code, tee);
    at = tee.verdict();
    reason = tee.reason;
  }
  if (at !== undefined) {
    lastText = code;
    lastAt = at;
    lastReason = reason;
  }
  return at;
}

/**
 * The offset at which the estimated recursion (see above) of `code` first exceeds `maxLevels` levels of
 * the costliest kind, or -1. Linear, and never throws.
 */
export function parseDepthExceeded(code: string, maxLevels = MAX_PARSE_DEPTH): number {
  return parseDepthRefusal(code, maxLevels).at;
}

/** parseDepthExceeded with the reason of a refusal (see DepthRefusal); `reason` means nothing when `at` is -1. */
export function parseDepthRefusal(code: string, maxLevels = MAX_PARSE_DEPTH): { at: number; reason: DepthRefusal } {
  // The lexer reads a first line that starts with `#!` as a comment; to a parser of the wrapped script
  // (see ast/parse.ts) it is no comment.
  if (code.startsWith('#!')) return { at: 0, reason: 'hashbang' };
  // The same text as the pass before took the estimate of (the pre-scan, just before the parse).
  if (code === lastText && maxLevels === MAX_PARSE_DEPTH) return { at: lastAt, reason: lastReason };
  const sink = new DepthSink(code, maxLevels * HEAVY);
  lex(code, sink);
  return { at: sink.at, reason: sink.reason };
}
