import type { SecurityLevel } from '../levels.js';
import { KB, MB } from '../levels.js';
import type { OptionChecker } from '../options.js';
import type { SidecarOptions, SidecarReference } from '../types.js';

/** Per-level sidecar limits (the seed's table), used when `sidecar: true` or for any limit left out. */
export const SIDECAR_DEFAULTS: Readonly<Record<SecurityLevel, Readonly<SidecarOptions>>> = {
  STRICT: { extractionThreshold: 64 * KB, maxReferenceSize: 4 * MB, maxTotalSize: 16 * MB, maxResolvedSize: 8 * MB },
  SECURE: { extractionThreshold: 256 * KB, maxReferenceSize: 16 * MB, maxTotalSize: 64 * MB, maxResolvedSize: 32 * MB },
  STANDARD: { extractionThreshold: 1 * MB, maxReferenceSize: 64 * MB, maxTotalSize: 256 * MB, maxResolvedSize: 128 * MB },
  PERMISSIVE: { extractionThreshold: 4 * MB, maxReferenceSize: 256 * MB, maxTotalSize: 512 * MB, maxResolvedSize: 512 * MB },
};

const SIDECAR_KEYS = ['extractionThreshold', 'maxReferenceSize', 'maxTotalSize', 'maxResolvedSize'] as const;
const PREVIEW = 200;

/** Reads the `sidecar` option: `true` (the level's defaults) or some limits over them; false/undefined is off. */
export function readSidecarOptions(check: OptionChecker, value: unknown, level: SecurityLevel): SidecarOptions | undefined {
  if (value === undefined || value === false) return undefined;
  const defaults = SIDECAR_DEFAULTS[level];
  if (value === true) return { ...defaults };
  const given = check.object('sidecar', value, 'true, false or an object of limits') ?? {};
  if (given.allowComposites !== undefined) {
    check.fail('sidecar.allowComposites is not supported: references are whole values; pass several references to a tool (e.g. in an array) and let it join them.');
  }
  check.knownKeys('sidecar', given, [...SIDECAR_KEYS, 'enabled']);
  if (check.boolean('sidecar.enabled', given.enabled) === false) return undefined;
  const out = { ...defaults };
  for (const key of SIDECAR_KEYS) out[key] = check.positiveInteger(`sidecar.${key}`, given[key]) ?? out[key];
  if (out.maxReferenceSize < out.extractionThreshold) check.fail('sidecar.maxReferenceSize must be at least sidecar.extractionThreshold.');
  return out;
}

/** One run's kept strings. Made per run, dropped with it. */
export class Sidecar {
  readonly options: Readonly<SidecarOptions>;
  readonly #texts = new Map<string, string>();
  readonly #salt = Math.random().toString(36).slice(2, 8);
  #total = 0;
  #next = 0;
  /** Ids kept by the result being encoded, undone if the call fails. */
  #pending: string[] = [];
  #problem: string | undefined;

  constructor(options: SidecarOptions) {
    this.options = Object.freeze({ ...options });
  }

  /** Number of strings kept. */
  get size(): number {
    return this.#texts.size;
  }

  /** Characters kept. */
  get totalSize(): number {
    return this.#total;
  }

  /** Codec hook while a tool result is copied: keeps the string, returns its reference. */
  readonly extract = (text: string): SidecarReference | undefined => {
    if (this.#problem !== undefined) return undefined;
    if (text.length > this.options.maxReferenceSize) {
      this.#problem = `a string of ${text.length} characters, more than the ${this.options.maxReferenceSize} one reference may hold`;
      return undefined;
    }
    if (this.#total + text.length > this.options.maxTotalSize) {
      this.#problem = `more than the ${this.options.maxTotalSize} characters this run may keep on the host`;
      return undefined;
    }
    const id = `ref_${++this.#next}_${this.#salt}`;
    this.#texts.set(id, text);
    this.#total += text.length;
    this.#pending.push(id);
    const preview = text.slice(0, Math.min(PREVIEW, this.options.extractionThreshold - 1));
    return { $ref: id, length: text.length, preview };
  };

  /** Ends the extraction of one result: keeps its strings, or drops them and says why it failed. */
  settle(keep: boolean): string | undefined {
    const problem = this.#problem;
    if (!keep || problem !== undefined) {
      for (const id of this.#pending) {
        this.#total -= (this.#texts.get(id) as string).length;
        this.#texts.delete(id);
      }
    }
    this.#pending = [];
    this.#problem = undefined;
    return problem;
  }

  /**
   * Replaces every reference of this run inside `root` (host values the codec just made, owned by the
   * caller) by its string, in place, and how many it replaced. Returns false when the strings together
   * exceed `maxResolvedSize`.
   */
  resolveIn(root: unknown): { ok: true; value: unknown; references: number } | { ok: false } {
    if (this.#texts.size === 0) return { ok: true, value: root, references: 0 };
    let used = 0;
    let references = 0;
    const seen = new Set<object>();
    const visit = (v: unknown): unknown => {
      if (v === null || typeof v !== 'object') return v;
      // A reference used twice (the codec shares it) expands, and counts, twice.
      const text = this.#textOf(v);
      if (text !== undefined) {
        used += text.length;
        references++;
        if (used > this.options.maxResolvedSize) throw OVER;
        return text;
      }
      if (seen.has(v)) return v;
      seen.add(v);
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) v[i] = visit(v[i]);
      } else if (v instanceof Map) {
        for (const [k, x] of v) v.set(k, visit(x));
      } else if (v instanceof Set) {
        const items = [...v].map(visit);
        v.clear();
        for (const x of items) v.add(x);
      } else if (!(v instanceof Date)) {
        for (const k of Object.keys(v)) {
          const x = (v as Record<string, unknown>)[k];
          const r = visit(x);
          // Defined, not assigned: a decoded "__proto__" key is an own property and must stay one.
          if (r !== x) Object.defineProperty(v, k, { value: r, writable: true, enumerable: true, configurable: true });
        }
      }
      return v;
    };
    try {
      const value = visit(root);
      return { ok: true, value, references };
    } catch (e) {
      if (e === OVER) return { ok: false };
      throw e;
    }
  }

  #textOf(v: object): string | undefined {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return undefined;
    const d = Object.getOwnPropertyDescriptor(v, '$ref');
    return d !== undefined && typeof d.value === 'string' ? this.#texts.get(d.value) : undefined;
  }
}

const OVER = Symbol('over');
