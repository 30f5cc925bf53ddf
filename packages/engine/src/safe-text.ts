/**
 * Text a script chose, on its way to a terminal or an operator's logs: characters that are invisible,
 * reorder what is shown (BiDi embeddings, overrides and isolates, the direction marks) or control a
 * terminal (C0 and C1 controls), which `JSON.stringify` leaves raw. The CLI (cli/terminal.ts) and
 * `jsonLinesAudit` escape the same set.
 */

/**
 * Characters that are invisible, reorder text, or control the terminal: C0/C1 controls and DEL (Cc),
 * format characters such as BiDi overrides and zero-width joiners (Cf), line/paragraph separators and
 * lone surrogates; plus the invisible fillers and variation selectors the pre-scan also reports, which
 * are letters or marks to Unicode and so need listing by code point.
 */
const UNSAFE_CATEGORY = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
export const UNSAFE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]|\p{Mn}/gu;

function isInvisibleMark(cp: number): boolean {
  return cp === 0x034f || cp === 0x17b4 || cp === 0x17b5 || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0100 && cp <= 0xe01ef);
}

function isInvisibleFiller(cp: number): boolean {
  return cp === 0x115f || cp === 0x1160 || cp === 0x3164 || cp === 0xffa0;
}

/** True when the character must not reach a terminal or a log line as is. */
export function isUnsafeChar(char: string): boolean {
  const cp = char.codePointAt(0) as number;
  return UNSAFE_CATEGORY.test(char) || isInvisibleFiller(cp) || isInvisibleMark(cp);
}

/**
 * Makes JSON text safe to print without changing what it means: unsafe characters can only sit inside
 * string literals (structural whitespace is spaces and newlines), where `\uXXXX` is the same character.
 * Unlike the CLI's `escapeText` the output still parses to the same data, so it is also right for files and pipes.
 */
export function escapeJSONText(json: string): string {
  return json.replace(UNSAFE_ALL, (ch) => {
    if (ch === '\n' || !isUnsafeChar(ch)) return ch;
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
