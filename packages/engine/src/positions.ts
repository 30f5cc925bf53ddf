/**
 * Positions of the rewritten script in the user's own source, for V8's (line, column) pairs: the host
 * maps an error's location with this, and the realm runtime (which bundles this file) every frame of a
 * stack trace the script reads, so that both say the same.
 *
 * The rewriter's edits are kept as anchors, three numbers each, in the order of the rewritten text: where
 * a piece of the original text starts in the rewritten one, where it starts in the original (the wrapped
 * text, see ast/parse.ts), and its length, 0 for a piece the rewriter replaced. Text the rewriter inserted
 * between two pieces belongs to the original offset it was inserted at: the start of what follows it (a
 * guard around an expression, `sp(x)`, points at `x`).
 *
 * Plain loops over numbers and one injected character reader: the realm runtime calls this with its
 * primordial `charCodeAt`, and builds nothing until a stack is formatted.
 */

/** Reads the UTF-16 code unit at `index` of `text`. */
export type CodeAt = (text: string, index: number) => number;

/** The index of the last of the ascending `starts` at or before `offset` (0 when none is). */
export function lastAtOrBefore(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Where each line of `text` starts, lines ended as V8 ends them: `\n`, `\r\n`, `\r`, U+2028, U+2029. */
export function lineStarts(text: string, codeAt: CodeAt): number[] {
  const starts: number[] = [0];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = codeAt(text, i);
    if (c === 10 || c === 0x2028 || c === 0x2029) starts[starts.length] = i + 1;
    else if (c === 13) {
      if (i + 1 < n && codeAt(text, i + 1) === 10) i++;
      starts[starts.length] = i + 1;
    }
  }
  return starts;
}

/** Non-negative decimal integers separated by commas (the anchors as they travel); [] for anything else. */
export function decodeNumbers(text: string, codeAt: CodeAt): number[] {
  const out: number[] = [];
  let value = -1;
  for (let i = 0; i < text.length; i++) {
    const c = codeAt(text, i);
    if (c >= 0x30 && c <= 0x39) value = (value < 0 ? 0 : value * 10) + (c - 0x30);
    else if (c === 0x2c && value >= 0) {
      out[out.length] = value;
      value = -1;
    } else return [];
  }
  if (value >= 0) out[out.length] = value;
  return out;
}

/** The original offset of rewritten offset `at` (see the anchors above). */
export function originalOffset(anchors: readonly number[], at: number): number {
  const count = anchors.length / 3;
  if (count === 0) return at;
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((anchors[mid * 3] as number) <= at) lo = mid;
    else hi = mid - 1;
  }
  const gen = anchors[lo * 3] as number;
  const orig = anchors[lo * 3 + 1] as number;
  const len = anchors[lo * 3 + 2] as number;
  if (at <= gen) return orig;
  return orig + (at - gen < len ? at - gen : len);
}

/** What mapping a position needs, each part made once. */
export interface PositionMap {
  anchors: readonly number[];
  /** Line starts of the rewritten text. */
  generated: readonly number[];
  /** Line starts of the user's text. */
  user: readonly number[];
  userLength: number;
  /** Offset of the user's text in the original (wrapped) text. */
  prefix: number;
}

/** `anchors` as decodeNumbers reads them (none if they are not whole triples), over the two texts. */
export function positionMap(anchors: readonly number[], generated: string, user: string, prefix: number, codeAt: CodeAt): PositionMap {
  return { anchors: anchors.length % 3 === 0 ? anchors : [], generated: lineStarts(generated, codeAt), user: lineStarts(user, codeAt), userLength: user.length, prefix };
}

/**
 * V8's (line, column) in the rewritten script, compiled with `lineOffset: -1` (its header is line 0),
 * as the user's own 1-based line and column. The header and anything before the user's text is line 1,
 * column 1.
 */
export function userPosition(map: PositionMap, line: number, column: number): [line: number, column: number] {
  const lines = map.generated;
  const start = line >= 0 && line < lines.length ? (lines[line] as number) : (lines[lines.length - 1] as number);
  let offset = originalOffset(map.anchors, start + (column > 1 ? column - 1 : 0)) - map.prefix;
  if (offset < 0) return [1, 1];
  if (offset > map.userLength) offset = map.userLength;
  const at = lastAtOrBefore(map.user, offset);
  return [at + 1, offset - (map.user[at] as number) + 1];
}
