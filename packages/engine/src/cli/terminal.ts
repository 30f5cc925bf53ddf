/**
 * Terminal output helpers: colors that switch off cleanly, and escaping of text that came from a script
 * or its source. Everything the CLI prints about a script (its source lines, its log messages, messages
 * that quote its identifiers) goes through `escapeText`, because printing that text raw would hand the
 * script the terminal: ANSI escape sequences can rewrite the screen, and BiDi controls can make the
 * code frame show something other than what was checked (the "Trojan Source" trick the pre-scan exists
 * to catch).
 */

import { UNSAFE_ALL, isUnsafeChar } from '../safe-text.js';

export { escapeJSONText, isUnsafeChar } from '../safe-text.js';

/** Minimal styling functions; the identity when colors are off. */
export interface Style {
  readonly enabled: boolean;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
  bold(text: string): string;
  dim(text: string): string;
}

function sgr(open: number, close: number): (text: string) => string {
  return (text) => (text === '' ? text : `\u001b[${open}m${text}\u001b[${close}m`);
}

const identity = (text: string): string => text;

/** Styling functions that emit ANSI SGR codes when `enabled`, and return their input otherwise. */
export function createStyle(enabled: boolean): Style {
  if (!enabled) return { enabled, red: identity, yellow: identity, green: identity, cyan: identity, bold: identity, dim: identity };
  return {
    enabled,
    red: sgr(31, 39),
    yellow: sgr(33, 39),
    green: sgr(32, 39),
    cyan: sgr(36, 39),
    bold: sgr(1, 22),
    dim: sgr(2, 22),
  };
}

/** The bits of a writable stream that decide whether colors make sense on it. */
export interface ColorTarget {
  isTTY?: boolean;
  hasColors?: () => boolean;
}

/**
 * Colors follow the usual conventions: `NO_COLOR` (any non-empty value) turns them off, `FORCE_COLOR`
 * turns them on (unless it is `0`/`false`), otherwise only an interactive terminal gets them.
 */
export function shouldColor(stream: ColorTarget, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (stream.isTTY !== true) return false;
  return typeof stream.hasColors === 'function' ? stream.hasColors() : true;
}

/** `<U+202E>`: a visible stand-in for an unsafe character. */
export function codePointLabel(cp: number): string {
  return `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/**
 * Replaces every unsafe character with its `<U+XXXX>` label. Tabs always survive; newlines survive
 * only with `keepNewlines` (log messages keep their lines, one-line fields do not).
 */
export function escapeText(text: string, options: { keepNewlines?: boolean } = {}): string {
  // A CRLF inside a log message is one line break, not a break plus a stray control character.
  const source = options.keepNewlines === true ? text.replace(/\r\n?/g, '\n') : text;
  return source.replace(UNSAFE_ALL, (ch) => {
    // Ordinary combining marks (accents) match the pattern only so that the invisible ones can be
    // picked out here; they print as they are.
    if (ch === '\t' || !isUnsafeChar(ch)) return ch;
    if (ch === '\n' && options.keepNewlines === true) return ch;
    return codePointLabel(ch.codePointAt(0) as number);
  });
}
