import vm from 'node:vm';
import type { HeapState, HostBridge, InstallRealm, LogLevel, NdKind, RealmControl } from './realm-abi.js';
import { REALM_ENTRIES } from './realm-abi.js';
import { REALM_RUNTIME_HASH, REALM_RUNTIME_SOURCE } from './realm-runtime.generated.js';
import { codeCache } from './code-cache.js';
import { eagerly, lazily } from './compile.js';
import { entryScheduler } from './scheduler.js';

/**
 * What a realm's bridge calls into: the run that currently owns the realm. Every method takes
 * primitives only; the bridge below checks the types and swallows whatever a method throws, because a
 * host error that reached the realm would be a host `Function` away from `process` (invariant 2).
 */
export interface RealmRunTarget {
  readonly id: number;
  begin(): string | undefined;
  onCall(callId: number, name: string, argsText: string): 0 | 1;
  take(): string;
  onDone(report: string, value: string): void;
  onLog(level: LogLevel, line: string): void;
  /** See HostBridge.heap. */
  overMemory(iterations?: number): HeapState;
  /** A durable run's value of a non-deterministic source (see RunConfig.durable). */
  nd(kind: NdKind): number;
  /** See HostBridge.positions. */
  positions(): string;
}

/**
 * Saved where the host keeps Node's compile cache, if it does. Named by a hash of the whole text: V8
 * checks a cache against the source's length only.
 */
const runtimeCache = codeCache('realm', REALM_RUNTIME_HASH);
/** Compiled code of the realm runtime the host handed a worker (see useRuntimeCode), or undefined. */
let handedCode: Uint8Array | undefined;
let runtimeScript: vm.Script | undefined;
/** Whether runtimeScript was read from compiled code (then there is nothing new to save). */
let runtimeFromCode = false;
let runtimeCode: Uint8Array | undefined;

/**
 * The realm runtime, compiled for this thread when its first realm is built. From code already compiled
 * where there is some: in a worker, what the host handed it (see runtimeCodeForWorkers); elsewhere, what
 * a previous process saved. V8 refuses code made under other flags (the flags are process-wide, and our
 * compiles switch two of them for a moment), and then the text is compiled as below.
 *
 * Compiled lazily: V8 compiles the script's top level and the two parenthesized functions that wrap the
 * runtime (see scripts/build-realm-runtime.mjs), and each function inside them only when a realm first
 * calls it; later realms of the thread share what is compiled. A realm's install and first run call
 * most of the runtime, but not all of it (the wrappers of builtins a script never calls, the codec's
 * paths for values it never meets): compiled whole, every function at once, a cold start (import and
 * first run) took 7 M more instructions on Node 20 and 23 M more on Node 24 (callgrind). The wrapper
 * must be a parenthesized `function`: when it was an arrow, V8 pre-parsed it with the script and parsed
 * it again, whole, at the first install, which made a lazy compile dearer than an eager one.
 *
 * `eager` compiles every function now, for code handed to workers, whose realms will call them all.
 */
function runtime(eager = false): vm.Script {
  if (runtimeScript !== undefined) return runtimeScript;
  const data = handedCode ?? runtimeCache?.data;
  handedCode = undefined;
  if (data !== undefined) {
    const script = new vm.Script(REALM_RUNTIME_SOURCE, { filename: 'enclave:runtime', cachedData: data });
    if (script.cachedDataRejected !== true) {
      runtimeFromCode = true;
      return (runtimeScript = script);
    }
  }
  const compile = () => new vm.Script(REALM_RUNTIME_SOURCE, { filename: 'enclave:runtime' });
  return (runtimeScript = eager ? eagerly(REALM_RUNTIME_SOURCE, compile, Infinity) : lazily(compile));
}

/**
 * On Node 24, the Buffer `createCachedData` returns is made in a way that turns off one of V8's
 * protectors for good (TypedArrayLengthLookupChain: every typed array's `length` in the host's isolate
 * takes the slow path from then on), which inv7-isolate-protectors reports. There workers compile the
 * runtime themselves, as before.
 */
const HAND_CODE = Number(process.versions.node.split('.')[0]) < 24;

/**
 * The realm runtime's compiled code, for the host to hand each worker it starts (WorkerInit.runtimeCode):
 * compiling it whole was about a fifth of the CPU a worker's start took (22-25 ms against 5-6 ms to read
 * this, on Node 20). Made once, from this thread's own compile: never from anything a worker sent.
 * Undefined on Node 24 (see HAND_CODE).
 */
export function runtimeCodeForWorkers(): Uint8Array | undefined {
  if (!HAND_CODE) return undefined;
  // A host that has built realms hands what they compiled; one that has not (worker_threads mode) compiles it all.
  return (runtimeCode ??= runtime(true).createCachedData());
}

/** In a worker, before its first realm: the code the host made with runtimeCodeForWorkers. */
export function useRuntimeCode(code: Uint8Array | undefined): void {
  if (runtimeScript === undefined) handedCode = code;
}

/** Pumps deliver tool results; the microtask checkpoint that follows runs the script's continuations. */
export const pumpScript = new vm.Script(`${REALM_ENTRIES.pump}()`, { filename: 'enclave:pump' });
/** Starts the run whose configuration `begin()` returns, with the factory registered for its code. */
export const startScript = new vm.Script(`${REALM_ENTRIES.start}()`, { filename: 'enclave:start' });

const MAX_FACTORIES = 64;
/**
 * Text of the factories registered in all the realms of this thread. A registered factory keeps its
 * script's compiled code alive, several times the text (3.4 MB for a 250 KB script), whatever the
 * compile cache has dropped since: 64 per realm, in up to `maxIdle` realms, was gigabytes for distinct
 * large scripts. Past this much text the least recently used registration, in whichever realm, goes.
 */
const MAX_REGISTERED_TEXT = 16 * 1024 * 1024;

interface Registration {
  readonly realm: Realm;
  readonly source: string;
  readonly id: number;
  /**
   * Runs that were given this factory and have not had their first entry yet (see Realm.factoryFor):
   * their start looks it up by id, so it is never dropped meanwhile, whatever the limits say.
   */
  pending: number;
}

/** Every realm's registrations, least recently used first (see MAX_REGISTERED_TEXT). */
const registrations = new Set<Registration>();
let registeredText = 0;

/** What the realms of this thread keep registered now: factories and the text of their scripts. */
export function registeredFactories(): { count: number; text: number } {
  return { count: registrations.size, text: registeredText };
}

function unregister(r: Registration): void {
  if (registrations.delete(r)) registeredText -= r.source.length;
}

/** Whether the registrations of all realms hold more text than MAX_REGISTERED_TEXT. */
function overRegistered(): boolean {
  return registeredText > MAX_REGISTERED_TEXT;
}

/**
 * The least recently used registration that no run is waiting for, in `among` (a realm's own, or all),
 * or undefined if every one is awaited.
 */
function oldestIdle(among: Iterable<Registration>): Registration | undefined {
  for (const r of among) if (r.pending === 0) return r;
  return undefined;
}

const LOG_LEVELS: ReadonlySet<string> = new Set<LogLevel>(['log', 'info', 'warn', 'error', 'debug']);

/** One locked `node:vm` realm. Reused only after runs that ended cleanly (see RealmPool.release). */
export class Realm {
  readonly context: vm.Context;
  readonly control: RealmControl;
  current: RealmRunTarget | null = null;
  runs = 0;
  /** Set when a run was cut off mid-execution: the realm is never used again. */
  broken = false;
  /**
   * Set when the current run's text may name private members (see mayNamePrivately): it may leave
   * them on the realm's frozen intrinsics, so the realm is retired after the run.
   */
  spent = false;
  readonly #factories = new Map<string, Registration>();

  constructor(options: { intl: boolean; proxy: boolean }) {
    // A vanilla global (DONT_CONTEXTIFY): a contextified one forwards every unresolved name to a host
    // object, so bare `constructor`, `__proto__` or `hasOwnProperty` would reach the host's
    // Object.prototype. This global is an ordinary realm object whose chain ends in realm intrinsics,
    // and the runtime freezes it.
    this.context = vm.createContext(vm.constants.DONT_CONTEXTIFY, {
      name: 'enclave',
      microtaskMode: 'afterEvaluate',
      codeGeneration: { strings: false, wasm: false },
    });
    const install = runtime().runInContext(this.context) as InstallRealm;
    this.control = install(makeBridge(this), JSON.stringify({ intl: options.intl, proxy: options.proxy }));
  }

  /**
   * The realm's factory id for a compiled script, registering it on first use. Registration evaluates
   * a function expression and runs no user code, so it needs no deadline. The factory is held for the
   * run until `started` says its first entry is over.
   */
  factoryFor(source: string, script: vm.Script): number {
    const known = this.#factories.get(source);
    if (known !== undefined) {
      this.#factories.delete(source);
      this.#factories.set(source, known);
      registrations.delete(known);
      registrations.add(known);
      known.pending++;
      return known.id;
    }
    const id: unknown = script.runInContext(this.context);
    if (typeof id !== 'number' || id < 0) throw new Error('factory registration failed');
    const r: Registration = { realm: this, source, id, pending: 1 };
    this.#factories.set(source, r);
    registrations.add(r);
    registeredText += source.length;
    this.#trim();
    return id;
  }

  /**
   * A run given the factory of `source` is past its first entry (or ended before it): the factory is
   * no longer held for it. `keep` says whether the realm should keep it for later runs of the same text:
   * a factory keeps its script's compiled code alive, which only a text seen again can use, and LLM
   * traffic is new text nearly every time.
   */
  started(source: string, keep: boolean): void {
    const r = this.#factories.get(source);
    if (r === undefined || r.pending === 0) return;
    r.pending--;
    if (!keep && r.pending === 0) this.#forget(r);
    else this.#trim();
  }

  /**
   * Drops the least recently used registrations no run waits for: the realm's own past MAX_FACTORIES,
   * then anyone's while all of them hold more than MAX_REGISTERED_TEXT.
   */
  #trim(): void {
    while (this.#factories.size > MAX_FACTORIES) {
      const r = oldestIdle(this.#factories.values());
      if (r === undefined) break;
      this.#forget(r);
    }
    while (overRegistered()) {
      const r = oldestIdle(registrations);
      if (r === undefined) break;
      r.realm.#forget(r);
    }
  }

  /** Drops every registration: the realm is retired. */
  retire(): void {
    for (const r of this.#factories.values()) unregister(r);
    this.#factories.clear();
  }

  #forget(r: Registration): void {
    unregister(r);
    this.#factories.delete(r.source);
    // Called outside any entry (see RealmRun.start): a map deletion in the realm's runtime, no script code.
    // A realm cut off mid-run is never used again, so a failure there changes nothing.
    try {
      this.control.forget(r.id);
    } catch {
      this.broken = true;
    }
  }
}

function makeBridge(realm: Realm): HostBridge {
  const target = (id: unknown): RealmRunTarget | null => {
    const r = realm.current;
    return r !== null && r.id === id ? r : null;
  };
  return {
    begin() {
      try {
        return realm.current?.begin();
      } catch {
        return undefined;
      }
    },
    tool(id, callId, name, argsText) {
      try {
        const r = target(id);
        return r !== null && typeof callId === 'number' && typeof name === 'string' && typeof argsText === 'string' ? r.onCall(callId, name, argsText) : 0;
      } catch {
        return 0;
      }
    },
    take(id) {
      try {
        return target(id)?.take() ?? '';
      } catch {
        return '';
      }
    },
    done(id, report, value) {
      try {
        const r = target(id);
        if (r !== null && typeof report === 'string' && typeof value === 'string') r.onDone(report, value);
      } catch {
        // A malformed report is treated like no report: the deadline still ends the run.
      }
    },
    log(id, level, line) {
      try {
        const r = target(id);
        if (r !== null && typeof level === 'string' && LOG_LEVELS.has(level) && typeof line === 'string') r.onLog(level, line);
      } catch {
        // as above
      }
    },
    heap(id, iterations) {
      try {
        return target(id)?.overMemory(typeof iterations === 'number' ? iterations : undefined) ?? 0;
      } catch {
        return 0;
      }
    },
    nd(id, kind) {
      try {
        const r = target(id);
        return r !== null && (kind === 'r' || kind === 't') ? r.nd(kind) : NaN;
      } catch {
        return NaN;
      }
    },
    positions(id) {
      try {
        const text = target(id)?.positions();
        return typeof text === 'string' ? text : '';
      } catch {
        // Not '', which the realm keeps for the rest of the run: its stacks would show the rewritten
        // script's columns, past the ends of the user's lines.
        return undefined;
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
  /** Realms that may exist at once, idle or in use: past it, runs wait for one (see RealmPool.request). Default DEFAULT_MAX_REALMS. */
  maxRealms?: number;
  /** Keep the Intl global (only the PERMISSIVE dialect has it). */
  intl: boolean;
  /** Keep the Proxy global, refusing array targets (only the PERMISSIVE dialect has it). */
  proxy: boolean;
}

/**
 * `maxRealms` where none is given. An idle realm holds about 440 KB of the heap on Node 20 (200 of them:
 * 86 MB over a process's own 8.4 MB, after a full collection), so about 450 MB of realms at the bound.
 */
export const DEFAULT_MAX_REALMS = 1024;

/** A run waiting for a realm (see RealmPool.request). */
export interface RealmWaiter {
  /** Whether the run ended meanwhile (its deadline, an abort): it gets no realm then. */
  readonly ended: boolean;
  assign(realm: Realm): void;
  /** No realm could be built for it. */
  noRealm(): void;
}

/**
 * The realms one turn of the event loop may build for waiting runs, in milliseconds of building: past
 * it, the rest wait for the next turn, so that the runs already given one go on meanwhile (and those
 * that end give theirs back to the next in line).
 */
const BUILD_SLICE_MS = 8;

/** Locked realms ready for use. Building one costs a few milliseconds; reusing one costs nothing. */
export class RealmPool {
  readonly #idle: Realm[] = [];
  /** Runs waiting for a realm, first come first served. */
  readonly #waiting: RealmWaiter[] = [];
  #serveQueued = false;
  /** Whether a realm was built for a run in this turn of the event loop without waiting (see request). */
  #builtThisTurn = false;
  #warming = false;
  #disposed = false;
  created = 0;
  retired = 0;

  readonly #maxRealms: number;

  constructor(readonly options: RealmPoolOptions) {
    this.#maxRealms = options.maxRealms ?? DEFAULT_MAX_REALMS;
  }

  /** Realms that exist now: idle or in use. */
  get live(): number {
    return this.created - this.retired;
  }

  /**
   * A realm for `run`: an idle one at once, else a new one at once when it is the only one to build in
   * this turn of the event loop. Otherwise (a burst of runs: a thousand started in one turn used to build
   * a thousand realms back to back, seconds during which no run got further, and as many realms as runs
   * at once) the run waits in line: each later turn builds what fits in BUILD_SLICE_MS, and a realm a
   * run gives back goes to the next in line. No more than `maxRealms` exist at once: past that, runs
   * wait for one to be given back (or end at their deadline, waiting).
   */
  request(run: RealmWaiter): void {
    if (this.#waiting.length === 0) {
      const idle = this.#idle.pop();
      if (idle !== undefined) {
        this.#scheduleWarm();
        run.assign(idle);
        return;
      }
      if (!this.#builtThisTurn && this.live < this.#maxRealms) {
        this.#builtThisTurn = true;
        setImmediate(() => {
          this.#builtThisTurn = false;
        });
        const realm = this.#build();
        this.#scheduleWarm();
        if (realm === undefined) run.noRealm();
        else run.assign(realm);
        return;
      }
    }
    this.#waiting.push(run);
    this.#scheduleServe();
  }

  #scheduleServe(): void {
    if (this.#serveQueued || this.#disposed) return;
    this.#serveQueued = true;
    setImmediate(() => this.#serve());
  }

  #serve(): void {
    this.#serveQueued = false;
    const until = performance.now() + BUILD_SLICE_MS;
    while (this.#waiting.length > 0 && !this.#disposed) {
      const run = this.#waiting[0] as RealmWaiter;
      if (run.ended) {
        this.#waiting.shift();
        continue;
      }
      let realm = this.#idle.pop();
      if (realm === undefined) {
        // Building one is milliseconds: the rest of the line waits for the next turn, or for a realm given back.
        if (performance.now() >= until || this.live >= this.#maxRealms) break;
        realm = this.#build();
      }
      this.#waiting.shift();
      if (realm === undefined) run.noRealm();
      else {
        // This runs from the event loop: nothing may throw out of it, or the host process would end.
        try {
          run.assign(realm);
        } catch {
          run.noRealm();
        }
      }
    }
    if (this.#waiting.length > 0 && this.live < this.#maxRealms) this.#scheduleServe();
  }

  release(realm: Realm): void {
    realm.current = null;
    // After a run, the code it needed is compiled too.
    if (runtimeScript !== undefined && !runtimeFromCode) runtimeCache?.saveOnce(runtimeScript);
    let reusable = !realm.broken && !realm.spent && !this.#disposed && realm.runs < this.options.maxRunsPerRealm;
    if (reusable) {
      try {
        realm.control.end();
        reusable = realm.control.clean();
      } catch {
        reusable = false;
      }
    }
    // A run waiting in line takes it, whatever maxIdle says.
    if (reusable && (this.#idle.length < this.options.maxIdle || this.#waiting.length > 0)) this.#idle.push(realm);
    else {
      realm.retire();
      this.retired++;
    }
    if (this.#waiting.length > 0) this.#scheduleServe();
  }

  get idle(): number {
    return this.#idle.length;
  }

  /** Runs waiting in line for a realm (see request). */
  get waiting(): number {
    let n = 0;
    for (const run of this.#waiting) if (!run.ended) n++;
    return n;
  }

  dispose(): void {
    this.#disposed = true;
    for (const realm of this.#idle) realm.retire();
    this.#idle.length = 0;
    // Runs still in line get no realm: they end as the instance's disposal ends every run.
    for (const run of this.#waiting.splice(0)) if (!run.ended) run.noRealm();
  }

  /** A new realm for a run, or undefined when one cannot be built (the heap is exhausted, say). */
  #build(): Realm | undefined {
    try {
      return this.#create();
    } catch {
      return undefined;
    }
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
      // Runs waiting to enter their realms go first: building one takes milliseconds.
      if (entryScheduler.pending) {
        this.#scheduleWarm();
        return;
      }
      // Runs waiting in line get the realms built for them (see #serve), not the pool.
      if (this.#idle.length < this.options.prewarm && this.#waiting.length === 0 && this.live < this.#maxRealms) {
        try {
          this.#idle.push(this.#create());
        } catch {
          // Building ahead is an optimisation: a failure here surfaces on the next request instead.
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
