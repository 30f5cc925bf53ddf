/**
 * Static check of a regex pattern for catastrophic (exponential, or high-degree polynomial) backtracking.
 *
 * The pattern is parsed once, left to right, with an explicit group stack; every node gets a small summary
 * (width range, possible first characters, all characters, whether it holds a variable-length repetition,
 * an ambiguous sequence, an overlapping alternation or a back-reference) computed from its children when
 * it is closed. A quantifier then decides from its operand's summary alone, so the whole check is linear
 * in the pattern length. Character sets are over-approximated (exact for ASCII, coarse beyond), which can
 * only make the check flag more, never less.
 *
 * A repeated group is flagged when:
 *  - it may repeat 3 or more times and contains another variable-count repetition (`(a+)+`, `(\w+\s?)*`,
 *    `((ab)*)+`, `(\d{1,3})+`): the same text can be split between iterations in exponentially many
 *    ways (for a bounded repeat, polynomially many, of a degree close to the repeat count; hence the low
 *    threshold of 3 rather than ~10);
 *  - it may repeat more than 10 times and contains an alternation whose alternatives can start the same
 *    way (`(a|a)*`, `(a|ab)*`, `(\w|\d)+`, `(.|\s)*`), two optional parts (`(a?b?)*`) or a sequence
 *    whose adjacent optional parts can trade characters (`(?:a?a?c)*`): each iteration has several ways
 *    to match, k^n in all;
 *  - it may repeat and contains a back-reference.
 *
 * Exemption, documented choice: a repeated sequence that starts or ends with one mandatory character that
 * nothing else in the sequence can match is not flagged for its inner repetition, e.g.
 * `^(?:[a-z0-9-]+\.)*example\.com$`, `(,\s*\d+)*`, `(\w+\s)*`. That delimiter pins every iteration
 * boundary, so the inner `+` has one way to match per iteration and backtracking stays polynomial of low
 * degree. Overlaps inside such an iteration (`(?:a+a+\.)*`, `(?:(\w+|\d+),)*`) still flag it.
 */

/** A set of characters: exact for ASCII; beyond ASCII, a few exact ranges or "anything". */
class CharSet {
  w0 = 0;
  w1 = 0;
  w2 = 0;
  w3 = 0;
  /** Non-ASCII ranges as [from, to] pairs while there are few of them (allocated on first use). */
  high: number[] | null = null;
  /** Some unknown non-ASCII characters; over-approximates `high`. */
  anyHigh = false;

  static full(): CharSet {
    const s = new CharSet();
    s.w0 = s.w1 = s.w2 = s.w3 = -1;
    s.anyHigh = true;
    return s;
  }

  #or(word: number, mask: number): void {
    if (word === 0) this.w0 |= mask;
    else if (word === 1) this.w1 |= mask;
    else if (word === 2) this.w2 |= mask;
    else this.w3 |= mask;
  }

  has(c: number): boolean {
    const word = c >> 5;
    const w = word === 0 ? this.w0 : word === 1 ? this.w1 : word === 2 ? this.w2 : this.w3;
    return (w & (1 << (c & 31))) !== 0;
  }

  add(c: number): void {
    this.addRange(c, c);
  }

  addRange(from: number, to: number): void {
    if (from > to) return;
    if (from < 128) {
      const top = to < 127 ? to : 127;
      for (let word = from >> 5; word <= top >> 5; word++) {
        const base = word * 32;
        const lo = (from > base ? from : base) - base;
        const hi = (top < base + 31 ? top : base + 31) - base;
        const mask = hi - lo === 31 ? -1 : ((1 << (hi - lo + 1)) - 1) << lo;
        this.#or(word, mask);
      }
    }
    if (to >= 128) this.#addHigh(from > 128 ? from : 128, to);
  }

  #addHigh(from: number, to: number): void {
    if (this.anyHigh) return;
    if (this.high === null) this.high = [];
    else if (this.high.length >= 16) {
      this.high = null;
      this.anyHigh = true;
      return;
    }
    this.high.push(from, to);
  }

  addSet(o: CharSet): void {
    this.w0 |= o.w0;
    this.w1 |= o.w1;
    this.w2 |= o.w2;
    this.w3 |= o.w3;
    if (o.anyHigh) {
      this.anyHigh = true;
      this.high = null;
    } else if (o.high !== null) {
      const h = o.high;
      for (let k = 0; k + 1 < h.length; k += 2) this.#addHigh(h[k] as number, h[k + 1] as number);
    }
  }

  intersects(o: CharSet): boolean {
    if ((this.w0 & o.w0) !== 0 || (this.w1 & o.w1) !== 0 || (this.w2 & o.w2) !== 0 || (this.w3 & o.w3) !== 0) {
      return true;
    }
    const a = this.high;
    const b = o.high;
    if (this.anyHigh) return o.anyHigh || b !== null;
    if (o.anyHigh) return a !== null;
    if (a === null || b === null) return false;
    for (let i = 0; i + 1 < a.length; i += 2) {
      for (let j = 0; j + 1 < b.length; j += 2) {
        if ((a[i] as number) <= (b[j + 1] as number) && (b[j] as number) <= (a[i + 1] as number)) return true;
      }
    }
    return false;
  }

  complement(): CharSet {
    const s = new CharSet();
    s.w0 = ~this.w0;
    s.w1 = ~this.w1;
    s.w2 = ~this.w2;
    s.w3 = ~this.w3;
    s.anyHigh = true;
    return s;
  }

  /**
   * Adds the other case of every ASCII letter. Non-ASCII letters fold among themselves and onto `s`/`k`
   * (U+017F, U+212A), which exact ranges cannot express, so any non-ASCII content becomes "anything".
   */
  foldCase(): void {
    const letters = ((this.w2 >>> 1) | (this.w3 >>> 1)) & 0x3ffffff;
    this.w2 |= letters << 1;
    this.w3 |= letters << 1;
    if (this.anyHigh || this.high !== null || this.has(0x73) || this.has(0x6b)) {
      this.anyHigh = true;
      this.high = null;
      this.addRange(0x4b, 0x4b);
      this.addRange(0x53, 0x53);
      this.addRange(0x6b, 0x6b);
      this.addRange(0x73, 0x73);
    }
  }
}

const EMPTY = new CharSet();
/** Shared by every node with no known prefix; never mutated. */
const NO_PREFIX: CharSet[] = [];

const K_CHAR = 0;
const K_ASSERT = 1;
const K_BACKREF = 2;
const K_GROUP = 3;
const K_LOOK = 4;
const K_QUANT = 5;

/** Summary of one pattern node (or of one alternative, a sequence of nodes). */
interface Node {
  kind: number;
  minW: number;
  maxW: number;
  /** Characters a match can start with (for nullable nodes, over-approximated by all of them). */
  first: CharSet;
  /** Every character a match can consume. */
  chars: CharSet;
  /** Exactly one mandatory character from this set, when the node is that simple. */
  atom: CharSet | null;
  /** Sets of the first positions of every match, as far as they are fixed. */
  prefix: CharSet[];
  /** `prefix` describes the whole node (fixed width, every position known). */
  exact: boolean;
  /** Contains a consuming repetition of variable count (`*`, `+`, `{1,3}`, not `?` or `{2}`). */
  varQuant: boolean;
  /** Contains a sequence whose variable-length parts can trade characters. */
  ambig: boolean;
  backref: boolean;
  /** Description of a contained alternation with overlapping alternatives. */
  overlap: string | null;
  /** Largest number of variable-width parts in one of the group's alternatives. */
  maxVarTerms: number;
  /** For groups: iteration boundaries are pinned by a delimiter character (see `isDelimited`). */
  delimited: boolean;
}

interface Frame {
  start: number;
  /** Where the last term of the current alternative starts: a quantifier reports the text from there. */
  lastStart: number;
  look: boolean;
  altStart: number;
  terms: Node[];
  alts: Node[][];
  altRanges: number[];
}

export interface RegexVerdict {
  safe: boolean;
  reason?: string;
  /** The pattern or its flags could not be parsed. */
  invalid?: boolean;
}

const MAX_GROUP_DEPTH = 256;
const MAX_PREFIX = 8;
const MAX_OPEN_VAR_TERMS = 16;
const MAX_PAIRWISE_ALTS = 16;
/** Inner repetitions: about (text length)^repeats ways, so even a few repeats are too many. */
const NESTED_REPEAT = 3;
/** A constant number of choices per repetition: (choices)^repeats ways, harmless up to ~10 repeats. */
const OVERLAP_REPEAT = 11;
const BACKREF_REPEAT = 2;
const INF = Number.POSITIVE_INFINITY;
const QUANT_CAP = 1_000_000;

function snippet(s: string): string {
  const cut = s.length > 40 ? `${s.slice(0, 37)}...` : s;
  return `"${cut}"`;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

function isWordChar(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;
}

const DIGITS = new CharSet();
DIGITS.addRange(0x30, 0x39);
const WORD = new CharSet();
WORD.addRange(0x30, 0x39);
WORD.addRange(0x41, 0x5a);
WORD.addRange(0x61, 0x7a);
WORD.add(0x5f);
const SPACE = new CharSet();
SPACE.addRange(0x09, 0x0d);
SPACE.add(0x20);
for (const [a, b] of [
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
] as const) {
  SPACE.addRange(a, b);
}

function charNode(set: CharSet): Node {
  return {
    kind: K_CHAR,
    minW: 1,
    maxW: 1,
    first: set,
    chars: set,
    atom: set,
    prefix: [set],
    exact: true,
    varQuant: false,
    ambig: false,
    backref: false,
    overlap: null,
    maxVarTerms: 0,
    delimited: false,
  };
}

/** `^`, `$`, `\b`, `\B`; lookarounds are built from it. */
const ASSERT_NODE: Node = {
  kind: K_ASSERT,
  minW: 0,
  maxW: 0,
  first: EMPTY,
  chars: EMPTY,
  atom: null,
  prefix: NO_PREFIX,
  exact: true,
  varQuant: false,
  ambig: false,
  backref: false,
  overlap: null,
  maxVarTerms: 0,
  delimited: false,
};

/** A back-reference matches whatever its group matched: any text, of any length. */
const BACKREF_NODE: Node = {
  ...ASSERT_NODE,
  kind: K_BACKREF,
  maxW: INF,
  first: CharSet.full(),
  chars: CharSet.full(),
  exact: false,
  backref: true,
};

const DIGIT_NODE = charNode(DIGITS);
const NON_DIGIT_NODE = charNode(DIGITS.complement());
const SPACE_NODE = charNode(SPACE);
const NON_SPACE_NODE = charNode(SPACE.complement());
const WORD_NODE = charNode(WORD);
const NON_WORD_NODE = charNode(WORD.complement());
const WORD_FOLDED = new CharSet();
WORD_FOLDED.addSet(WORD);
WORD_FOLDED.foldCase();
const WORD_FOLDED_NODE = charNode(WORD_FOLDED);
const NON_WORD_FOLDED_NODE = charNode(WORD_FOLDED.complement());
const ANY_NODE = charNode(CharSet.full());
const DOT_ALL_NODE = ANY_NODE;
const DOT_SET = CharSet.full();
DOT_SET.w0 &= ~((1 << 10) | (1 << 13)); // U+2028/9 stay in the coarse non-ASCII part
const DOT_NODE = charNode(DOT_SET);
/**
 * The properties of strings (v flag), each a set of emoji sequences as well as single emoji. A sequence may
 * split into shorter members of the same set (👍🏽 is 👍 then 🏽, each an emoji): a repetition of one is an
 * alternation whose alternatives overlap, taken as such for all of them.
 */
const STRING_PROPERTIES: ReadonlySet<string> = new Set([
  'Basic_Emoji',
  'Emoji_Keycap_Sequence',
  'RGI_Emoji_Modifier_Sequence',
  'RGI_Emoji_Flag_Sequence',
  'RGI_Emoji_Tag_Sequence',
  'RGI_Emoji_ZWJ_Sequence',
  'RGI_Emoji',
]);
const STRING_PROPERTY_OVERLAP = 'a property of strings matches sequences that its shorter matches can also split (an emoji with a skin tone, or the emoji and the tone alone)';
const STRING_PROPERTY_NODE: Node = {
  ...ANY_NODE,
  kind: K_GROUP,
  maxW: INF,
  atom: null,
  prefix: NO_PREFIX,
  exact: false,
  overlap: STRING_PROPERTY_OVERLAP,
};
/** Shared nodes of ASCII literals, filled on first use. */
const LITERALS: (Node | undefined)[] = [];
const FOLDED_LITERALS: (Node | undefined)[] = [];

class Parser {
  readonly #p: string;
  readonly #n: number;
  readonly #unicode: boolean;
  readonly #v: boolean;
  readonly #dotAll: boolean;
  readonly #ignoreCase: boolean;
  /** A `(?i:...)` group was seen while parsing without the `i` flag: parse again, folding case everywhere. */
  restartWithIgnoreCase = false;
  #i = 0;

  constructor(pattern: string, flags: { unicode: boolean; v: boolean; ignoreCase: boolean; dotAll: boolean }) {
    this.#p = pattern;
    this.#n = pattern.length;
    this.#unicode = flags.unicode;
    this.#v = flags.v;
    this.#ignoreCase = flags.ignoreCase;
    this.#dotAll = flags.dotAll;
  }

  /**
   * The first problem found; parsing stops at the next step. Recorded rather than thrown: a throw costs
   * V8 far more than the whole analysis of a short pattern, and hostile input may be full of errors.
   */
  failure: RegexVerdict | null = null;

  #invalid(reason: string): void {
    this.failure ??= { safe: false, invalid: true, reason: `invalid pattern: ${reason}` };
  }

  #unsafe(reason: string): void {
    this.failure ??= { safe: false, reason };
  }

  parse(): void {
    const p = this.#p;
    const n = this.#n;
    const frames: Frame[] = [{ start: 0, lastStart: 0, look: false, altStart: 0, terms: [], alts: [], altRanges: [] }];
    while (this.#i < n && this.failure === null) {
      const i = this.#i;
      const c = p.charCodeAt(i);
      const f = frames[frames.length - 1] as Frame;
      if (c !== 0x29 && c !== 0x7c && c !== 0x2a && c !== 0x2b && c !== 0x3f && c !== 0x7b) f.lastStart = i;
      switch (c) {
        case 0x28: {
          const { look, bodyStart } = this.#groupOpening(i);
          if (this.restartWithIgnoreCase) return;
          if (frames.length > MAX_GROUP_DEPTH) {
            this.failure ??= { safe: false, invalid: true, reason: `too complex to analyze: groups are nested more than ${MAX_GROUP_DEPTH} deep` };
            return;
          }
          frames.push({ start: i, lastStart: i, look, altStart: bodyStart, terms: [], alts: [], altRanges: [] });
          this.#i = bodyStart;
          break;
        }
        case 0x29: {
          if (frames.length === 1) {
            this.#invalid('unmatched ")"');
            return;
          }
          frames.pop();
          const parent = frames[frames.length - 1] as Frame;
          parent.terms.push(this.#group(f, i));
          parent.lastStart = f.start;
          this.#i = i + 1;
          break;
        }
        case 0x7c:
          f.alts.push(f.terms);
          f.altRanges.push(f.altStart, i);
          f.terms = [];
          f.altStart = i + 1;
          this.#i = i + 1;
          break;
        case 0x2a:
          this.#quantify(f, 0, INF, i + 1);
          break;
        case 0x2b:
          this.#quantify(f, 1, INF, i + 1);
          break;
        case 0x3f:
          this.#quantify(f, 0, 1, i + 1);
          break;
        case 0x7b: {
          const q = this.#braces(i);
          if (q !== null) this.#quantify(f, q.min, q.max, q.end);
          else if (this.#unicode) {
            this.#invalid('lone "{"');
            return;
          } else {
            f.lastStart = i;
            f.terms.push(this.#literalNode(0x7b));
            this.#i = i + 1;
          }
          break;
        }
        case 0x5b:
          f.terms.push(this.#charClass(i));
          break;
        case 0x2e:
          f.terms.push(this.#dotAll ? DOT_ALL_NODE : DOT_NODE);
          this.#i = i + 1;
          break;
        case 0x5e:
        case 0x24:
          f.terms.push(ASSERT_NODE);
          this.#i = i + 1;
          break;
        case 0x5c:
          f.terms.push(this.#escape(i));
          break;
        default: {
          const cp = this.#unicode ? (p.codePointAt(i) as number) : c;
          f.terms.push(this.#literalNode(cp));
          this.#i = i + (cp > 0xffff ? 2 : 1);
        }
      }
    }
    if (this.failure === null && frames.length > 1) this.#invalid('missing ")"');
  }

  /** Nodes are immutable once built, so ASCII literals (most of any pattern) share theirs. */
  #literalNode(cp: number): Node {
    const cache = this.#ignoreCase ? FOLDED_LITERALS : LITERALS;
    if (cp < 128) {
      const hit = cache[cp];
      if (hit !== undefined) return hit;
    }
    const s = new CharSet();
    s.add(cp);
    if (this.#ignoreCase) s.foldCase();
    const node = charNode(s);
    if (cp < 128) cache[cp] = node;
    return node;
  }

  /** Parses what follows `(` and returns where the group's body starts. */
  #groupOpening(i: number): { look: boolean; bodyStart: number } {
    const p = this.#p;
    if (p.charCodeAt(i + 1) !== 0x3f) return { look: false, bodyStart: i + 1 };
    const d = p.charCodeAt(i + 2);
    if (d === 0x3a) return { look: false, bodyStart: i + 3 };
    if (d === 0x3d || d === 0x21) return { look: true, bodyStart: i + 3 };
    if (d === 0x3c) {
      const e = p.charCodeAt(i + 3);
      if (e === 0x3d || e === 0x21) return { look: true, bodyStart: i + 4 };
      let j = i + 3;
      while (j < this.#n) {
        const c = p.charCodeAt(j);
        if (isWordChar(c) || c >= 128 || c === 0x5c) j++;
        else break;
      }
      if (j === i + 3 || p.charCodeAt(j) !== 0x3e) this.#invalid('bad group name');
      return { look: false, bodyStart: j + 1 };
    }
    // Modifiers: (?ims-ims:...)
    let j = i + 2;
    let addsIgnoreCase = false;
    let minus = false;
    while (j < this.#n) {
      const c = p.charCodeAt(j);
      if (c === 0x69 || c === 0x6d || c === 0x73) {
        if (c === 0x69 && !minus) addsIgnoreCase = true;
        j++;
      } else if (c === 0x2d && !minus) {
        minus = true;
        j++;
      } else break;
    }
    if (j === i + 2 || p.charCodeAt(j) !== 0x3a) this.#invalid('unknown group syntax "(?"');
    if (addsIgnoreCase && !this.#ignoreCase) this.restartWithIgnoreCase = true;
    return { look: false, bodyStart: j + 1 };
  }

  /** `{n}`, `{n,}`, `{n,m}` at `i`, or null when the brace is not a quantifier. */
  #braces(i: number): { min: number; max: number; end: number } | null {
    const p = this.#p;
    let j = i + 1;
    const readInt = (): number | null => {
      const s = j;
      let v = 0;
      while (j < this.#n && isDigit(p.charCodeAt(j))) {
        if (v < QUANT_CAP) v = v * 10 + (p.charCodeAt(j) - 0x30);
        j++;
      }
      return j === s ? null : Math.min(v, QUANT_CAP);
    };
    const min = readInt();
    if (min === null) return null;
    let max: number | null = min;
    if (p.charCodeAt(j) === 0x2c) {
      j++;
      max = p.charCodeAt(j) === 0x7d ? INF : readInt();
      if (max === null) return null;
    }
    if (p.charCodeAt(j) !== 0x7d) return null;
    return { min, max, end: j + 1 };
  }

  #quantify(f: Frame, min: number, max: number, end: number): void {
    let j = end;
    if (this.#p.charCodeAt(j) === 0x3f) j++; // lazy: fails just as slowly
    const terms = f.terms;
    const last = terms[terms.length - 1];
    if (last === undefined || last.kind === K_QUANT || last.kind === K_ASSERT) {
      this.#invalid('nothing to repeat');
      return;
    }
    if (max < min) {
      this.#invalid('numbers out of order in {} quantifier');
      return;
    }
    if (last.kind === K_GROUP) this.#checkRepeat(last, max, f.lastStart, j);
    terms[terms.length - 1] = quantNode(last, min, max);
    this.#i = j;
  }

  #checkRepeat(body: Node, max: number, start: number, end: number): void {
    const src = () => snippet(this.#p.slice(start, end));
    if (max >= BACKREF_REPEAT && body.backref) {
      this.#unsafe(`back-reference inside the repeated group ${src()}`);
    } else if (max >= OVERLAP_REPEAT && body.overlap !== null) {
      this.#unsafe(`overlapping alternatives in the repeated group ${src()}: ${body.overlap}`);
    } else if (max >= NESTED_REPEAT && body.varQuant && !body.delimited) {
      this.#unsafe(
        `nested quantifier in ${src()}: a repeated group contains another variable-length repetition, so the same text can be split between repetitions in exponentially many ways`,
      );
    } else if (max >= OVERLAP_REPEAT && (body.ambig || body.maxVarTerms >= 2) && !body.delimited) {
      // Only optional parts (`?`): a constant number of ways per iteration, so only long repeats explode.
      this.#unsafe(
        `ambiguous repeated group ${src()}: its optional parts can match the same text in several ways in every repetition`,
      );
    }
  }

  #group(f: Frame, closeAt: number): Node {
    // The frame is discarded after this, so its arrays can take the last alternative.
    const alts = f.alts;
    alts.push(f.terms);
    const ranges = f.altRanges;
    ranges.push(f.altStart, closeAt);
    const seqs = alts.map((terms) => sequence(terms));
    let backref = false;
    for (const s of seqs) backref ||= s.backref;
    if (f.look) {
      // Lookarounds consume nothing and never backtrack into their body once they succeeded.
      return { ...ASSERT_NODE, kind: K_LOOK, backref };
    }
    // Unions are only needed with several alternatives; nodes are immutable, so one alternative's sets are reused.
    const first = seqs.length > 1 ? new CharSet() : EMPTY;
    const chars = seqs.length > 1 ? new CharSet() : EMPTY;
    let minW = INF;
    let maxW = 0;
    let varQuant = false;
    let ambig = false;
    let overlap: string | null = null;
    let maxVarTerms = 0;
    for (const s of seqs) {
      if (seqs.length > 1) {
        first.addSet(s.first);
        chars.addSet(s.chars);
      }
      if (s.minW < minW) minW = s.minW;
      if (s.maxW > maxW) maxW = s.maxW;
      varQuant ||= s.varQuant;
      ambig ||= s.ambig;
      overlap ??= s.overlap;
      if (s.varTerms > maxVarTerms) maxVarTerms = s.varTerms;
    }
    if (seqs.length > 1) overlap ??= this.#overlappingAlternatives(seqs, ranges);
    const single = seqs.length === 1 ? (seqs[0] as Sequence) : null;
    const pinned = single !== null ? delimitation(alts[0] as Node[]) : NOT_DELIMITED;
    return {
      kind: K_GROUP,
      minW,
      maxW,
      first: single !== null ? single.first : first,
      chars: single !== null ? single.chars : chars,
      atom: pinned.atom,
      prefix: single !== null ? single.prefix : NO_PREFIX,
      exact: single !== null ? single.exact : minW === 0 && maxW === 0,
      varQuant,
      ambig,
      backref,
      overlap,
      maxVarTerms,
      delimited: !ambig && pinned.delimited,
    };
  }

  #overlappingAlternatives(seqs: Sequence[], ranges: number[]): string | null {
    const text = (k: number) => snippet(this.#p.slice(ranges[2 * k] as number, ranges[2 * k + 1] as number));
    if (seqs.length > MAX_PAIRWISE_ALTS) {
      // Too many to compare pairwise in bounded time: compare each with the union of the previous ones.
      const seen = new CharSet();
      for (let k = 0; k < seqs.length; k++) {
        const s = seqs[k] as Sequence;
        if (s.first.intersects(seen)) return `alternative ${text(k)} can start like an earlier one`;
        seen.addSet(s.first);
      }
      return null;
    }
    for (let a = 0; a < seqs.length; a++) {
      for (let b = a + 1; b < seqs.length; b++) {
        if (alternativesOverlap(seqs[a] as Sequence, seqs[b] as Sequence)) {
          return `alternatives ${text(a)} and ${text(b)} can match the same text`;
        }
      }
    }
    return null;
  }

  #charClass(i: number): Node {
    const p = this.#p;
    const n = this.#n;
    let j = i + 1;
    const negate = p.charCodeAt(j) === 0x5e;
    if (negate) j++;
    const set = new CharSet();
    let depth = 1;
    // Set operations and nested classes (v flag) can only shrink the union we collect, so the union is a
    // safe over-approximation, but its complement would not be: a negated complex class becomes "anything".
    let complex = false;
    let prev = -1;
    let pendingRange = false;
    const single = (cp: number): void => {
      if (pendingRange && prev >= 0) {
        if (cp < prev) this.#invalid('range out of order in character class');
        set.addRange(prev, cp);
        pendingRange = false;
        prev = -1;
      } else {
        set.add(cp);
        prev = cp;
      }
    };
    const classEscape = (s: CharSet): void => {
      if (pendingRange) set.add(0x2d);
      pendingRange = false;
      set.addSet(s);
      prev = -1;
    };
    // v flag: what the class matches besides single characters. `\q{...}` strings of other than one
    // character, kept as alternatives with their place in the pattern (see #stringClass), and whether a
    // property of strings is in it.
    const strings: { cps: number[]; start: number; end: number }[] = [];
    let stringProperty = false;
    while (j < n) {
      const c = p.charCodeAt(j);
      if (c === 0x5d) {
        j++;
        depth--;
        prev = -1;
        if (depth === 0) break;
        continue;
      }
      if (this.#v) {
        if (c === 0x5b) {
          depth++;
          complex = true;
          prev = -1;
          j++;
          continue;
        }
        const d = p.charCodeAt(j + 1);
        if ((c === 0x2d && d === 0x2d) || (c === 0x26 && d === 0x26)) {
          complex = true;
          prev = -1;
          pendingRange = false;
          j += 2;
          continue;
        }
      }
      if (c === 0x2d && prev >= 0 && !pendingRange && p.charCodeAt(j + 1) !== 0x5d) {
        pendingRange = true;
        j++;
        continue;
      }
      if (c === 0x5c) {
        const d = p.charCodeAt(j + 1);
        const builtin = this.#builtinClass(d);
        if (builtin !== null) {
          classEscape(builtin.chars);
          j += 2;
          continue;
        }
        if ((d === 0x70 || d === 0x50) && this.#unicode) {
          if (d === 0x70 && this.#stringProperty(j + 2)) stringProperty = true;
          classEscape(CharSet.full());
          j = this.#skipBraces(j + 2);
          continue;
        }
        if (d === 0x71 && this.#v) {
          // \q{abc|d}: a string each; one of a single character is that character.
          if (pendingRange) set.add(0x2d);
          pendingRange = false;
          prev = -1;
          j = this.#classStrings(j + 2, set, strings);
          continue;
        }
        if (d === 0x62) {
          single(0x08);
          j += 2;
          continue;
        }
        const esc = this.#characterEscape(j, true);
        single(esc.cp);
        j = esc.end;
        continue;
      }
      const cp = this.#unicode ? (p.codePointAt(j) as number) : c;
      single(cp);
      j += cp > 0xffff ? 2 : 1;
    }
    if (depth > 0) this.#invalid('missing "]"');
    if (pendingRange) set.add(0x2d);
    if (this.#ignoreCase) set.foldCase();
    const result = negate ? (complex ? CharSet.full() : set.complement()) : set;
    this.#i = j;
    if (strings.length === 0 && !stringProperty) return charNode(result);
    if (negate) this.#invalid('a negated character class cannot match strings');
    if (stringProperty) return STRING_PROPERTY_NODE;
    return this.#stringClass(result, strings, i, j);
  }

  /**
   * `\q{...}` from its brace at `j`: strings of one character go to `set`, the others to `strings`.
   * Returns where the escape ends.
   */
  #classStrings(j: number, set: CharSet, strings: { cps: number[]; start: number; end: number }[]): number {
    const p = this.#p;
    if (p.charCodeAt(j) !== 0x7b) {
      this.#invalid('"\\q" without "{"');
      return this.#n;
    }
    let k = j + 1;
    let start = k;
    let cps: number[] = [];
    while (k < this.#n) {
      const c = p.charCodeAt(k);
      if (c === 0x7c || c === 0x7d) {
        if (cps.length === 1) set.add(cps[0] as number);
        else strings.push({ cps, start, end: k });
        if (c === 0x7d) return k + 1;
        cps = [];
        start = ++k;
        continue;
      }
      if (c === 0x5c) {
        if (p.charCodeAt(k + 1) === 0x62) {
          cps.push(0x08);
          k += 2;
          continue;
        }
        const esc = this.#characterEscape(k, true);
        cps.push(esc.cp);
        k = esc.end;
        continue;
      }
      const cp = p.codePointAt(k) as number;
      cps.push(cp);
      k += cp > 0xffff ? 2 : 1;
    }
    this.#invalid('missing "}"');
    return this.#n;
  }

  /**
   * A class that matches strings as well as characters: the alternation of its characters and of each
   * string, summarized as a group is (`[a\q{ab}]+` backtracks as `(?:a|ab)+` does). The class spans
   * `from` to `to`; each string its own place, for the messages.
   */
  #stringClass(chars: CharSet, strings: { cps: number[]; start: number; end: number }[], from: number, to: number): Node {
    const alts: Node[][] = [];
    const ranges: number[] = [];
    if (chars.intersects(CharSet.full())) {
      alts.push([charNode(chars)]);
      ranges.push(from, to);
    }
    for (const s of strings) {
      alts.push(s.cps.map((cp) => this.#literalNode(cp)));
      ranges.push(s.start, s.end);
    }
    const last = alts.pop() as Node[];
    const lastEnd = ranges.pop() as number;
    const lastStart = ranges.pop() as number;
    return this.#group({ start: from, lastStart: from, look: false, altStart: lastStart, terms: last, alts, altRanges: ranges }, lastEnd);
  }

  /** Whether the `\p` whose brace is at `j` names a property of strings (v flag only). */
  #stringProperty(j: number): boolean {
    if (!this.#v || this.#p.charCodeAt(j) !== 0x7b) return false;
    const close = this.#p.indexOf('}', j);
    return close > j && STRING_PROPERTIES.has(this.#p.slice(j + 1, close));
  }

  /** `\d \D \s \S \w \W` as shared nodes. */
  #builtinClass(d: number): Node | null {
    switch (d) {
      case 0x64:
        return DIGIT_NODE;
      case 0x44:
        return NON_DIGIT_NODE;
      case 0x73:
        return SPACE_NODE;
      case 0x53:
        return NON_SPACE_NODE;
      case 0x77:
        // With `iu`, \w also matches U+017F and U+212A.
        return this.#ignoreCase && this.#unicode ? WORD_FOLDED_NODE : WORD_NODE;
      case 0x57:
        return this.#ignoreCase && this.#unicode ? NON_WORD_FOLDED_NODE : NON_WORD_NODE;
      default:
        return null;
    }
  }

  /** Skips `{...}` after `\p`, `\P`, `\q` (or nothing, if no brace follows). */
  #skipBraces(j: number): number {
    const p = this.#p;
    if (p.charCodeAt(j) !== 0x7b) return j;
    const close = p.indexOf('}', j);
    if (close < 0) {
      this.#invalid('missing "}"');
      return this.#n;
    }
    return close + 1;
  }

  /** An escape that stands for one character, at `j` (the backslash). */
  #characterEscape(j: number, inClass: boolean): { cp: number; end: number } {
    const p = this.#p;
    const d = p.charCodeAt(j + 1);
    if (Number.isNaN(d)) {
      this.#invalid('"\\" at end of pattern');
      return { cp: 0x5c, end: this.#n };
    }
    switch (d) {
      case 0x6e:
        return { cp: 0x0a, end: j + 2 };
      case 0x72:
        return { cp: 0x0d, end: j + 2 };
      case 0x74:
        return { cp: 0x09, end: j + 2 };
      case 0x76:
        return { cp: 0x0b, end: j + 2 };
      case 0x66:
        return { cp: 0x0c, end: j + 2 };
      case 0x63: {
        const e = p.charCodeAt(j + 2);
        if ((e >= 0x41 && e <= 0x5a) || (e >= 0x61 && e <= 0x7a)) return { cp: e % 32, end: j + 3 };
        return { cp: 0x5c, end: j + 1 }; // Annex B: a literal backslash, then `c`
      }
      case 0x78: {
        const a = p.charCodeAt(j + 2);
        const b = p.charCodeAt(j + 3);
        if (isHex(a) && isHex(b)) return { cp: hexValue(a) * 16 + hexValue(b), end: j + 4 };
        return { cp: 0x78, end: j + 2 };
      }
      case 0x75:
        return this.#unicodeEscape(j);
      default:
        break;
    }
    if (isDigit(d)) {
      if (d === 0x30 && !isDigit(p.charCodeAt(j + 2))) return { cp: 0, end: j + 2 };
      // Legacy octal (outside unicode mode); `\8` and `\9` are the digits themselves.
      if (d >= 0x38) return { cp: d, end: j + 2 };
      let v = 0;
      let k = j + 1;
      while (k < j + 4 && k < this.#n && p.charCodeAt(k) >= 0x30 && p.charCodeAt(k) <= 0x37 && v * 8 < 256) {
        v = v * 8 + (p.charCodeAt(k) - 0x30);
        k++;
      }
      return { cp: v, end: k };
    }
    if (!inClass && d === 0x2d) return { cp: 0x2d, end: j + 2 };
    const cp = this.#unicode ? (p.codePointAt(j + 1) as number) : d;
    return { cp, end: j + 1 + (cp > 0xffff ? 2 : 1) };
  }

  #unicodeEscape(j: number): { cp: number; end: number } {
    const p = this.#p;
    if (this.#unicode && p.charCodeAt(j + 2) === 0x7b) {
      let k = j + 3;
      let v = 0;
      while (k < this.#n && isHex(p.charCodeAt(k))) {
        if (v <= 0x10ffff) v = v * 16 + hexValue(p.charCodeAt(k));
        k++;
      }
      if (k === j + 3 || p.charCodeAt(k) !== 0x7d || v > 0x10ffff) this.#invalid('bad \\u{...} escape');
      return { cp: v > 0x10ffff ? 0x10ffff : v, end: k + 1 };
    }
    let v = 0;
    for (let k = j + 2; k < j + 6; k++) {
      const c = p.charCodeAt(k);
      if (!isHex(c)) {
        if (this.#unicode) this.#invalid('bad \\u escape');
        return { cp: 0x75, end: j + 2 };
      }
      v = v * 16 + hexValue(c);
    }
    return { cp: v, end: j + 6 };
  }

  #escape(i: number): Node {
    const p = this.#p;
    const d = p.charCodeAt(i + 1);
    if (d === 0x62 || d === 0x42) {
      this.#i = i + 2;
      return ASSERT_NODE;
    }
    if (d >= 0x31 && d <= 0x39) {
      let j = i + 1;
      while (j < this.#n && isDigit(p.charCodeAt(j))) j++;
      this.#i = j;
      return BACKREF_NODE;
    }
    if (d === 0x6b && p.charCodeAt(i + 2) === 0x3c) {
      let j = i + 3;
      while (j < this.#n && p.charCodeAt(j) !== 0x3e && (isWordChar(p.charCodeAt(j)) || p.charCodeAt(j) >= 128)) j++;
      if (p.charCodeAt(j) === 0x3e) {
        this.#i = j + 1;
        return BACKREF_NODE;
      }
    }
    const builtin = this.#builtinClass(d);
    if (builtin !== null) {
      this.#i = i + 2;
      return builtin;
    }
    if ((d === 0x70 || d === 0x50) && this.#unicode) {
      const strings = d === 0x70 && this.#stringProperty(i + 2);
      this.#i = this.#skipBraces(i + 2);
      return strings ? STRING_PROPERTY_NODE : ANY_NODE;
    }
    const esc = this.#characterEscape(i, false);
    this.#i = esc.end;
    return this.#literalNode(esc.cp);
  }
}

function quantNode(body: Node, min: number, max: number): Node {
  const minW = min === 0 ? 0 : body.minW * min;
  const maxW = body.maxW === 0 ? 0 : max === INF ? INF : body.maxW * max;
  let prefix = NO_PREFIX;
  let exact = minW === 0 && maxW === 0;
  if (min === max && body.exact && body.prefix.length * min <= MAX_PREFIX) {
    prefix = [];
    for (let k = 0; k < min; k++) prefix.push(...body.prefix);
    exact = true;
  } else if (min >= 1) {
    prefix = body.prefix;
  }
  return {
    kind: K_QUANT,
    minW,
    maxW,
    first: body.first,
    chars: body.chars,
    atom: min === 1 && max === 1 ? body.atom : null,
    prefix,
    exact,
    varQuant: body.varQuant || (body.maxW > 0 && max >= 2 && max > min),
    ambig: body.ambig,
    backref: body.backref,
    overlap: body.overlap,
    maxVarTerms: 0,
    delimited: false,
  };
}

interface Sequence {
  minW: number;
  maxW: number;
  first: CharSet;
  chars: CharSet;
  prefix: CharSet[];
  exact: boolean;
  varQuant: boolean;
  ambig: boolean;
  backref: boolean;
  overlap: string | null;
  varTerms: number;
}

/** Summary of one alternative. */
function sequence(terms: Node[]): Sequence {
  if (terms.length === 1) {
    const t = terms[0] as Node;
    return {
      minW: t.minW,
      maxW: t.maxW,
      first: t.first,
      chars: t.chars,
      prefix: t.prefix.length > MAX_PREFIX ? t.prefix.slice(0, MAX_PREFIX) : t.prefix,
      exact: t.exact && t.prefix.length <= MAX_PREFIX,
      varQuant: t.varQuant,
      ambig: t.ambig,
      backref: t.backref,
      overlap: t.overlap,
      varTerms: t.minW !== t.maxW ? 1 : 0,
    };
  }
  let minW = 0;
  let maxW = 0;
  const first = new CharSet();
  let firstDone = false;
  const chars = new CharSet();
  const prefix: CharSet[] = [];
  let prefixOpen = true;
  let varQuant = false;
  let ambig = false;
  let backref = false;
  let overlap: string | null = null;
  let varTerms = 0;
  // Variable-width parts whose end is not yet pinned by a later mandatory part they cannot match.
  const open: CharSet[] = [];
  for (const t of terms) {
    minW += t.minW;
    maxW += t.maxW;
    if (!firstDone) {
      first.addSet(t.first);
      if (t.minW > 0) firstDone = true;
    }
    chars.addSet(t.chars);
    varQuant ||= t.varQuant;
    ambig ||= t.ambig;
    backref ||= t.backref;
    overlap ??= t.overlap;
    if (prefixOpen) {
      if (prefix.length + t.prefix.length > MAX_PREFIX) prefixOpen = false;
      for (const s of t.prefix) if (prefix.length < MAX_PREFIX) prefix.push(s);
      if (!t.exact) prefixOpen = false;
    }
    const variable = t.minW !== t.maxW;
    if (variable) {
      varTerms++;
      for (const o of open) {
        if (o.intersects(t.chars)) {
          ambig = true;
          break;
        }
      }
    }
    if (t.minW > 0 && open.length > 0) {
      let kept = 0;
      for (const o of open) if (o.intersects(t.first)) open[kept++] = o;
      while (open.length > kept) open.pop();
    }
    if (variable) {
      if (open.length >= MAX_OPEN_VAR_TERMS) ambig = true;
      else open.push(t.chars);
    }
  }
  const exact = prefixOpen && prefix.length === minW && minW === maxW;
  return { minW, maxW, first, chars, prefix, exact, varQuant, ambig, backref, overlap, varTerms };
}

/**
 * Whether two alternatives may match at the same place. They may not if their first characters differ,
 * or if at some position both have a fixed character and those differ (`ab|ac`).
 */
function alternativesOverlap(a: Sequence, b: Sequence): boolean {
  if (!a.first.intersects(b.first)) return false;
  const n = Math.min(a.prefix.length, b.prefix.length);
  for (let k = 0; k < n; k++) {
    if (!(a.prefix[k] as CharSet).intersects(b.prefix[k] as CharSet)) return false;
  }
  return true;
}

const NOT_DELIMITED = { atom: null, delimited: false } as const;

/**
 * For a group whose only alternative is `terms`: its single mandatory character when that is all it
 * consumes, and whether it starts or ends with one mandatory character that no other part can match, so
 * that iteration boundaries are fixed by the text (see the header comment). A group holding just one
 * group inherits that group's answer. Zero-width parts (assertions, lookarounds) are ignored.
 */
function delimitation(terms: Node[]): { atom: CharSet | null; delimited: boolean } {
  let count = 0;
  let firstIndex = -1;
  let lastIndex = -1;
  for (let k = 0; k < terms.length; k++) {
    if ((terms[k] as Node).maxW === 0) continue;
    count++;
    if (firstIndex < 0) firstIndex = k;
    lastIndex = k;
  }
  if (count === 0) return NOT_DELIMITED;
  if (count === 1) {
    const only = terms[firstIndex] as Node;
    return { atom: only.atom, delimited: only.kind === K_GROUP && only.delimited };
  }
  return { atom: null, delimited: pinnedBy(terms, firstIndex) || pinnedBy(terms, lastIndex) };
}

function pinnedBy(terms: Node[], index: number): boolean {
  const d = (terms[index] as Node).atom;
  if (d === null) return false;
  for (let k = 0; k < terms.length; k++) {
    const t = terms[k] as Node;
    if (k !== index && t.maxW > 0 && t.chars.intersects(d)) return false;
  }
  return true;
}

function parseFlags(flags: string): { unicode: boolean; v: boolean; ignoreCase: boolean; dotAll: boolean } | string {
  let seen = '';
  for (const f of flags) {
    if (!'dgimsuyv'.includes(f)) return `unknown flag "${f}"`;
    if (seen.includes(f)) return `flag "${f}" given twice`;
    seen += f;
  }
  if (seen.includes('u') && seen.includes('v')) return 'flags "u" and "v" cannot be combined';
  return {
    unicode: seen.includes('u') || seen.includes('v'),
    v: seen.includes('v'),
    ignoreCase: seen.includes('i'),
    dotAll: seen.includes('s'),
  };
}

/** Like `analyzeRegex`, and tells an unparseable pattern (`invalid`) from a dangerous one. */
export function checkRegex(pattern: string, flags = ''): RegexVerdict {
  if (typeof pattern !== 'string' || typeof flags !== 'string') {
    return { safe: false, invalid: true, reason: 'pattern and flags must be strings' };
  }
  const parsed = parseFlags(flags);
  if (typeof parsed === 'string') return { safe: false, invalid: true, reason: `invalid flags: ${parsed}` };
  try {
    let parser = new Parser(pattern, parsed);
    parser.parse();
    if (parser.failure === null && parser.restartWithIgnoreCase) {
      parser = new Parser(pattern, { ...parsed, ignoreCase: true });
      parser.parse();
    }
    return parser.failure ?? { safe: true };
  } catch {
    // Our own bug: never let it escape, and never call the pattern safe.
    return { safe: false, invalid: true, reason: 'the pattern could not be analyzed' };
  }
}

/**
 * Conservative, linear-time check for catastrophic backtracking. Never throws; a pattern that cannot be
 * parsed is reported unsafe with the reason.
 */
export function analyzeRegex(pattern: string, flags?: string): { safe: boolean; reason?: string } {
  const v = checkRegex(pattern, flags ?? '');
  return v.safe ? { safe: true } : { safe: false, reason: v.reason ?? 'unsafe pattern' };
}
