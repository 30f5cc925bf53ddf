/**
 * Layer 0, the pre-scan: cheap checks on the raw source text before anything parses it. It bounds the size
 * of what later layers see, rejects characters that make code read differently from how it runs (Trojan
 * Source, homoglyphs, invisible characters, NUL) and rejects regex literals that could backtrack for
 * ever. It is linear in the input, never throws and reports every problem it finds, up to a cap.
 */
import type { ScanLimits, SecurityLevel } from '../levels.js';
import { type Issue, LineIndex } from '../source.js';
import { LexContext, type LexSink } from '../ast/lexer.js';
import { lexWithDepth } from '../ast/depth.js';
import { checkRegex } from './regex.js';
import { CharKind, describeCodePoint, isEmojiBase, isKeycapBase, isPictographic, isSpecial, isTag, Script, scriptName, scriptOf, specialKind } from '../ast/unicode.js';

export { analyzeRegex } from './regex.js';

/** Enough for a model to fix a batch of problems; more would only bloat the error. */
const MAX_ISSUES = 50;
/** Keeps one noisy rule (a pasted block of zero-width spaces) from hiding every other problem. */
const MAX_PER_RULE = 20;

const ASCII_NAME_HINT = 'Rename it using only ASCII letters, digits, "_" and "$".';

interface Pending {
  ruleId: string;
  message: string;
  hint: string;
  offset: number;
  end?: number;
}

function where(context: LexContext): string {
  switch (context) {
    case LexContext.IDENTIFIER:
      return 'an identifier';
    case LexContext.LINE_COMMENT:
    case LexContext.BLOCK_COMMENT:
      return 'a comment';
    case LexContext.STRING:
      return 'a string literal';
    case LexContext.TEMPLATE:
      return 'a template literal';
    case LexContext.REGEX:
      return 'a regex literal';
    default:
      return 'the code';
  }
}

/** The escape a model can write instead of a raw character. */
function escapeOf(cp: number): string {
  const hex = cp.toString(16).toUpperCase();
  return cp <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`;
}

/** Longest tag sequence of a subdivision flag (England is 5 tags and the cancel tag). */
const MAX_FLAG_TAGS = 8;

/** The code point that ends just before `offset` (a whole surrogate pair), or -1. */
function codePointBefore(src: string, offset: number): number {
  if (offset <= 0) return -1;
  const low = src.charCodeAt(offset - 1);
  if (low >= 0xdc00 && low <= 0xdfff && offset >= 2) {
    const high = src.charCodeAt(offset - 2);
    if (high >= 0xd800 && high <= 0xdbff) return ((high - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
  }
  return low;
}

function codePointAfter(src: string, offset: number, cp: number): number {
  const next = offset + (cp > 0xffff ? 2 : 1);
  return next < src.length ? (src.codePointAt(next) as number) : -1;
}

/**
 * Whether an invisible character at `offset` is part of an emoji: a variation selector right after an
 * emoji (or U+FE0F in a keycap), a zero-width joiner between two emoji, or the tags of a subdivision flag.
 * Those render as one picture and hide nothing; every other invisible character is refused.
 */
function isEmojiPart(src: string, offset: number, cp: number): boolean {
  if (cp >= 0xfe00 && cp <= 0xfe0f) {
    const before = codePointBefore(src, offset);
    if (isEmojiBase(before)) return true;
    return cp === 0xfe0f && isKeycapBase(before) && codePointAfter(src, offset, cp) === 0x20e3;
  }
  if (cp === 0x200d) {
    let before = codePointBefore(src, offset);
    if (before === 0xfe0f) before = codePointBefore(src, offset - 1);
    return isEmojiBase(before) && isPictographic(codePointAfter(src, offset, cp));
  }
  if (isTag(cp)) {
    // Back to the start of the run of tags, which must follow U+1F3F4 WAVING BLACK FLAG ...
    let start = offset;
    let count = 0;
    for (let prev = codePointBefore(src, start); isTag(prev); prev = codePointBefore(src, start)) {
      if (prev === 0xe007f || ++count > MAX_FLAG_TAGS) return false;
      start -= 2;
    }
    if (codePointBefore(src, start) !== 0x1f3f4) return false;
    // ... and forward to the cancel tag that ends it.
    for (let at = offset; count <= MAX_FLAG_TAGS; at += 2, count++) {
      const c = src.codePointAt(at) as number;
      if (c === 0xe007f) return true;
      if (!isTag(c)) return false;
    }
    return false;
  }
  return false;
}

/** Echoes user text in a message without carrying invisible or control characters along. */
function printable(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max - 3)}...` : s;
  let out = '';
  for (const ch of cut) {
    const cp = ch.codePointAt(0) as number;
    out += cp < 0x20 || cp === 0x7f || cp === 0x2028 || cp === 0x2029 || isSpecial(cp) ? escapeOf(cp) : ch;
  }
  return out;
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b !== 0; b &= b - 1) n++;
  return n;
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Code points of an identifier's source text, with `\uXXXX` and `\u{...}` escapes decoded. */
function identifierCodePoints(name: string): number[] {
  const out: number[] = [];
  let k = 0;
  while (k < name.length) {
    const cp = name.codePointAt(k) as number;
    if (cp === 0x5c && name.charCodeAt(k + 1) === 0x75) {
      let j = k + 2;
      let v = 0;
      if (name.charCodeAt(j) === 0x7b) {
        j++;
        while (j < name.length && isHexDigit(name.charCodeAt(j))) {
          if (v <= 0x10ffff) v = v * 16 + Number.parseInt(name.charAt(j), 16);
          j++;
        }
        if (name.charCodeAt(j) === 0x7d) j++;
      } else {
        const stop = Math.min(j + 4, name.length);
        while (j < stop && isHexDigit(name.charCodeAt(j))) {
          v = v * 16 + Number.parseInt(name.charAt(j), 16);
          j++;
        }
      }
      out.push(v > 0x10ffff ? 0xfffd : v);
      k = j;
      continue;
    }
    out.push(cp);
    k += cp > 0xffff ? 2 : 1;
  }
  return out;
}

/**
 * The code's size in UTF-8 bytes when it is over `max`, else undefined: the pre-scan's first check,
 * which anything that would read a script through (parse it, score it) asks first.
 */
export function bytesOver(code: string, max: number): number | undefined {
  // Every UTF-16 unit is 1 to 3 UTF-8 bytes, so short inputs need no measuring at all.
  if (code.length * 3 <= max) return undefined;
  const bytes = Buffer.byteLength(code, 'utf8');
  return bytes <= max ? undefined : bytes;
}

class Scan implements LexSink {
  readonly #src: string;
  readonly #limits: ScanLimits;
  readonly #level: SecurityLevel;
  /** STRICT and SECURE (and anything unknown: fail closed) also reject invisible text in strings and non-ASCII names. */
  readonly #strictText: boolean;
  readonly #issues: Pending[] = [];
  readonly #perRule = new Map<string, number>();
  readonly #truncatedRules = new Set<string>();
  readonly #seenNames = new Set<string>();
  #nestingReported = false;
  #regexCount = 0;
  #regexCountIssue: Pending | null = null;
  full = false;

  constructor(src: string, limits: ScanLimits, level: SecurityLevel) {
    this.#src = src;
    this.#limits = limits;
    this.#level = level;
    this.#strictText = level !== 'STANDARD' && level !== 'PERMISSIVE';
  }

  #add(ruleId: string, offset: number, message: string, hint: string, end?: number): Pending | null {
    if (this.full) return null;
    const count = this.#perRule.get(ruleId) ?? 0;
    if (count >= MAX_PER_RULE) {
      this.#truncatedRules.add(ruleId);
      return null;
    }
    this.#perRule.set(ruleId, count + 1);
    const issue: Pending = end === undefined ? { ruleId, message, hint, offset } : { ruleId, message, hint, offset, end };
    this.#issues.push(issue);
    if (this.#issues.length >= MAX_ISSUES) this.full = true;
    return issue;
  }

  run(): void {
    if (!this.#checkSize()) return;
    this.#checkLines();
    // The parse that follows needs the parse-depth estimate of the same text, from the same lexer.
    lexWithDepth(this.#src, this);
  }

  /** False when the code is too large: then nothing else is looked at. */
  #checkSize(): boolean {
    const max = this.#limits.maxCodeBytes;
    const bytes = bytesOver(this.#src, max);
    if (bytes === undefined) return true;
    this.#add(
      'prescan/size',
      0,
      `The code is ${bytes} bytes (UTF-8); the limit is ${max} bytes.`,
      'Make the script shorter: remove unused code and keep large data out of it (read it from the input or fetch it with a tool).',
    );
    return false;
  }

  #checkLines(): void {
    const src = this.#src;
    const n = src.length;
    const { maxLineLength, maxLines } = this.#limits;
    const checkLength = n > maxLineLength; // no line can be longer than the whole text
    let line = 1;
    let start = 0;
    let overflowStart = maxLines < 1 ? 0 : -1;
    // With "\n" as the only line terminator, the native indexOf finds line ends far faster than a JS loop.
    const lfOnly = src.indexOf('\r') < 0 && src.indexOf('\u2028') < 0 && src.indexOf('\u2029') < 0;
    let i = lfOnly ? src.indexOf('\n') : 0;
    while (i >= 0 && i < n) {
      if (!lfOnly) {
        const c = src.charCodeAt(i);
        if (c > 13 ? c !== 0x2028 && c !== 0x2029 : c !== 10 && c !== 13) {
          i++;
          continue;
        }
      }
      if (checkLength && i - start > maxLineLength) this.#longLine(line, start, i - start);
      if (src.charCodeAt(i) === 13 && src.charCodeAt(i + 1) === 10) i++;
      line++;
      start = i + 1;
      if (line === maxLines + 1) overflowStart = start;
      i = lfOnly ? src.indexOf('\n', start) : start;
    }
    if (checkLength && n - start > maxLineLength) this.#longLine(line, start, n - start);
    // A final line break ends the last line; it does not start another one.
    const count = start === n && line > 1 ? line - 1 : line;
    if (count > maxLines) {
      this.#add(
        'prescan/lines',
        overflowStart < 0 ? 0 : overflowStart,
        `The code has ${count} lines; the limit is ${maxLines}.`,
        'Write a shorter script: factor repeated code into loops or helpers and keep data out of the code.',
      );
    }
  }

  #longLine(line: number, start: number, length: number): void {
    const max = this.#limits.maxLineLength;
    this.#add(
      'prescan/line-length',
      start + max,
      `Line ${line} is ${length} characters long; the limit is ${max}.`,
      'Break the line up: put long arrays, objects or string concatenations over several lines.',
    );
  }

  special(offset: number, cp: number, context: LexContext): void {
    const kind = specialKind(cp);
    const inLiteral = context === LexContext.STRING || context === LexContext.TEMPLATE;
    if (kind === CharKind.NUL) {
      this.#add(
        'prescan/null-byte',
        offset,
        `NUL character (U+0000) in ${where(context)}.`,
        inLiteral
          ? 'Remove the raw NUL character; write the escape "\\0" if the string needs one.'
          : 'Remove the NUL character.',
      );
      return;
    }
    if (kind === CharKind.BIDI) {
      this.#add(
        'prescan/bidi',
        offset,
        `BiDi control character ${describeCodePoint(cp)} in ${where(context)}: it can make code display differently from how it runs (Trojan Source, CVE-2021-42574).`,
        inLiteral
          ? `Remove it; if the text really needs it, write the escape "${escapeOf(cp)}" instead of the raw character.`
          : 'Delete the character; BiDi controls are not allowed in code or comments.',
      );
      return;
    }
    if (cp === 0xfeff && offset === 0) return; // a byte order mark
    // Text that prints emoji (in strings, templates and comments) keeps its joiners and selectors.
    const text = inLiteral || context === LexContext.LINE_COMMENT || context === LexContext.BLOCK_COMMENT;
    if (text && isEmojiPart(this.#src, offset, cp)) return;
    this.#add(
      'prescan/invisible',
      offset,
      inLiteral
        ? `Invisible character ${describeCodePoint(cp)} in ${where(context)}: two strings that read the same can then differ, so a comparison or a tool name does something other than it shows.`
        : `Invisible character ${describeCodePoint(cp)} in ${where(context)}.`,
      inLiteral
        ? `Write the escape "${escapeOf(cp)}" instead of the raw character, or remove it.`
        : 'Delete it; invisible characters are not allowed in code, identifiers, comments or regex literals.',
    );
  }

  lineSeparator(offset: number, cp: number, context: LexContext): void {
    const name = describeCodePoint(cp);
    const message =
      context === LexContext.LINE_COMMENT
        ? `${name} ends this // comment: the text after it on the same displayed line is code and runs, although it looks like part of the comment.`
        : `${name} in ${where(context)}: it is a line break that most editors do not show as one, so the code reads differently from how it runs.`;
    this.#add('prescan/line-separator', offset, message, `Replace it with an ordinary line break, or delete it; to put it in a string, write the escape "${escapeOf(cp)}" inside the quotes.`);
  }

  identifier(start: number, end: number): void {
    const name = this.#src.slice(start, end);
    if (this.#seenNames.has(name)) return; // one report per name, not per use
    this.#seenNames.add(name);
    let scripts = 0;
    const firstOfScript = new Map<number, number>();
    let firstNonAscii = -1;
    for (const cp of identifierCodePoints(name)) {
      if (cp >= 0x80 && firstNonAscii < 0) firstNonAscii = cp;
      const script = scriptOf(cp);
      if (script !== Script.NONE && (scripts & script) === 0) {
        scripts |= script;
        firstOfScript.set(script, cp);
      }
    }
    const shown = printable(name);
    if (popcount(scripts) >= 2) {
      const foreign = [Script.GREEK, Script.CYRILLIC]
        .filter((s) => (scripts & s) !== 0)
        .map((s) => {
          const cp = firstOfScript.get(s) as number;
          return `"${String.fromCodePoint(cp)}" (${describeCodePoint(cp)}) is ${scriptName(s)}`;
        });
      const mixed = [Script.LATIN, Script.GREEK, Script.CYRILLIC].filter((s) => (scripts & s) !== 0).map(scriptName);
      this.#add(
        'prescan/homoglyph',
        start,
        `Identifier "${shown}" mixes ${mixed.join(' and ')} letters: ${foreign.join(', ')}, so it can look like a different name.`,
        ASCII_NAME_HINT,
        end,
      );
      return;
    }
    if (this.#strictText && firstNonAscii >= 0) {
      // Same rule: at these levels no look-alike letter can hide in a name because only ASCII is allowed.
      this.#add(
        'prescan/homoglyph',
        start,
        `Identifier "${shown}" contains the non-ASCII character ${describeCodePoint(firstNonAscii)}; only ASCII identifiers are allowed at the ${this.#level} level.`,
        ASCII_NAME_HINT,
        end,
      );
    }
  }

  open(offset: number, depth: number): void {
    if (this.#nestingReported || !(depth > this.#limits.maxNesting)) return;
    this.#nestingReported = true;
    this.#add(
      'prescan/nesting',
      offset,
      `Brackets are nested more than ${this.#limits.maxNesting} levels deep here (parentheses, brackets, braces and template \${} count together).`,
      'Flatten the code: use early returns, intermediate variables or small helpers instead of deeply nested expressions.',
    );
  }

  regex(start: number, bodyEnd: number, end: number): void {
    this.#regexCount++;
    const { maxRegexCount, maxRegexLength } = this.#limits;
    const src = this.#src;
    const pattern = src.slice(start + 1, bodyEnd);
    const flags = src.slice(bodyEnd + 1, end);
    const shown = `/${printable(pattern)}/${printable(flags, 12)}`;
    if (!(maxRegexCount > 0)) {
      this.#add(
        'prescan/regex-blocked',
        start,
        `Regex literal ${shown}: regex literals are not allowed at the ${this.#level} level.`,
        "Use string methods instead: includes(), startsWith(), endsWith(), indexOf(), split(',') or replaceAll('a', 'b') with plain strings.",
        end,
      );
      return;
    }
    if (this.#regexCount > maxRegexCount && this.#regexCountIssue === null) {
      this.#regexCountIssue = this.#add(
        'prescan/regex-count',
        start,
        '', // completed in finish(), once the total is known
        'Use fewer regex literals: reuse one regex, or use string methods such as includes(), startsWith() or split().',
        end,
      );
    }
    if (pattern.length > maxRegexLength) {
      this.#add(
        'prescan/regex-length',
        start,
        `Regex pattern ${shown} is ${pattern.length} characters long; the limit is ${maxRegexLength}.`,
        'Use a shorter regex, or split the work into several simple checks or string methods.',
        end,
      );
      return;
    }
    const verdict = checkRegex(pattern, flags);
    if (verdict.safe) return;
    if (verdict.invalid === true) {
      this.#add(
        'prescan/regex-invalid',
        start,
        `Regex literal ${shown} could not be checked: ${verdict.reason ?? 'invalid pattern'}.`,
        'Fix the regex syntax, or use string methods instead.',
        end,
      );
      return;
    }
    this.#add(
      'prescan/regex-redos',
      start,
      `Regex literal ${shown} can take exponential time on some inputs (ReDoS): ${verdict.reason ?? 'unsafe pattern'}.`,
      'Do not nest quantifiers or repeat overlapping alternatives: e.g. write /^\\w+(\\s\\w+)*$/ instead of /^(\\w+\\s?)*$/, or make each repeated part end with a character the rest cannot match; or use string methods.',
      end,
    );
  }

  internalFailure(): void {
    this.#issues.push({
      ruleId: 'prescan/internal',
      message: 'The pre-scan could not process this code.',
      hint: 'Simplify the code and submit it again.',
      offset: 0,
    });
  }

  finish(): Issue[] {
    const issues = this.#issues;
    if (issues.length === 0) return [];
    if (this.#regexCountIssue !== null) {
      this.#regexCountIssue.message = `The code has ${this.#regexCount} regex literals; the limit is ${this.#limits.maxRegexCount}.`;
    }
    for (const rule of this.#truncatedRules) {
      for (let k = issues.length - 1; k >= 0; k--) {
        const issue = issues[k] as Pending;
        if (issue.ruleId === rule) {
          issue.message += ' More occurrences of this problem are not listed.';
          break;
        }
      }
    }
    if (this.full) {
      const last = issues[issues.length - 1] as Pending;
      last.message += ` Scanning stopped after ${MAX_ISSUES} problems.`;
    }
    const index = new LineIndex(this.#src);
    return issues
      .toSorted((a, b) => a.offset - b.offset)
      .map((p) => {
        const { line, column } = index.locate(p.offset);
        const issue: Issue = { ruleId: p.ruleId, message: p.message, hint: p.hint, line, column };
        if (p.end !== undefined) {
          const endLoc = index.locate(p.end);
          issue.endLine = endLoc.line;
          issue.endColumn = endLoc.column;
        }
        return issue;
      });
  }
}

/**
 * Checks raw source text before parsing. Returns every problem found (at most 50), sorted by position;
 * an empty array means the code may go on to validation. Never throws, linear in the input size.
 */
export function prescan(code: string, limits: ScanLimits, level: SecurityLevel): Issue[] {
  if (typeof code !== 'string') {
    return [
      { ruleId: 'prescan/invalid-input', message: 'The code must be a string.', hint: 'Send the script as a string.', line: 1, column: 1 },
    ];
  }
  const scan = new Scan(code, limits, level);
  try {
    scan.run();
  } catch {
    // A bug of ours must not become a crash, nor a pass: fail closed.
    scan.internalFailure();
  }
  try {
    return scan.finish();
  } catch {
    return [
      { ruleId: 'prescan/internal', message: 'The pre-scan could not process this code.', hint: 'Simplify the code and submit it again.', line: 1, column: 1 },
    ];
  }
}
