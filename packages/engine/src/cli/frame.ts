/**
 * Compiler-style code frames: a source line (and the one before it) with a caret under the reported
 * column. Lines are rendered cell by cell so that the caret lands under the right character even when
 * the line holds tabs, wide (CJK, emoji) characters, combining marks, or characters that have to be
 * shown as `<U+XXXX>` because printing them raw would be unsafe. Long lines (minified code) are cut to
 * a window around the caret.
 */
import { LineIndex } from '../source.js';
import type { Issue } from '../source.js';
import type { Style } from './terminal.js';
import { codePointLabel, createStyle, escapeText, isUnsafeChar } from './terminal.js';

/** Where a frame points: 1-based line and column (UTF-16 units), optionally the end of the span. */
export interface FrameLocation {
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
}

export interface FrameOptions {
  /** Colors (default none). */
  style?: Style;
  /** Display columns of source shown per line (default 100); longer lines are cut around the caret. */
  maxWidth?: number;
  /** Also show the line before the reported one when it is not blank (default true). */
  context?: boolean;
}

const TAB_STOP = 4;

/** One displayed character: what it covers in the source line and how it prints. */
interface Cell {
  /** UTF-16 index in the line. */
  unit: number;
  /** UTF-16 length (2 for astral characters). */
  length: number;
  /** Printed text. */
  text: string;
  /** Display columns the printed text takes. */
  width: number;
  /** Display column where the cell starts. */
  at: number;
  /** Shown as a `<U+XXXX>` label. */
  escaped: boolean;
}

const COMBINING = /[\p{Mn}\p{Me}]/u;

/**
 * Display width of a printable code point: 0 for combining marks, 2 for the East Asian wide and
 * fullwidth ranges and the emoji blocks, 1 otherwise. An approximation of wcwidth that covers what
 * shows up in scripts (CJK text in strings, emoji in log lines).
 */
export function charWidth(cp: number, char: string): number {
  if (cp >= 0x300 && COMBINING.test(char)) return 0;
  if (cp < 0x1100) return 1;
  if (
    cp <= 0x115f ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

function toCells(line: string): Cell[] {
  const cells: Cell[] = [];
  let at = 0;
  let unit = 0;
  for (const char of line) {
    const cp = char.codePointAt(0) as number;
    let text: string;
    let width: number;
    let escaped = false;
    if (char === '\t') {
      // Expanded here, so the caret line and the source line agree whatever the terminal's tab stops.
      width = TAB_STOP - (at % TAB_STOP);
      text = ' '.repeat(width);
    } else if (isUnsafeChar(char)) {
      text = codePointLabel(cp);
      width = text.length;
      escaped = true;
    } else {
      text = char;
      width = charWidth(cp, char);
    }
    cells.push({ unit, length: char.length, text, width, at, escaped });
    at += width;
    unit += char.length;
  }
  return cells;
}

/** Index of the cell covering UTF-16 index `unit`, or `cells.length` when past the end. */
function cellAt(cells: readonly Cell[], unit: number): number {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i] as Cell;
    if (unit < c.unit + c.length) return i;
  }
  return cells.length;
}

function totalWidth(cells: readonly Cell[]): number {
  const last = cells[cells.length - 1];
  return last ? last.at + last.width : 0;
}

/** The cells of `cells` that fit in display columns [from, to). */
function clip(cells: readonly Cell[], from: number, to: number): Cell[] {
  return cells.filter((c) => c.at >= from && c.at + c.width <= to);
}

function render(cells: readonly Cell[], style: Style): string {
  let out = '';
  for (const c of cells) out += c.escaped ? style.yellow(c.text) : c.text;
  return out;
}

/**
 * Renders the frame for `loc` in `source`: the previous line for context (unless blank), the reported
 * line marked with `>`, and a caret line underlining the reported span (or one character). Returns ''
 * when the line does not exist (e.g. a file-level problem located past the end).
 */
export function codeFrame(source: string | LineIndex, loc: FrameLocation, options: FrameOptions = {}): string {
  const index = typeof source === 'string' ? new LineIndex(source) : source;
  const style = options.style ?? createStyle(false);
  const maxWidth = Math.max(20, options.maxWidth ?? 100);
  if (!Number.isInteger(loc.line) || loc.line < 1 || loc.line > index.lineCount) return '';

  const cells = toCells(index.lineText(loc.line));
  const total = totalWidth(cells);
  const startUnit = Math.max(0, (Number.isInteger(loc.column) ? loc.column : 1) - 1);
  const startCell = cellAt(cells, startUnit);
  const caretAt = startCell < cells.length ? (cells[startCell] as Cell).at : total;
  let caretEnd = caretAt + 1;
  if (loc.endLine === loc.line && loc.endColumn !== undefined && loc.endColumn - 1 > startUnit) {
    const lastCell = cellAt(cells, loc.endColumn - 2);
    if (lastCell < cells.length) {
      const c = cells[lastCell] as Cell;
      caretEnd = Math.max(caretEnd, c.at + c.width);
    } else {
      caretEnd = Math.max(caretEnd, total);
    }
  }

  // Window: the whole line when it fits; otherwise a slice that keeps the caret a third of the way in.
  // The context line shares the window, so it is cut at the same columns (or at maxWidth).
  const needed = Math.max(total, caretAt + 1);
  const from = needed > maxWidth ? Math.max(0, Math.min(caretAt - Math.floor(maxWidth / 3), needed - maxWidth)) : 0;
  const to = from + maxWidth;
  caretEnd = Math.min(caretEnd, to);

  const prevLine = loc.line - 1;
  const prevText = options.context === false || prevLine < 1 ? '' : index.lineText(prevLine);
  const showPrev = prevText.trim() !== '';
  const gutterWidth = String(loc.line).length;
  const gutter = (n: number | '', marker: string) =>
    `${marker === '>' ? style.red(style.bold('>')) : ' '} ${style.dim(`${String(n).padStart(gutterWidth)} |`)}`;

  const windowed = (lineCells: Cell[]): { text: string; lead: number } => {
    const shown = clip(lineCells, from, to);
    const first = shown[0];
    const last = shown[shown.length - 1];
    const cutLeft = from > 0 && lineCells.length > 0;
    const cutRight = last !== undefined && lineCells.length > 0 && last !== lineCells[lineCells.length - 1];
    const lead = cutLeft ? 1 : 0;
    const body = render(shown, style);
    return {
      text: `${cutLeft ? style.dim('…') : ''}${body}${cutRight ? style.dim('…') : ''}`,
      // Display columns between the start of the printed text and the first shown cell.
      lead: lead - (first ? first.at : from),
    };
  };

  const out: string[] = [];
  if (showPrev) out.push(`${gutter(prevLine, ' ')} ${windowed(toCells(prevText)).text}`.trimEnd());
  const main = windowed(cells);
  out.push(`${gutter(loc.line, '>')} ${main.text}`.trimEnd());
  const pad = Math.max(0, caretAt + main.lead);
  out.push(`${gutter('', ' ')} ${' '.repeat(pad)}${style.red(style.bold('^'.repeat(Math.max(1, caretEnd - caretAt))))}`);
  return out.join('\n');
}

export interface IssueFormatOptions extends FrameOptions {
  /** Word before the rule id (default `error`). */
  severity?: string;
}

/**
 * One problem as a compiler prints it:
 *
 *     agent.js:3:5 - error [no-eval] Calling eval is not allowed.
 *        2 | const x = 1;
 *     >  3 | eval('x');
 *          |     ^^^^
 *       hint: Compute the value directly.
 */
export function formatIssue(file: string, issue: Issue, source: string | LineIndex, options: IssueFormatOptions = {}): string {
  const style = options.style ?? createStyle(false);
  const where = `${escapeText(file)}:${issue.line}:${issue.column}`;
  const lines = [`${style.bold(where)} - ${style.red(options.severity ?? 'error')} ${style.dim(`[${issue.ruleId}]`)} ${escapeText(issue.message)}`];
  const frame = codeFrame(source, issue, options);
  if (frame !== '') lines.push(frame);
  if (issue.hint !== undefined && issue.hint !== '') lines.push(`  ${style.cyan('hint:')} ${escapeText(issue.hint)}`);
  return lines.join('\n');
}
