/** A position in the user's own source: 1-based line, 1-based column (UTF-16 code units). */
export interface SourceLocation {
  line: number;
  column: number;
}

/** One problem found by the pre-scan or the AST validation. */
export interface Issue {
  /** Stable rule id, e.g. `no-eval`, `prescan/bidi`. */
  ruleId: string;
  message: string;
  /** A short instruction an LLM can act on to fix its code. */
  hint?: string;
  line: number;
  column: number;
  endLine?: number;
  endColumn?: number;
  /** Names the writer most likely meant (an unknown global's or tool's closest names), closest first. */
  suggestions?: string[];
}

/**
 * Maps UTF-16 offsets of one source text to line/column pairs. The line starts are found once per
 * source, on the first lookup; lookups are a binary search over them.
 */
export class LineIndex {
  /** Made on the first lookup: a script that passes every check is never asked for a location. */
  #lineStarts: number[] | undefined;
  constructor(readonly text: string) {}
  get #starts(): number[] {
    if (this.#lineStarts !== undefined) return this.#lineStarts;
    const text = this.text;
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      } else if (c === 0x2028 || c === 0x2029) starts.push(i + 1);
    }
    this.#lineStarts = starts;
    return starts;
  }
  get lineCount(): number {
    return this.#starts.length;
  }
  /** 1-based line and column of a 0-based offset. */
  locate(offset: number): SourceLocation {
    const s = this.#starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((s[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (s[lo] as number) + 1 };
  }
  /** The text of a 1-based line, without its terminator. */
  lineText(line: number): string {
    const start = this.#starts[line - 1];
    if (start === undefined) return '';
    const next = this.#starts[line];
    let end = next === undefined ? this.text.length : next;
    while (end > start && /[\r\n\u2028\u2029]/.test(this.text[end - 1] as string)) end--;
    return this.text.slice(start, end);
  }
}

/**
 * Cache key of every per-source stage: the parts themselves, joined. Maps hash strings internally, so
 * this costs no more than a digest, cannot collide, and spares loading node:crypto (about 9 ms of a
 * cold start).
 */
export function cacheKey(...parts: string[]): string {
  return parts.join('\u0000');
}

/**
 * A small LRU map: the parse, validation and rewrite caches are bounded in entries and, given `maxSize`,
 * in the total `sizeOf` their entries: a cache of 500 scripts is a few megabytes for agent scripts of a
 * few kilobytes, and gigabytes for 500 distinct scripts near the largest a level accepts (the rewriter's
 * edits of one 250 KB script kept 13 MB), which any caller can send. An entry larger than `maxSize`
 * alone is not kept.
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, { value: V; size: number }>();
  #size = 0;
  constructor(
    readonly max: number,
    readonly maxSize = Infinity,
    readonly sizeOf: (key: K, value: V) => number = () => 0,
  ) {}
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, e);
    }
    return e?.value;
  }
  set(key: K, value: V): void {
    this.#delete(key);
    const size = this.sizeOf(key, value);
    this.#map.set(key, { value, size });
    this.#size += size;
    while (this.#map.size > this.max || this.#size > this.maxSize) this.#delete(this.#map.keys().next().value as K);
  }
  get size(): number {
    return this.#map.size;
  }
  #delete(key: K): void {
    const e = this.#map.get(key);
    if (e === undefined) return;
    this.#map.delete(key);
    this.#size -= e.size;
  }
}

/** The size of a cache entry keyed by a script's text: its length, which the rest of the entry grows with. */
export const textSize = (key: string): number => key.length;

/** Milliseconds since a `performance.now()` reading, to the microsecond: how results report durations. */
export function elapsedMs(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
