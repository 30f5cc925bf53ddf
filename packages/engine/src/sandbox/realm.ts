import vm from 'node:vm';
import { BOOTSTRAP_SOURCE } from './bootstrap.js';

/**
 * The host's side of the bridge. Every function takes primitives, returns a primitive or undefined, and
 * catches everything it could throw: a host error that reached the realm would be a host `Function`
 * away from `process` (invariant 2).
 */
export interface RunBridgeTarget {
  readonly id: number;
  begin(): string | undefined;
  onCall(callId: number, payload: string): 0 | 1;
  take(): string;
  onDone(kind: string, payload: string): void;
  onFatal(payload: string): void;
  onLog(level: string, line: string): void;
  overMemory(): boolean;
}

interface RealmControl {
  end(): void;
  clean(): boolean;
  forget(id: number): void;
}

const bootstrapScript = new vm.Script(BOOTSTRAP_SOURCE, { filename: 'enclave:bootstrap' });
/** Pumps deliver tool results; the microtask checkpoint that follows runs the script's continuations. */
export const pumpScript = new vm.Script('__ek_pump()', { filename: 'enclave:pump' });
/** Starts the run whose configuration `begin()` returns, with the factory registered for its code. */
export const startScript = new vm.Script('__ek_start()', { filename: 'enclave:start' });

const MAX_FACTORIES = 64;

/** One locked `node:vm` realm. Reused only after runs that ended cleanly (see RealmPool.release). */
export class Realm {
  readonly context: vm.Context;
  readonly control: RealmControl;
  current: RunBridgeTarget | null = null;
  runs = 0;
  /** Set when a run was cut off mid-execution: the realm is never used again. */
  broken = false;
  readonly #factories = new Map<string, number>();

  constructor(options: { intl: boolean; proxy: boolean }) {
    // A vanilla global (DONT_CONTEXTIFY): a contextified one forwards every unresolved name to a host
    // object, so bare `constructor`, `__proto__` or `hasOwnProperty` would reach the host's
    // Object.prototype. This global is an ordinary realm object whose chain ends in realm intrinsics,
    // and it can be frozen.
    this.context = vm.createContext(vm.constants.DONT_CONTEXTIFY, {
      name: 'enclave',
      microtaskMode: 'afterEvaluate',
      codeGeneration: { strings: false, wasm: false },
    });
    const install = bootstrapScript.runInContext(this.context) as (bridge: object, options: { intl: boolean; proxy: boolean }) => RealmControl;
    this.control = install(makeBridge(this), { intl: options.intl, proxy: options.proxy });
  }

  /**
   * The realm's factory id for a compiled script, registering it on first use. Registration evaluates
   * a function expression and runs no user code, so it needs no deadline.
   */
  factoryFor(key: string, script: vm.Script): number {
    const known = this.#factories.get(key);
    if (known !== undefined) {
      this.#factories.delete(key);
      this.#factories.set(key, known);
      return known;
    }
    const id = script.runInContext(this.context);
    if (typeof id !== 'number' || id < 0) throw new Error('factory registration failed');
    this.#factories.set(key, id);
    if (this.#factories.size > MAX_FACTORIES) {
      const [oldKey, oldId] = this.#factories.entries().next().value as [string, number];
      this.#factories.delete(oldKey);
      this.control.forget(oldId);
    }
    return id;
  }
}

function makeBridge(realm: Realm) {
  const target = (id: unknown): RunBridgeTarget | null => {
    const r = realm.current;
    return r !== null && r.id === id ? r : null;
  };
  return {
    begin(): string | undefined {
      try {
        const r = realm.current;
        return r === null ? undefined : r.begin();
      } catch {
        return undefined;
      }
    },
    call(id: unknown, callId: unknown, payload: unknown): 0 | 1 {
      try {
        const r = target(id);
        return r !== null && typeof callId === 'number' && typeof payload === 'string' ? r.onCall(callId, payload) : 0;
      } catch {
        return 0;
      }
    },
    take(id: unknown): string {
      try {
        const r = target(id);
        return r === null ? '' : r.take();
      } catch {
        return '';
      }
    },
    done(id: unknown, kind: unknown, payload: unknown): void {
      try {
        const r = target(id);
        if (r !== null && typeof kind === 'string' && typeof payload === 'string') r.onDone(kind, payload);
      } catch {
        // A malformed report is treated like no report: the deadline still ends the run.
      }
    },
    fatal(id: unknown, payload: unknown): void {
      try {
        const r = target(id);
        if (r !== null && typeof payload === 'string') r.onFatal(payload);
      } catch {
        // as above
      }
    },
    log(id: unknown, level: unknown, line: unknown): void {
      try {
        const r = target(id);
        if (r !== null && typeof level === 'string' && typeof line === 'string') r.onLog(level, line);
      } catch {
        // as above
      }
    },
    heap(id: unknown): 0 | 1 {
      try {
        const r = target(id);
        return r !== null && r.overMemory() ? 1 : 0;
      } catch {
        return 0;
      }
    },
  };
}

export interface RealmPoolOptions {
  /** Realms kept ready between runs. */
  maxIdle: number;
  /** Realms built ahead of demand, in idle time, after construction and after each run. */
  prewarm: number;
  /** A realm is retired after this many runs, whatever their outcome. */
  maxRunsPerRealm: number;
  /** Keep the Intl global (only the PERMISSIVE dialect has it). */
  intl: boolean;
  /** Keep the Proxy global, refusing array targets (only the PERMISSIVE dialect has it). */
  proxy: boolean;
}

/** Locked realms ready for use. Building one costs a few milliseconds; reusing one costs nothing. */
export class RealmPool {
  readonly #idle: Realm[] = [];
  #warming = false;
  #disposed = false;
  created = 0;
  retired = 0;

  constructor(readonly options: RealmPoolOptions) {}

  acquire(): Realm {
    const realm = this.#idle.pop() ?? this.#create();
    this.#scheduleWarm();
    return realm;
  }

  release(realm: Realm): void {
    realm.current = null;
    let reusable = !realm.broken && !this.#disposed && realm.runs < this.options.maxRunsPerRealm;
    if (reusable) {
      try {
        realm.control.end();
        reusable = realm.control.clean();
      } catch {
        reusable = false;
      }
    }
    if (reusable && this.#idle.length < this.options.maxIdle) this.#idle.push(realm);
    else this.retired++;
  }

  get idle(): number {
    return this.#idle.length;
  }

  dispose(): void {
    this.#disposed = true;
    this.#idle.length = 0;
  }

  #create(): Realm {
    this.created++;
    return new Realm({ intl: this.options.intl, proxy: this.options.proxy });
  }

  #scheduleWarm(): void {
    if (this.#warming || this.#disposed || this.#idle.length >= this.options.prewarm) return;
    this.#warming = true;
    const timer = setImmediate(() => {
      this.#warming = false;
      if (this.#disposed) return;
      if (this.#idle.length < this.options.prewarm) {
        try {
          this.#idle.push(this.#create());
        } catch {
          // Building ahead is an optimisation: a failure here surfaces on the next acquire instead.
          return;
        }
        this.#scheduleWarm();
      }
    });
    timer.unref();
  }

  warm(): void {
    this.#scheduleWarm();
  }
}
