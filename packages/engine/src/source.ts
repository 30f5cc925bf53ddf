import type { CodeAt } from './positions.js';
import { lastAtOrBefore, lineStarts } from './positions.js';

/** The host's reader of a code unit, for positions.ts (the realm passes its own primordial). */
export const codeAt: CodeAt = (text, index) => text.charCodeAt(index);

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
    return (this.#lineStarts ??= lineStarts(this.text, codeAt));
  }
  get lineCount(): number {
    return this.#starts.length;
  }
  /** 1-based line and column of a 0-based offset. */
  locate(offset: number): SourceLocation {
    const s = this.#starts;
    const lo = lastAtOrBefore(s, offset);
    return { line: lo + 1, column: offset - (s[lo] as number) + 1 };
  }
  /** The 0-based offset of a 1-based line and column, at most the text's length. */
  offsetOf(line: number, column: number): number {
    const start = this.#starts[line - 1];
    if (start === undefined) return this.text.length;
    return Math.min(start + Math.max(column - 1, 0), this.text.length);
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
 *
 * `admitOnSecondSight` keeps an entry only when its key is offered a second time. LLM traffic is new
 * text nearly every time: a cache that keeps every text keeps hundreds of entries that are never read
 * again, each of which lives long enough for V8 to move it to the old generation, where only a full
 * collection frees it. The compiled scripts of never-seen agent runs cost 3.7% more instructions a run
 * kept than dropped (callgrind, Node 20); a text that comes back is kept the second time it is checked
 * or compiled and read from then on.
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, { value: V; size: number }>();
  #size = 0;
  /** With `admitOnSecondSight`: fingerprints of keys offered once and not kept, oldest first. */
  readonly #sighted: Set<string> | undefined;
  constructor(
    readonly max: number,
    readonly maxSize = Infinity,
    readonly sizeOf: (key: K, value: V) => number = () => 0,
    options: { admitOnSecondSight?: boolean } = {},
  ) {
    this.#sighted = options.admitOnSecondSight ? new Set() : undefined;
  }
  get(key: K): V | undefined {
    const e = this.#map.get(key);
    if (e !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, e);
    }
    return e?.value;
  }
  /** Keeps `value` under `key`; false when it was not kept (a first sight, or too large alone). */
  set(key: K, value: V): boolean {
    if (this.#sighted !== undefined && !this.#map.has(key) && this.#firstSight(key)) return false;
    this.#delete(key);
    const size = this.sizeOf(key, value);
    // Too large alone: not kept, and nothing else is pushed out for it.
    if (size > this.maxSize) return false;
    this.#map.set(key, { value, size });
    this.#size += size;
    while (this.#map.size > this.max || this.#size > this.maxSize) this.#delete(this.#map.keys().next().value as K);
    return this.#map.has(key);
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
  /**
   * Whether `key` is offered for the first time (among the last 4 × `max` offered and not kept): then it
   * is remembered by its fingerprint only, and not kept.
   */
  #firstSight(key: K): boolean {
    const sighted = this.#sighted as Set<string>;
    const print = fingerprint(key);
    if (sighted.delete(print)) return false;
    sighted.add(print);
    if (sighted.size > 4 * this.max) sighted.delete(sighted.values().next().value as string);
    return true;
  }
}

/**
 * A short stand-in for a cache key, for `admitOnSecondSight`: its length and a 32-bit hash of its
 * characters (FNV-1a), about 2 µs for an agent script's key. Two keys may share one: the second is then
 * kept at first sight, as every key was before admission existed. A key that is not a string is its own
 * text.
 */
function fingerprint(key: unknown): string {
  if (typeof key !== 'string') return String(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return `${key.length}:${h >>> 0}`;
}

/** The size of a cache entry keyed by a script's text: its length, which the rest of the entry grows with. */
export const textSize = (key: string): number => key.length;

/** Milliseconds since a `performance.now()` reading, to the microsecond: how results report durations. */
export function elapsedMs(since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000;
}
