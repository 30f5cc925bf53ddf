import { EnclaveConfigError } from './errors.js';
import { closeNames } from './suggest.js';

/** The longest delay Node's timers keep (2^31 - 1 ms); a longer one fires after 1 ms. */
export const MAX_DELAY_MS = 2_147_483_647;

function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * The one checker of every options object the engine takes: `new Enclave()`, `run()`, the HTTP core and
 * its adapters, `defineTool()`, the sidecar and the scoring gate. Every problem throws an
 * `EnclaveConfigError` whose message starts with where the options were given and names the option
 * (`new Enclave(options): realmPool.maxIdle must be a positive integer, got -1.`).
 */
export class OptionChecker {
  constructor(readonly where: string) {}

  fail(message: string): never {
    throw new EnclaveConfigError(`${this.where}: ${message}`);
  }

  /** A plain object (or undefined, which passes); `what` describes the expected shape. */
  object(name: string, value: unknown, what = 'an object'): Record<string, unknown> | undefined {
    if (value === undefined) return undefined;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(`${name} must be ${what}.`);
    return value as Record<string, unknown>;
  }

  /**
   * Refuses keys outside `known`, suggesting the closest known one. `name` is the nested option the keys
   * belong to (`''` for the top level). `elsewhere` are keys another layer takes out before these
   * options arrive (an adapter's `path`): listed and suggested, never accepted here.
   */
  knownKeys(name: string, obj: object, known: Iterable<string>, elsewhere: readonly string[] = []): void {
    const allowed = known instanceof Set ? (known as ReadonlySet<string>) : new Set(known);
    for (const key of Object.keys(obj)) {
      if (allowed.has(key)) continue;
      const listed = [...allowed, ...elsewhere];
      const close = closeNames(key, listed);
      const hint = close.length > 0 ? ` Did you mean ${close.map((k) => `"${k}"`).join(' or ')}?` : '';
      this.fail(`${name === '' ? '' : `${name}: `}unknown option "${key}".${hint} Known options: ${listed.join(', ')}.`);
    }
  }

  /** A positive safe integer, or undefined; `unit` is named in the message (`ms`, `bytes`). */
  positiveInteger(name: string, value: unknown, unit?: string): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      this.fail(`${name} must be a positive integer${unit === undefined ? '' : ` (${unit})`}, got ${describeValue(value)}.`);
    }
    return value;
  }

  /**
   * A positive integer of milliseconds that a timer waits (a heartbeat, a timeout), or undefined. At most
   * MAX_DELAY_MS: Node fires a timer with a longer delay after 1 ms (a "never" heartbeat would beat every
   * millisecond).
   */
  delay(name: string, value: unknown): number | undefined {
    const ms = this.positiveInteger(name, value, 'ms');
    if (ms !== undefined && ms > MAX_DELAY_MS) this.fail(`${name} must be at most ${MAX_DELAY_MS} ms (about 24.8 days, the longest delay Node's timers keep), got ${ms}.`);
    return ms;
  }

  boolean(name: string, value: unknown): boolean | undefined {
    if (value !== undefined && typeof value !== 'boolean') this.fail(`${name} must be a boolean.`);
    return value as boolean | undefined;
  }

  /** An array of names (strings), or undefined. */
  names(name: string, value: unknown): readonly string[] | undefined {
    if (value !== undefined && (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))) this.fail(`${name} must be an array of names (strings).`);
    return value as readonly string[] | undefined;
  }

  string(name: string, value: unknown): string | undefined {
    if (value !== undefined && typeof value !== 'string') this.fail(`${name} must be a string.`);
    return value as string | undefined;
  }

  /** A function, or undefined; `shape` shows the expected signature in the message. */
  function<F extends (...args: never[]) => unknown>(name: string, value: unknown, shape?: string): F | undefined {
    if (value !== undefined && typeof value !== 'function') this.fail(`${name} must be a function${shape === undefined ? '' : ` ${shape}`}.`);
    return value as F | undefined;
  }

  /** An object with `methods` (or undefined): a store, a logger. `shape` describes them in the message. */
  withMethods<T>(name: string, value: unknown, methods: readonly string[], shape: string): T | undefined {
    if (value === undefined) return undefined;
    const has = (m: string) => typeof (value as Record<string, unknown>)[m] === 'function';
    if (value === null || typeof value !== 'object' || !methods.every(has)) this.fail(`${name} must be an object with ${shape}.`);
    return value as T;
  }

  /** One of `allowed`, or undefined; `fallback` is marked as the default in the message. */
  oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback?: T): T | undefined {
    if (value !== undefined && !(allowed as readonly unknown[]).includes(value)) {
      const choices = allowed.map((a) => `"${a}"${a === fallback ? ' (the default)' : ''}`);
      const list = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join('');
      this.fail(`${name} must be ${list}, got ${JSON.stringify(String(value))}.`);
    }
    return value as T | undefined;
  }
}
