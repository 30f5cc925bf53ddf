/**
 * Character tables of the pre-scan: which code points are dangerous in source text (NUL, BiDi controls,
 * invisible characters) and which script a letter belongs to (for homoglyph detection).
 */

export const CharKind = {
  NUL: 0,
  BIDI: 1,
  INVISIBLE: 2,
} as const;
export type CharKind = (typeof CharKind)[keyof typeof CharKind];

/**
 * True for every code point the pre-scan reports somewhere: NUL, BiDi controls and invisible characters.
 * Written as range tests because the lexer calls it on every non-ASCII character of the source.
 */
export function isSpecial(cp: number): boolean {
  if (cp < 0xad) return cp === 0;
  if (cp < 0x2000) {
    return (
      cp === 0xad ||
      cp === 0x34f ||
      cp === 0x61c ||
      cp === 0x115f ||
      cp === 0x1160 ||
      cp === 0x17b4 ||
      cp === 0x17b5 ||
      cp === 0x180e
    );
  }
  if (cp <= 0x206f) {
    return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069);
  }
  if (cp < 0xe0000) return cp === 0x3164 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0xfeff || cp === 0xffa0;
  // Tag characters, and the supplementary variation selectors: just as invisible as U+FE00-U+FE0F.
  return cp <= 0xe007f || (cp >= 0xe0100 && cp <= 0xe01ef);
}

/** Kind of a code point for which `isSpecial` is true. */
export function specialKind(cp: number): CharKind {
  if (cp === 0) return CharKind.NUL;
  if (cp === 0x61c || cp === 0x200e || cp === 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return CharKind.BIDI;
  }
  return CharKind.INVISIBLE;
}

const NAMES: Readonly<Record<number, string>> = {
  0x0000: 'NULL',
  0x00ad: 'SOFT HYPHEN',
  0x034f: 'COMBINING GRAPHEME JOINER',
  0x061c: 'ARABIC LETTER MARK',
  0x115f: 'HANGUL CHOSEONG FILLER',
  0x1160: 'HANGUL JUNGSEONG FILLER',
  0x17b4: 'KHMER VOWEL INHERENT AQ',
  0x17b5: 'KHMER VOWEL INHERENT AA',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2060: 'WORD JOINER',
  0x2061: 'FUNCTION APPLICATION',
  0x2062: 'INVISIBLE TIMES',
  0x2063: 'INVISIBLE SEPARATOR',
  0x2064: 'INVISIBLE PLUS',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x3164: 'HANGUL FILLER',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
  0xffa0: 'HALFWIDTH HANGUL FILLER',
};

/** `U+XXXX`, as people and models write code points. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `U+200B ZERO WIDTH SPACE`: the name tells a model what it is looking for when the glyph is invisible. */
export function describeCodePoint(cp: number): string {
  const label = codePointLabel(cp);
  const name = NAMES[cp];
  if (name !== undefined) return `${label} ${name}`;
  if (cp >= 0xfe00 && cp <= 0xfe0f) return `${label} VARIATION SELECTOR-${cp - 0xfe00 + 1}`;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return `${label} VARIATION SELECTOR-${cp - 0xe0100 + 17}`;
  if (cp >= 0xe0000 && cp <= 0xe007f) return `${label} TAG CHARACTER`;
  return label;
}

/** Whitespace outside ASCII that JavaScript accepts between tokens (Zs, plus U+FEFF). */
export function isNonAsciiSpace(cp: number): boolean {
  return (
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000 ||
    cp === 0xfeff
  );
}

/** A JavaScript LineTerminator. */
export function isLineTerminator(c: number): boolean {
  return c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
}

/** What JavaScript skips between two tokens: WhiteSpace or a LineTerminator (a UTF-16 code unit). */
export function isJsSpace(c: number): boolean {
  return c < 128 ? c === 0x20 || (c >= 0x09 && c <= 0x0d) : isNonAsciiSpace(c) || c === 0x2028 || c === 0x2029;
}

const ID_START = /^\p{ID_Start}$/u;
const ID_CONTINUE = /^[\p{ID_Continue}\u200C\u200D]$/u;

// Memo of the two regex tests for the BMP (0 = not computed yet), so that code written in a non-Latin
// script does not pay for a regex match on every character.
const ID_UNKNOWN = 0;
const ID_START_BIT = 1;
const ID_CONTINUE_BIT = 2;
const ID_NONE = 4;
let bmpIdClass: Uint8Array | null = null;

function idClass(cp: number): number {
  if (cp > 0xffff) {
    const ch = String.fromCodePoint(cp);
    return (ID_START.test(ch) ? ID_START_BIT : 0) | (ID_CONTINUE.test(ch) ? ID_CONTINUE_BIT : 0) || ID_NONE;
  }
  bmpIdClass ??= new Uint8Array(0x10000);
  let k = bmpIdClass[cp] as number;
  if (k === ID_UNKNOWN) {
    const ch = String.fromCharCode(cp);
    k = (ID_START.test(ch) ? ID_START_BIT : 0) | (ID_CONTINUE.test(ch) ? ID_CONTINUE_BIT : 0) || ID_NONE;
    bmpIdClass[cp] = k;
  }
  return k;
}

/** Identifier characters outside ASCII. */
export function isIdStartNonAscii(cp: number): boolean {
  return (idClass(cp) & ID_START_BIT) !== 0;
}
export function isIdContinueNonAscii(cp: number): boolean {
  return (idClass(cp) & ID_CONTINUE_BIT) !== 0;
}

/** Scripts that share look-alike letters with Latin; mixing any two of them in one name is a homoglyph. */
export const Script = {
  NONE: 0,
  LATIN: 1,
  GREEK: 2,
  CYRILLIC: 4,
} as const;
export type Script = (typeof Script)[keyof typeof Script];

const LATIN = /^\p{Script=Latin}$/u;
const GREEK = /^\p{Script=Greek}$/u;
const CYRILLIC = /^\p{Script=Cyrillic}$/u;

export function scriptOf(cp: number): Script {
  if (cp < 0x80) {
    return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? Script.LATIN : Script.NONE;
  }
  const ch = String.fromCodePoint(cp);
  if (LATIN.test(ch)) return Script.LATIN;
  if (CYRILLIC.test(ch)) return Script.CYRILLIC;
  if (GREEK.test(ch)) return Script.GREEK;
  return Script.NONE;
}

export function scriptName(script: Script): string {
  switch (script) {
    case Script.LATIN:
      return 'Latin';
    case Script.GREEK:
      return 'Greek';
    case Script.CYRILLIC:
      return 'Cyrillic';
    default:
      return 'other';
  }
}

const PICTOGRAPHIC = /^\p{Extended_Pictographic}$/u;
const EMOJI_MODIFIER = /^\p{Emoji_Modifier}$/u;

/** An emoji a variation selector or a zero-width joiner may follow. */
export function isEmojiBase(cp: number): boolean {
  if (cp < 0xa9) return false;
  const ch = String.fromCodePoint(cp);
  return PICTOGRAPHIC.test(ch) || EMOJI_MODIFIER.test(ch);
}

export function isPictographic(cp: number): boolean {
  return cp >= 0xa9 && PICTOGRAPHIC.test(String.fromCodePoint(cp));
}

/** `#`, `*` and the digits: with U+FE0F and U+20E3 they make a keycap emoji. */
export function isKeycapBase(cp: number): boolean {
  return cp === 0x23 || cp === 0x2a || (cp >= 0x30 && cp <= 0x39);
}

/** Tag characters that spell a subdivision flag after U+1F3F4 (the last one, U+E007F, cancels). */
export function isTag(cp: number): boolean {
  return cp >= 0xe0020 && cp <= 0xe007f;
}
