import type { ParserOptions } from './sse.js';
import { maxEventLengthOf, tooLong } from './sse.js';

/**
 * An incremental parser of newline-delimited JSON (`application/x-ndjson`): one JSON value a line, lines
 * ending with LF or CRLF, blank lines skipped, a leading BOM skipped. A line is only parsed once its line
 * break has arrived, so a value cut off by a dropped connection is never taken for a whole one: `end()`
 * hands back what was left unterminated. A line that grows past `maxEventLength` characters before its
 * line break makes `feed` throw a `RangeError` instead of holding more.
 *
 * @example
 * ```ts
 * const parser = new NdjsonParser();
 * const decoder = new TextDecoder();
 * for await (const bytes of response.body) {
 *   for (const value of parser.feed(decoder.decode(bytes, { stream: true }))) console.log(value);
 * }
 * if (parser.end() !== '') console.warn('the stream ended in the middle of a line');
 * ```
 */
export class NdjsonParser {
  /** The length (characters) of each line whose value the last `feed` returned, in the same order: what each value took on the wire. */
  lineLengths: number[] = [];
  #partial = '';
  #started = false;
  /** Lines parsed so far, for error messages. */
  #line = 0;
  readonly #max: number;

  constructor(options?: ParserOptions) {
    this.#max = maxEventLengthOf(options);
  }

  /** Parses the next chunk of text; returns the values of the lines it completed. Throws a `SyntaxError` for a line that is not JSON, a `RangeError` for one over `maxEventLength`. */
  feed(chunk: string): unknown[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: unknown[] = [];
    const lengths: number[] = [];
    this.lineLengths = lengths;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      let line = this.#partial === '' ? text.slice(start, nl) : this.#partial + text.slice(start, nl);
      this.#partial = '';
      start = nl + 1;
      this.#line++;
      if (line.length > this.#max) throw tooLong(`NDJSON line ${this.#line}`, this.#max);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line));
        lengths.push(line.length);
      } catch (err) {
        throw new SyntaxError(`NDJSON line ${this.#line} is not JSON: ${(err as Error).message}`);
      }
    }
    if (start < text.length) {
      this.#partial += text.slice(start);
      if (this.#partial.length > this.#max) throw tooLong(`NDJSON line ${this.#line + 1}`, this.#max);
    }
    return out;
  }

  /** The stream ended: returns the unterminated rest ('' if none) and resets the parser for a new stream. */
  end(): string {
    const rest = this.#partial;
    this.#partial = '';
    this.#started = false;
    this.#line = 0;
    return rest;
  }
}
