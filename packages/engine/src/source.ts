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
 * Maps UTF-16 offsets of one source text to line/column pairs. Built once per source; lookups are
 * a binary search over line starts.
 */
export class LineIndex {
  readonly #starts: number[];
  constructor(readonly text: string) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      } else if (c === 0x2028 || c === 0x2029) starts.push(i + 1);
    }
    this.#starts = starts;
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

/** A small LRU map: the parse, validation and rewrite caches are bounded. */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly max: number) {}
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K);
  }
  get size(): number {
    return this.#map.size;
  }
}

/** Milliseconds since a `performance.now()` reading, to the microsecond: how results report durations. */
export function elapsedMs(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
