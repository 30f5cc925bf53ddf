/**
 * One dispatched Server-Sent Event.
 *
 * @example
 * ```ts
 * for (const { type, data, lastEventId } of parser.feed(text)) console.log(lastEventId, type, JSON.parse(data));
 * ```
 */
export interface SseMessage {
  /** The `event:` field, `message` when the event had none. */
  type: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream so far (it carries over to later events, as in `EventSource`). */
  lastEventId: string;
}

/**
 * The longest event the parsers take by default, in characters (a string's `length`; each is at least
 * one byte on the wire): a stream that goes on past it without ending the event is refused rather than
 * held in memory whole. The largest result and log output a server sends fit many times over.
 */
export const DEFAULT_MAX_EVENT_LENGTH = 64 * 1024 * 1024;

/**
 * Options of the parsers.
 *
 * @example
 * ```ts
 * new SseParser({ maxEventLength: 8 * 1024 * 1024 });
 * ```
 */
export interface ParserOptions {
  /** The longest event (an SSE event's fields, an NDJSON line) in characters; past it `feed` throws a `RangeError`. Default 64 Mi. */
  maxEventLength?: number;
}

/** The limit the parsers use, checked once. */
export function maxEventLengthOf(options: ParserOptions | undefined): number {
  const max = options?.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH;
  if (typeof max !== 'number' || !(max >= 1)) throw new RangeError('maxEventLength must be a number of characters, at least 1.');
  return max;
}

/** The error `feed` throws for an event longer than the limit. */
export function tooLong(what: string, max: number): RangeError {
  return new RangeError(`${what} is longer than ${max} characters (maxEventLength).`);
}

const LF = 10;
const CR = 13;
const COLON = 58;

/**
 * An incremental parser of the `text/event-stream` format as the HTML standard defines it: lines end
 * with CRLF, LF or CR (also when a CRLF pair is split between two chunks), a leading BOM is skipped,
 * `:` lines are comments, several `data:` lines make one multi-line value, `id:` persists until changed
 * (and is ignored when it contains NUL), `retry:` takes ASCII digits only, unknown fields are ignored,
 * and an event the stream ends in the middle of is never dispatched. An event whose lines (data, type,
 * the line not yet ended) grow past `maxEventLength` characters makes `feed` throw a `RangeError`
 * instead of holding more: a server that never ends an event cannot fill the client's memory.
 *
 * Feed it decoded text in chunks of any size; each call returns the events it completed.
 *
 * @example
 * ```ts
 * const parser = new SseParser();
 * const decoder = new TextDecoder();
 * for await (const bytes of response.body) {
 *   for (const message of parser.feed(decoder.decode(bytes, { stream: true }))) console.log(message.type, message.data);
 * }
 * parser.end();
 * console.log('server asks to reconnect after', parser.retry, 'ms');
 * ```
 */
export class SseParser {
  /** The reconnection time (ms) of the last valid `retry:` field; undefined until one came. */
  retry: number | undefined;
  /** The part of a line whose end has not arrived yet. */
  #partial = '';
  /** The previous chunk ended with CR: a LF at the start of the next one ends no second line. */
  #afterCR = false;
  #started = false;
  #data: string[] = [];
  #type = '';
  #lastEventId = '';
  /** Characters of the event being read, in its complete lines. */
  #length = 0;
  readonly #max: number;

  constructor(options?: ParserOptions) {
    this.#max = maxEventLengthOf(options);
  }

  /** Parses the next chunk of text; returns the events it completed, in order. Throws a `RangeError` for an event over `maxEventLength`. */
  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#afterCR && text.length > 0) {
      this.#afterCR = false;
      if (text.charCodeAt(0) === LF) text = text.slice(1);
    }
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== LF && c !== CR) continue;
      const line = this.#partial === '' ? text.slice(start, i) : this.#partial + text.slice(start, i);
      this.#partial = '';
      this.#line(line, out);
      if (c === CR) {
        if (i + 1 === text.length) this.#afterCR = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
    }
    if (start < text.length) {
      this.#partial += text.slice(start);
      if (this.#length + this.#partial.length > this.#max) throw tooLong('An event', this.#max);
    }
    return out;
  }

  /**
   * The stream ended: an event it ended in the middle of is discarded, and the parser is ready for a new
   * stream (the last event id and `retry` carry over). Returns whether anything was discarded.
   */
  end(): boolean {
    const discarded = this.#partial !== '' || this.#data.length > 0 || this.#type !== '';
    this.#partial = '';
    this.#afterCR = false;
    this.#started = false;
    this.#data = [];
    this.#type = '';
    this.#length = 0;
    return discarded;
  }

  #line(line: string, out: SseMessage[]): void {
    if (line === '') {
      this.#dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === COLON) return;
    // Every field line counts, kept or not: an event that never ends never grows past the limit.
    this.#length += line.length;
    if (this.#length > this.#max) throw tooLong('An event', this.#max);
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#type = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.#lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        // Unknown fields are ignored.
        break;
    }
  }

  #dispatch(out: SseMessage[]): void {
    const type = this.#type;
    this.#type = '';
    this.#length = 0;
    if (this.#data.length === 0) return;
    const data = this.#data.join('\n');
    this.#data = [];
    out.push({ type: type === '' ? 'message' : type, data, lastEventId: this.#lastEventId });
  }
}
