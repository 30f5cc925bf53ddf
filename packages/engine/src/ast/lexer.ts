/**
 * A deliberately small JavaScript lexer for the pre-scan. It only needs to know, for every character,
 * whether it sits in code, an identifier, a comment, a string, a template or a regex literal, plus
 * bracket depth and where regex literals are. It never builds tokens, never throws, and every loop
 * advances by at least one character, so it is linear on any input, malformed or not.
 */
import { isIdContinueNonAscii, isIdStartNonAscii, isJsSpace, isLineTerminator, isNonAsciiSpace, isSpecial } from './unicode.js';

export const LexContext = {
  CODE: 0,
  IDENTIFIER: 1,
  LINE_COMMENT: 2,
  BLOCK_COMMENT: 3,
  STRING: 4,
  TEMPLATE: 5,
  REGEX: 6,
} as const;
export type LexContext = (typeof LexContext)[keyof typeof LexContext];

/** What the lexer reports. Calls are rare (only notable characters and tokens), so the hot loops stay tight. */
export interface LexSink {
  /** Set once the sink wants no more events; the lexer stops at the next token. */
  readonly full: boolean;
  /** A character for which `isSpecial` is true (NUL, BiDi control, invisible), and where it sits. */
  special(offset: number, codePoint: number, context: LexContext): void;
  /**
   * U+2028 or U+2029 outside a string or template literal: a line terminator that most editors do not
   * show as one. In a `//` comment (`context` LINE_COMMENT) it ends the comment, and what follows runs.
   */
  lineSeparator(offset: number, codePoint: number, context: LexContext): void;
  /** An identifier that contains non-ASCII characters or `\u` escapes (plain ASCII ones are not reported). */
  identifier(start: number, end: number): void;
  /** An opening `(`, `[`, `{` or template `${`; `depth` counts it. */
  open(offset: number, depth: number): void;
  /** A regex literal: `start` is its opening `/`, `bodyEnd` its closing `/`, `end` is just past the flags. */
  regex(start: number, bodyEnd: number, end: number): void;
  /**
   * A closer that matched an opener: `depth` counts what stays open (see open); `statement` when it closed
   * a block that stands as a statement (`if (a) {...}`, `else {...}`, a bare block), not a body.
   */
  close?(offset: number, depth: number, statement: boolean): void;
  /** An identifier or keyword in code (`end` just past it). */
  word?(start: number, end: number): void;
  /**
   * A punctuator character in code (each character of `===` is one; `++` and `--` are one each, at their
   * first character; a template's opening backtick is one).
   */
  punctuator?(offset: number, c: number): void;
}

export function lex(source: string, sink: LexSink): void {
  new Lexer(source, sink).run();
}

// Open brackets on the stack. A paren after `if`/`for`/`while`/`with` and a brace that opens a block are
// told apart from expression ones because what follows them decides whether `/` is a regex or a division.
const PAREN = 0;
const PAREN_HEAD = 1;
const BRACKET = 2;
const BRACE_BLOCK = 3;
const BRACE_EXPR = 4;
const TEMPLATE = 5;
/** A block that stands as a statement (after `if (...)`, `else`, `do`, `try`, `;`, another block...), not a body. */
const BRACE_STATEMENT = 6;

// Kinds of the previous significant token.
const T_START = 0; // start of input: an expression may begin
const T_PUNCT = 1; // an operator or opener: an expression may begin
const T_IDENT = 2; // identifier or keyword: depends on which word it is
const T_VALUE = 3; // literal, `)`, `]`, `}` of an expression: a `/` here divides
const T_STATEMENT_END = 4; // end of a block or of an `if (...)` head: a statement may begin

/** Words after which an expression, and so a regex literal, may begin. */
const EXPRESSION_KEYWORDS: ReadonlySet<string> = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);

/** Words whose `{` opens a block although the previous token is an identifier-like word. */
const BLOCK_KEYWORDS: ReadonlySet<string> = new Set(['do', 'else']);

const HEAD_KEYWORDS: ReadonlySet<string> = new Set(['if', 'for', 'while', 'with']);

// ASCII character classes for dispatch.
const C_SKIP = 0;
const C_IDENT = 1;
const C_DIGIT = 2;
const C_QUOTE = 3;
const C_BACKTICK = 4;
const C_SLASH = 5;
const C_DOT = 6;
const C_OPEN = 7;
const C_CLOSE = 8;
const C_PLUS_MINUS = 9;
const C_PUNCT = 10;

const CLASS = new Uint8Array(128).fill(C_PUNCT);
/** 1 where an ASCII character can continue an identifier. */
const ID_PART = new Uint8Array(128);
for (let c = 0; c <= 32; c++) CLASS[c] = C_SKIP;
for (let c = 0x30; c <= 0x39; c++) {
  CLASS[c] = C_DIGIT;
  ID_PART[c] = 1;
}
for (let c = 0x41; c <= 0x5a; c++) {
  CLASS[c] = C_IDENT;
  CLASS[c + 32] = C_IDENT;
  ID_PART[c] = 1;
  ID_PART[c + 32] = 1;
}
for (const c of [0x24, 0x5f]) {
  CLASS[c] = C_IDENT;
  ID_PART[c] = 1;
}
CLASS[0x5c] = C_IDENT; // `\u0061bc` starts an identifier
CLASS[0x22] = C_QUOTE;
CLASS[0x27] = C_QUOTE;
CLASS[0x60] = C_BACKTICK;
CLASS[0x2f] = C_SLASH;
CLASS[0x2e] = C_DOT;
CLASS[0x28] = C_OPEN;
CLASS[0x5b] = C_OPEN;
CLASS[0x7b] = C_OPEN;
CLASS[0x29] = C_CLOSE;
CLASS[0x5d] = C_CLOSE;
CLASS[0x7d] = C_CLOSE;
CLASS[0x2b] = C_PLUS_MINUS;
CLASS[0x2d] = C_PLUS_MINUS;

/** How far down the stack a closer looks for its opener; bounded so that stray closers stay O(1). */
const CLOSER_SEARCH = 8;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

const LINE_BREAK = /[\n\r\u2028\u2029]/;

function isIdPartAscii(c: number): boolean {
  return c < 128 && ID_PART[c] === 1;
}

class Lexer {
  readonly #src: string;
  readonly #n: number;
  readonly #sink: LexSink;
  #pos = 0;
  readonly #stack: number[] = [];
  #prev: number = T_START;
  /** Char code of the previous punctuator (`$` for a template `${`), 0 otherwise. */
  #prevChar = 0;
  /** The previous punctuator was the `>` of `=>`. */
  #arrow = false;
  #identStart = 0;
  #identEnd = 0;
  /** Where each closed block comment starts, by the offset just past its end (see #htmlCloseComment). */
  readonly #blockComments = new Map<number, number>();

  constructor(src: string, sink: LexSink) {
    this.#src = src;
    this.#n = src.length;
    this.#sink = sink;
  }

  run(): void {
    const src = this.#src;
    const n = this.#n;
    const sink = this.#sink;
    if (src.charCodeAt(0) === 0x23 && src.charCodeAt(1) === 0x21) this.#lineComment(2); // #! line
    while (this.#pos < n && !sink.full) {
      const i = this.#pos;
      const c = src.charCodeAt(i);
      if (c >= 128) {
        this.#nonAsciiInCode(i, c);
        continue;
      }
      switch (CLASS[c]) {
        case C_SKIP: {
          if (c === 0) sink.special(i, 0, LexContext.CODE);
          let j = i + 1;
          while (j < n && src.charCodeAt(j) <= 32 && src.charCodeAt(j) !== 0) j++;
          this.#pos = j;
          break;
        }
        case C_IDENT:
          this.#identifier(i);
          break;
        case C_DIGIT:
          this.#number(i);
          break;
        case C_QUOTE:
          this.#string(i, c);
          break;
        case C_BACKTICK:
          sink.punctuator?.(i, c);
          this.#pos = i + 1;
          this.#template();
          break;
        case C_SLASH: {
          const d = src.charCodeAt(i + 1);
          if (d === 0x2f) this.#lineComment(i + 2);
          else if (d === 0x2a) this.#blockComment(i);
          else if (this.#regexAllowed()) this.#regex(i);
          else this.#punct(i, c);
          break;
        }
        case C_DOT: {
          const d = src.charCodeAt(i + 1);
          if (d >= 0x30 && d <= 0x39) this.#number(i);
          else this.#punct(i, c);
          break;
        }
        case C_OPEN:
          this.#open(i, c);
          break;
        case C_CLOSE:
          this.#close(i, c);
          break;
        case C_PLUS_MINUS:
          // `-->` at the start of a line is a comment to V8 (see #htmlCloseComment).
          if (c === 0x2d && src.charCodeAt(i + 1) === 0x2d && src.charCodeAt(i + 2) === 0x3e && this.#htmlCloseComment(i)) {
            this.#lineComment(i + 3);
          } else if (src.charCodeAt(i + 1) === c) {
            sink.punctuator?.(i, c);
            // `x++ / 2` divides: treat `++`/`--` like the end of a value.
            this.#pos = i + 2;
            this.#prev = T_VALUE;
            this.#prevChar = 0;
          } else this.#punct(i, c);
          break;
        default:
          // `<!--` starts a line comment in a script (Annex B), wherever it stands in code.
          if (c === 0x3c && src.charCodeAt(i + 1) === 0x21 && src.charCodeAt(i + 2) === 0x2d && src.charCodeAt(i + 3) === 0x2d) this.#lineComment(i + 4);
          else this.#punct(i, c);
      }
    }
  }

  /**
   * Whether `-->` at `i` is a comment for V8 (Annex B, scripts only): only white space and comments may
   * stand before it on its line, or a block comment that spans a line break. The user's first line
   * counts as the start of a line: the wrapper puts a line break before it.
   */
  #htmlCloseComment(i: number): boolean {
    const src = this.#src;
    let j = i - 1;
    for (;;) {
      if (j < 0) return true;
      const c = src.charCodeAt(j);
      if (isLineTerminator(c)) return true;
      if (isJsSpace(c)) j--;
      else if (c === 0x2f && src.charCodeAt(j - 1) === 0x2a) {
        const start = this.#blockComments.get(j + 1);
        if (start === undefined) return false;
        if (LINE_BREAK.test(src.slice(start, j + 1))) return true;
        j = start - 1;
      } else return false;
    }
  }

  /** Reports a notable non-ASCII (or NUL) character and returns its length in UTF-16 units. */
  #notable(i: number, c: number, context: LexContext): number {
    const cp = this.#codePointAt(i, c);
    if (isSpecial(cp)) this.#sink.special(i, cp, context);
    return cp > 0xffff ? 2 : 1;
  }

  #codePointAt(i: number, c: number): number {
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = this.#src.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
    }
    return c;
  }

  #nonAsciiInCode(i: number, c: number): void {
    const cp = this.#codePointAt(i, c);
    const len = cp > 0xffff ? 2 : 1;
    if (cp === 0x2028 || cp === 0x2029) {
      this.#sink.lineSeparator(i, cp, LexContext.CODE);
      this.#pos = i + len;
      return;
    }
    if (isNonAsciiSpace(cp)) {
      if (isSpecial(cp)) this.#sink.special(i, cp, LexContext.CODE);
      this.#pos = i + len;
      return;
    }
    if (isIdStartNonAscii(cp)) {
      this.#identifier(i);
      return;
    }
    if (isSpecial(cp)) {
      // A stray invisible character is reported but otherwise ignored, like whitespace.
      this.#sink.special(i, cp, LexContext.CODE);
      this.#pos = i + len;
      return;
    }
    // Some other symbol (typographic quotes, arrows...): a syntax error for the parser; lex it as an operator.
    this.#pos = i + len;
    this.#prev = T_PUNCT;
    this.#prevChar = 0;
    this.#arrow = false;
  }

  #punct(i: number, c: number): void {
    this.#sink.punctuator?.(i, c);
    this.#pos = i + 1;
    this.#prev = T_PUNCT;
    this.#prevChar = c;
    this.#arrow = c === 0x3e && this.#src.charCodeAt(i - 1) === 0x3d;
  }

  #identifier(start: number): void {
    const src = this.#src;
    const n = this.#n;
    let j = start;
    let notable = false;
    while (j < n) {
      const c = src.charCodeAt(j);
      if (c < 128) {
        if (ID_PART[c] === 1) {
          j++;
          continue;
        }
        if (c !== 0x5c) break;
        notable = true;
        j = this.#skipIdentifierEscape(j);
        continue;
      }
      const cp = this.#codePointAt(j, c);
      if (!isIdContinueNonAscii(cp)) break;
      if (isSpecial(cp)) this.#sink.special(j, cp, LexContext.IDENTIFIER);
      notable = true;
      j += cp > 0xffff ? 2 : 1;
    }
    if (j === start) j = start + 1; // cannot happen for a valid start; guarantees progress anyway
    this.#pos = j;
    if (notable) this.#sink.identifier(start, j);
    this.#sink.word?.(start, j);
    if (this.#prev === T_PUNCT && (this.#prevChar === 0x2e || this.#prevChar === 0x23)) {
      // `obj.return`, `this.#typeof`: a property name, never a keyword.
      this.#prev = T_VALUE;
    } else {
      this.#prev = T_IDENT;
      this.#identStart = start;
      this.#identEnd = j;
    }
    this.#prevChar = 0;
  }

  /** Skips `\uXXXX` or `\u{...}` (or a lone backslash) inside an identifier. */
  #skipIdentifierEscape(j: number): number {
    const src = this.#src;
    const n = this.#n;
    j++;
    if (src.charCodeAt(j) !== 0x75) return j;
    j++;
    if (src.charCodeAt(j) === 0x7b) {
      j++;
      while (j < n && isHex(src.charCodeAt(j))) j++;
      if (src.charCodeAt(j) === 0x7d) j++;
      return j;
    }
    for (let k = 0; k < 4 && j < n && isHex(src.charCodeAt(j)); k++) j++;
    return j;
  }

  #number(start: number): void {
    const src = this.#src;
    const n = this.#n;
    // Digits, letters (hex, exponent, `n`), `_` separators and dots: precision does not matter here,
    // only that the token ends as a value.
    let j = start + 1;
    while (j < n) {
      const c = src.charCodeAt(j);
      if (isIdPartAscii(c) || c === 0x2e) j++;
      else break;
    }
    this.#pos = j;
    this.#prev = T_VALUE;
    this.#prevChar = 0;
  }

  #string(start: number, quote: number): void {
    const src = this.#src;
    const n = this.#n;
    let i = start + 1;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === quote) {
        i++;
        break;
      }
      if (c === 0x5c) {
        i++;
        if (i >= n) break;
        const d = src.charCodeAt(i);
        if (d === 0x0d && src.charCodeAt(i + 1) === 0x0a) i += 2;
        else if (d === 0 || d >= 128) i += this.#notable(i, d, LexContext.STRING);
        else i++;
        continue;
      }
      // An unescaped line break ends an unterminated string; the parser reports it.
      if (c === 0x0a || c === 0x0d) break;
      if (c === 0 || c >= 128) i += this.#notable(i, c, LexContext.STRING);
      else i++;
    }
    this.#pos = i;
    this.#prev = T_VALUE;
    this.#prevChar = 0;
  }

  /** Scans template text from `#pos` up to the closing backtick or the next `${`. */
  #template(): void {
    const src = this.#src;
    const n = this.#n;
    let i = this.#pos;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === 0x60) {
        this.#pos = i + 1;
        this.#prev = T_VALUE;
        this.#prevChar = 0;
        return;
      }
      if (c === 0x5c) {
        i++;
        if (i >= n) break;
        const d = src.charCodeAt(i);
        if (d === 0 || d >= 128) i += this.#notable(i, d, LexContext.TEMPLATE);
        else i++;
        continue;
      }
      if (c === 0x24 && src.charCodeAt(i + 1) === 0x7b) {
        this.#stack.push(TEMPLATE);
        this.#sink.open(i, this.#stack.length);
        this.#pos = i + 2;
        this.#prev = T_PUNCT;
        this.#prevChar = 0x24;
        this.#arrow = false;
        return;
      }
      if (c === 0 || c >= 128) i += this.#notable(i, c, LexContext.TEMPLATE);
      else i++;
    }
    this.#pos = n;
  }

  /** From `from` (just past `//`, `#!`, `<!--` or a line-initial `-->`) to the end of the line. */
  #lineComment(from: number): void {
    const src = this.#src;
    const n = this.#n;
    let i = from;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === 0x0a || c === 0x0d) break;
      if (c === 0x2028 || c === 0x2029) {
        // The comment ends here, as it does for V8; reported once, as the end of this comment.
        this.#sink.lineSeparator(i, c, LexContext.LINE_COMMENT);
        i++;
        break;
      }
      if (c === 0 || c >= 128) i += this.#notable(i, c, LexContext.LINE_COMMENT);
      else i++;
    }
    this.#pos = i;
  }

  #blockComment(start: number): void {
    const src = this.#src;
    const n = this.#n;
    let i = start + 2;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === 0x2a && src.charCodeAt(i + 1) === 0x2f) {
        this.#pos = i + 2;
        this.#blockComments.set(i + 2, start);
        return;
      }
      if (c === 0x2028 || c === 0x2029) {
        this.#sink.lineSeparator(i, c, LexContext.BLOCK_COMMENT);
        i++;
      } else if (c === 0 || c >= 128) i += this.#notable(i, c, LexContext.BLOCK_COMMENT);
      else i++;
    }
    this.#pos = n;
  }

  #identWord(): string | null {
    const len = this.#identEnd - this.#identStart;
    return len >= 2 && len <= 10 ? this.#src.slice(this.#identStart, this.#identEnd) : null;
  }

  #regexAllowed(): boolean {
    switch (this.#prev) {
      case T_VALUE:
        return false;
      case T_IDENT: {
        const word = this.#identWord();
        return word !== null && EXPRESSION_KEYWORDS.has(word);
      }
      default:
        return true;
    }
  }

  #braceOpensBlock(): boolean {
    switch (this.#prev) {
      case T_START:
      case T_STATEMENT_END:
        return true;
      case T_IDENT: {
        // `else {`, `try {`, `class A {`, `class A extends B {` are blocks; `return {` is an object.
        const word = this.#identWord();
        return word === null || BLOCK_KEYWORDS.has(word) || !EXPRESSION_KEYWORDS.has(word);
      }
      case T_VALUE:
        return this.#prevChar === 0x29; // `) {`: function body or statement body
      default: {
        const p = this.#prevChar;
        if (p === 0x3b || p === 0x7b || this.#arrow) return true;
        // `a: {` is a label or case body, except as a property value inside an object literal.
        if (p === 0x3a) return this.#stack[this.#stack.length - 1] !== BRACE_EXPR;
        return false;
      }
    }
  }

  /**
   * Whether a block `{` here stands as a statement of its own: at the start, after a statement's end, a
   * `;`, another block's `{`, or `else`, `do`, `try`, `finally`. A function's or an arrow's body is not
   * one, nor is a class body.
   */
  #statementPosition(): boolean {
    switch (this.#prev) {
      case T_START:
        return true;
      case T_STATEMENT_END:
        // `) {` after an `if (...)` head; a `}` of a block (a body's `}` leaves T_STATEMENT_END too, and
        // what follows a function declaration is a statement as well).
        return true;
      case T_IDENT: {
        const word = this.#identWord();
        return word === 'else' || word === 'do' || word === 'try' || word === 'finally';
      }
      case T_PUNCT:
        return (this.#prevChar === 0x3b || this.#prevChar === 0x7b) && this.#stack[this.#stack.length - 1] !== BRACE_EXPR;
      default:
        return false;
    }
  }

  #open(i: number, c: number): void {
    let kind: number;
    if (c === 0x28) {
      const word = this.#prev === T_IDENT ? this.#identWord() : null;
      kind = word !== null && HEAD_KEYWORDS.has(word) ? PAREN_HEAD : PAREN;
    } else if (c === 0x5b) kind = BRACKET;
    else if (!this.#braceOpensBlock()) kind = BRACE_EXPR;
    else kind = this.#statementPosition() ? BRACE_STATEMENT : BRACE_BLOCK;
    this.#stack.push(kind);
    this.#sink.open(i, this.#stack.length);
    this.#pos = i + 1;
    this.#prev = T_PUNCT;
    this.#prevChar = c;
    this.#arrow = false;
  }

  #close(i: number, c: number): void {
    const stack = this.#stack;
    this.#pos = i + 1;
    this.#prevChar = c;
    this.#arrow = false;
    let found = -1;
    const floor = stack.length > CLOSER_SEARCH ? stack.length - CLOSER_SEARCH : 0;
    for (let k = stack.length - 1; k >= floor; k--) {
      const e = stack[k] as number;
      const matches =
        c === 0x29 ? e === PAREN || e === PAREN_HEAD : c === 0x5d ? e === BRACKET : e === BRACE_BLOCK || e === BRACE_STATEMENT || e === BRACE_EXPR || e === TEMPLATE;
      if (matches) {
        found = k;
        break;
      }
      // A template's `${` is only closed by `}`: a stray `)` must not leave the template.
      if (e === TEMPLATE) break;
    }
    if (found < 0) {
      // A stray closer: malformed code. Ignore it rather than guess.
      this.#prev = T_VALUE;
      return;
    }
    const kind = stack[found] as number;
    // pop() rather than `length = found`: truncating through `length` is a slow runtime call in V8.
    while (stack.length > found) stack.pop();
    this.#sink.close?.(i, stack.length, kind === BRACE_STATEMENT);
    if (kind === TEMPLATE) {
      this.#template();
      return;
    }
    this.#prev = kind === PAREN_HEAD || kind === BRACE_BLOCK || kind === BRACE_STATEMENT ? T_STATEMENT_END : T_VALUE;
  }

  #regex(start: number): void {
    const src = this.#src;
    const n = this.#n;
    let i = start + 1;
    let inClass = false;
    while (i < n) {
      const c = src.charCodeAt(i);
      if (c === 0x5c) {
        i++;
        if (i >= n) break;
        const d = src.charCodeAt(i);
        if (d === 0x0a || d === 0x0d || d === 0x2028 || d === 0x2029) break;
        if (d === 0 || d >= 128) i += this.#notable(i, d, LexContext.REGEX);
        else i++;
        continue;
      }
      if (c === 0x2f && !inClass) {
        const bodyEnd = i;
        i++;
        while (i < n && isIdPartAscii(src.charCodeAt(i))) i++;
        this.#pos = i;
        this.#prev = T_VALUE;
        this.#prevChar = 0;
        this.#sink.regex(start, bodyEnd, i);
        return;
      }
      if (c === 0x0a || c === 0x0d) break;
      if (c === 0x5b) inClass = true;
      else if (c === 0x5d) inClass = false;
      else if (c === 0 || c >= 128) {
        if (c === 0x2028 || c === 0x2029) break;
        i += this.#notable(i, c, LexContext.REGEX);
        continue;
      }
      i++;
    }
    // Unterminated: a syntax error for the parser. Resume after what was read instead of re-lexing it,
    // so that a line full of `/[` cannot make the scan quadratic.
    this.#pos = i;
    this.#prev = T_VALUE;
    this.#prevChar = 0;
  }
}
