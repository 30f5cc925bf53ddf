/**
 * One run inside one realm of this thread: the realm's bridge target and the scheduler's entry target.
 * It starts the run, hands tool replies to the realm in batches (each delivery is a realm entry that
 * also runs the script's continuations, so code after an `await` runs inside an entry too) and reports,
 * after each entry, what the entry produced. It decides nothing about the run's result: the host's
 * driver does that, from these reports. The `vm` isolation uses it in the host's thread; every worker
 * of the `worker_threads` isolation uses it in its own.
 */
import type vm from 'node:vm';
import { randomBytes } from '../random.js';
import { compiled, mayNamePrivately, syntaxPosition } from './compile.js';
import type { EntryCall, EntryEnd, EntryLog, EntryOutput, IsolatedJob } from './isolation.js';
import { iterationCount } from './isolation.js';
import type { HeapState, LogLevel, NdKind, NdValue, PumpHead, PumpItem, RunConfig, ToolReply } from './realm-abi.js';
import { FRAMED, heapStep } from './realm-abi.js';
import type { Realm, RealmPool, RealmRunTarget } from './realm.js';
import { pumpScript, startScript } from './realm.js';
import type { EntryTarget } from './scheduler.js';
import type { EntryOutcome } from './deadline.js';
import { enterUnderDeadline, prepareDeadlines } from './deadline.js';
import { currentEntryMode, entryScheduler } from './scheduler.js';
import { hostTracksAsyncContext } from './async-context.js';

let nextRunId = 0;

/** The seed of a run's own `Math.random()`: four 32-bit words from the CSPRNG. */
function runSeed(): number[] {
  const b = randomBytes(16);
  return [b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)];
}

/*
 * Host code that runs inside a realm entry (the bridge's methods below, the entry bookkeeping) can be
 * cut off at any instruction by the watchdog, and none of its `finally` blocks runs then. Node loads
 * its own modules lazily and marks a module as loading until a `finally` clears the mark: a first load
 * cut off half-way leaves the half-evaluated module to every later use in the process (the first
 * `crypto.getRandomValues` loads internal/crypto/webidl and then throws for good, so every later run of
 * every Enclave in the thread got no configuration from begin() and ended at its deadline; a cut-off
 * first load of node:v8 left streams half-defined and the memory checks off). So whatever such code
 * uses is loaded, and the CSPRNG drawn, in `start()`, outside any entry: see `prepareHost`.
 */
let v8: typeof import('node:v8') | undefined;
function v8Module(): typeof import('node:v8') {
  v8 ??= process.getBuiltinModule('node:v8') as typeof import('node:v8');
  return v8;
}
/**
 * The heap in use now (V8's `used_heap_size`), read space by space. A run reads it twice per realm entry
 * once its memory is tracked, and at every heap check. V8's whole-heap statistics also count the
 * isolate's native contexts one by one, the host's and dead ones not yet collected included: 0.4 µs a
 * reading with a few, 7 µs with 500, 73-98 µs with 1000 (a burst of runs in flight, or a host that makes
 * contexts of its own). The spaces' figures cost about 1 µs whatever the number of contexts, and add up
 * to the same size (within the read-only space's 1 KiB).
 */
function usedHeap(): number {
  let used = 0;
  for (const space of v8Module().getHeapSpaceStatistics()) used += space.space_used_size;
  return used;
}

/** V8's heap limit, read once: it only changes when the host asks V8 to raise it near exhaustion. */
let heapLimit = 0;
function heapSizeLimit(): number {
  if (heapLimit === 0) heapLimit = v8Module().getHeapStatistics().heap_size_limit;
  return heapLimit;
}

/**
 * A full garbage collection, or null where none can be had. Garbage not yet collected counts as a run's
 * growth, so a run that churns through short-lived values (a sort's keys, the arrays a chain of `map`
 * leaves behind) can read over its budget while keeping far less. A run that reads over its budget (but
 * not over twice it) is measured again after a collection before it is stopped. V8 hands out `gc` only
 * to contexts made while `--expose-gc` is set: it is set for one new context and unset again (realms
 * never keep a `gc` global: the runtime removes it, in case the host itself runs with the flag).
 */
let collect: (() => void) | null | undefined;
function collector(): (() => void) | null {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return () => void (own as () => void)();
  try {
    const flags = v8 as typeof import('node:v8');
    flags.setFlagsFromString('--expose-gc');
    try {
      const gc: unknown = (process.getBuiltinModule('node:vm') as typeof import('node:vm')).runInNewContext('gc');
      return typeof gc === 'function' ? () => void (gc as () => void)() : null;
    } finally {
      flags.setFlagsFromString('--no-expose-gc');
    }
  } catch {
    return null;
  }
}
/** A full collection blocks the thread (tens of ms): at most one per second, whatever runs ask. */
const COLLECT_EVERY_MS = 1000;
let lastCollection = -Infinity;

/**
 * Loads what host code inside an entry will call (see above); a no-op once done in this thread. The
 * collector comes a turn later, off the first run's way (its context costs a millisecond or two): until
 * then a run over its budget goes on to twice it, as when a collection ran less than a second ago.
 */
function prepareHost(): void {
  if (heapLimit === 0) {
    heapSizeLimit();
    v8Module().getHeapSpaceStatistics();
  }
  if (collect === undefined) {
    collect = null;
    setImmediate(() => {
      collect = collector();
    }).unref();
  }
}

/**
 * The heap this thread's runs may fill, whatever their own budgets: in the host, nine tenths of V8's
 * limit; in a worker, the pool's `memoryLimitPerWorker` (see configureHeap).
 */
let heapCeiling: ((limit: number) => number) = (limit) => limit * 0.9;

/**
 * A worker stops its runs at the pool's per-worker heap, well below the V8 limit the pool gives it: V8
 * aborts the whole process, not just the worker, when one allocation does not fit (a growing Map or
 * array doubles its backing store in one step), so the space above the ceiling is kept for that step.
 */
export function configureHeap(ceiling: number): void {
  heapCeiling = () => ceiling;
}

/** The heap in use now, for a worker deciding after a run whether to stay in the pool. */
export function heapUsed(): number {
  return usedHeap();
}

export class RealmRun implements RealmRunTarget, EntryTarget {
  readonly id = ++nextRunId;
  readonly #job: IsolatedJob;
  /** Given by the pool (see assign); null until then. */
  #realm: Realm | null = null;
  #script: vm.Script | null = null;
  readonly #pool: RealmPool;
  readonly #deadline: number;
  readonly #report: (output: EntryOutput) => void;
  #calls: EntryCall[] = [];
  #logs: EntryLog[] = [];
  #nd: NdValue[] = [];
  /** Values of non-deterministic sources handed out so far (a durable run's replay comes first). */
  #ndTaken = 0;
  readonly #mailbox: PumpItem[] = [];
  #outcome: { report: string; value: string } | undefined;
  #factory = -1;
  /** Whether the realm holds the factory for this run's start (see Realm.factoryFor and #started). */
  #factoryHeld = false;
  /** Whether the realm should keep the factory after the start: its text was compiled before here. */
  #keepFactory = false;
  /** Drawn in `start()`: the pool's refill must not run inside an entry (see prepareHost). */
  #seed: number[] = [];
  #begun = false;
  #pumpQueued = false;
  #ended = false;
  /**
   * Heap growth is charged to a run only while its own realm entries execute (one thread: nothing else
   * allocates then), so a concurrent tenant's memory is never counted against it. Tracking starts at
   * the run's first memory checkpoint, which comes before its first large allocation.
   */
  #heapTracked = false;
  #heapAtEntry = 0;
  #heapGrowth = 0;
  /** The run's growth at its previous check: what grew since then tells the realm how often to check. */
  #growthAtCheck = 0;
  /** Told the run's iterations at each heap check (see HostBridge.heap), where a thread shares them. */
  readonly #progress: ((iterations: number) => void) | undefined;

  /**
   * @param deadline `performance.now()` of this thread at which the run's deadline passes (entries get
   *   the time left as their watchdog's timeout where the thread has one).
   * @param report called after each entry, outside any entry.
   * @param progress see #progress.
   */
  constructor(job: IsolatedJob, pool: RealmPool, deadline: number, report: (output: EntryOutput) => void, progress?: (iterations: number) => void) {
    this.#job = job;
    this.#pool = pool;
    this.#deadline = deadline;
    this.#report = report;
    this.#progress = progress;
  }

  /** Compiles the script, then asks the pool for a realm: now, or once one is free (see RealmPool.request). */
  start(): void {
    try {
      ({ script: this.#script, seen: this.#keepFactory } = compiled(this.#job.source));
    } catch (e) {
      // Compiling runs no script code, and the run has no realm yet.
      const end: EntryEnd = { kind: 'syntax', message: e instanceof SyntaxError ? e.message : 'The script could not be compiled.' };
      const at = syntaxPosition(e);
      if (at !== undefined) end.at = at;
      this.#end(end);
      return;
    }
    this.#pool.request(this);
  }

  /** The pool could not build a realm for this run (see RealmPool.request): it ends, as one that crashed. */
  noRealm(): void {
    if (!this.#ended) this.#end({ kind: 'crashed' });
  }

  /** The pool's answer to `request`: the realm this run starts in. Never called once the run has ended. */
  assign(realm: Realm): void {
    this.#realm = realm;
    realm.current = this;
    realm.runs++;
    if (this.#job.privateNames ?? mayNamePrivately(this.#job.source)) realm.spent = true;
    try {
      this.#factory = realm.factoryFor(this.#job.source, this.#script as vm.Script);
      this.#factoryHeld = true;
    } catch {
      realm.broken = true;
      this.#end({ kind: 'crashed' });
      return;
    }
    prepareHost();
    this.#seed = runSeed();
    entryScheduler.enter(this, startScript);
  }

  /** A tool's reply: the realm gets it, with every other reply that arrived by then, in one entry. */
  deliver(callId: number, reply: ToolReply): void {
    if (this.#ended) return;
    this.#mailbox.push([callId, reply[0], reply[1]]);
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    entryScheduler.enter(this, pumpScript);
  }

  /** The host ended the run between entries: no script code of it runs again. */
  stop(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#release();
  }

  get ended(): boolean {
    return this.#ended;
  }

  // ---- bridge (called from realm code; primitives only, never throws) --------------------------

  begin(): string | undefined {
    if (this.#begun || this.#ended) return undefined;
    this.#begun = true;
    const job = this.#job;
    const input = job.inputText ?? '';
    const globals = job.globalsText ?? '';
    const config: RunConfig = {
      id: this.id,
      factory: this.#factory,
      limits: job.limits,
      input: job.inputText === null ? -1 : input.length,
      globals: job.globalsText === null ? -1 : globals.length,
      names: job.globalNames,
      fnNames: job.functionNames,
      console: job.console !== false,
      durable: job.replayNd !== undefined,
      seed: this.#seed,
    };
    return `${JSON.stringify(config)}${FRAMED}${input}${globals}`;
  }

  positions(): string {
    const p = this.#job.positions?.();
    if (p === undefined || typeof p.anchors !== 'string' || typeof p.text !== 'string' || typeof p.prefix !== 'number') return '';
    return `${p.prefix},${p.text.length},${p.anchors}${FRAMED}${p.text}${this.#job.source}`;
  }

  // The tool starts after the entry has returned: host code never runs under the realm's watchdog, so
  // a deadline can never cut a tool off half-way through its synchronous part.
  onCall(callId: number, name: string, argsText: string): 0 | 1 {
    if (this.#ended) return 0;
    this.#calls.push([callId, name, argsText]);
    return 1;
  }

  take(): string {
    if (this.#mailbox.length === 0) return '';
    // A durable run takes one reply per entry, its microtasks settled before the next: what a script
    // does with two replies that arrived together differs from what it does with one after the other
    // (an `await` resumes ticks after a `.then`), and a journal, which records their order only, would
    // replay them apart where they came together, or the other way round (see afterEntry).
    const items = this.#job.replayNd !== undefined ? this.#mailbox.splice(0, 1) : this.#mailbox.splice(0);
    const head: PumpHead[] = [];
    let payloads = '';
    for (const [callId, ok, payload] of items) {
      head.push([callId, ok, payload.length]);
      payloads += payload;
    }
    return `${JSON.stringify(head)}${FRAMED}${payloads}`;
  }

  // The realm reports from inside an entry, i.e. under the watchdog: whatever runs there can be cut off
  // at any call, so this only records the report. A budget error is reported at once and stands,
  // whatever the script does next.
  onDone(report: string, value: string): void {
    this.#outcome ??= { report, value };
  }

  onLog(level: LogLevel, line: string): void {
    if (!this.#ended) this.#logs.push([level, line]);
  }

  // A recorded value is handed back only where the replayed run asks for the same kind: a run that
  // asks for another kind has left the recorded path, which the driver sees in the reported values.
  nd(kind: NdKind): number {
    // Past the journal's room the values would be refused anyway: the host does not buffer them.
    if (this.#ndTaken >= (this.#job.maxNd ?? Infinity)) return NaN;
    const recorded = this.#job.replayNd?.[this.#ndTaken++];
    const value = recorded !== undefined && recorded[0] === kind ? recorded[1] : kind === 'r' ? Math.random() : Date.now();
    this.#nd.push([kind, value]);
    return value;
  }

  overMemory(iterations?: number): HeapState {
    const counted = iterationCount(iterations);
    if (counted !== undefined) this.#progress?.(counted);
    const used = usedHeap();
    // The baseline may hold garbage of other runs and of the host; once that is collected the heap can
    // fall below it, and the run's growth would read low by that much from then on: it is lowered to
    // what is used then (forgiving what the run held at that moment, at most what its checks allowed).
    if (!this.#heapTracked || used < this.#heapAtEntry) {
      this.#heapTracked = true;
      this.#heapAtEntry = used;
    }
    const { memoryLimit } = this.#job.limits;
    const growth = this.#growth(used);
    if (growth > memoryLimit && (growth > 2 * memoryLimit || this.#overAfterCollection(memoryLimit))) return 1;
    if (used > heapCeiling(heapSizeLimit())) return 2;
    const fast = growth - this.#growthAtCheck > heapStep(memoryLimit);
    this.#growthAtCheck = growth;
    return fast ? 3 : 0;
  }

  /**
   * Whether the run is still over `limit` after a full collection. When none may run now (one ran less
   * than a second ago, or there is none), the run goes on: the next check asks again, and twice the
   * limit stops it without one.
   */
  #overAfterCollection(limit: number): boolean {
    const now = performance.now();
    if (!collect || now - lastCollection < COLLECT_EVERY_MS) return false;
    // Recorded first: a deadline may cut this off (see above), and the next run must still wait.
    lastCollection = now;
    collect();
    return this.#growth(usedHeap()) > limit;
  }

  /** The run's heap growth so far, given what the heap uses now. */
  #growth(used: number): number {
    return this.#heapGrowth + (used - this.#heapAtEntry);
  }

  // ---- entries (see scheduler.ts) ----------------------------------------------------------------

  get deadline(): number {
    return this.#deadline;
  }

  get settled(): boolean {
    return this.#ended;
  }

  enterUnderSupervisor(script: vm.Script): 'returned' | 'failed' {
    this.#pumpQueued = false;
    this.#entryStarts();
    try {
      script.runInContext(this.#inRealm.context);
      this.#entryEnds();
      return 'returned';
    } catch {
      // V8's termination is not catchable and passes through here to the supervisor's watchdog.
      this.#inRealm.broken = true;
      return 'failed';
    }
  }

  enterAlone(script: vm.Script): void {
    if (this.#ended) return;
    this.#pumpQueued = false;
    const remaining = this.#deadline - performance.now();
    if (remaining <= 0) {
      this.afterEntry('timeout');
      return;
    }
    let outcome: EntryOutcome = 'returned';
    const mode = currentEntryMode();
    // On the host's thread, the host began to track async context since the run started: its hooks
    // would run on the script's promises from now on (see async-context.ts). The run ends unentered.
    if (mode.watchdog && hostTracksAsyncContext()) {
      this.afterEntry('failed');
      return;
    }
    const context = this.#inRealm.context;
    this.#entryStarts();
    if (mode.watchdog) outcome = enterUnderDeadline(remaining, script, context);
    else {
      mode.onEnter?.();
      try {
        script.runInContext(context);
      } catch {
        outcome = 'failed';
      } finally {
        mode.onLeave?.();
      }
    }
    this.#entryEnds();
    this.afterEntry(outcome);
  }

  afterEntry(outcome: EntryOutcome): void {
    // First, before Node looks at the rejections the entry told it about (after this turn's microtasks).
    if (outcome !== 'returned') this.#quiet();
    this.#started();
    if (this.#ended) return;
    // The realm was cut off mid-execution (or failed in a way we do not understand): never reuse it.
    if (outcome !== 'returned') this.#inRealm.broken = true;
    // A report made before the deadline stands even if detached work then ran into the deadline.
    let end: EntryEnd | null = null;
    if (this.#outcome !== undefined) end = { kind: 'report', ...this.#outcome };
    else if (outcome === 'timeout') end = { kind: 'timeout' };
    else if (outcome === 'failed') end = { kind: 'crashed' };
    if (end !== null) this.#end(end);
    else {
      this.#flush(null);
      // The replies a durable run's entry left for the next ones (see take).
      if (this.#mailbox.length > 0 && !this.#pumpQueued && !this.#ended) {
        this.#pumpQueued = true;
        entryScheduler.enter(this, pumpScript);
      }
    }
  }

  /**
   * An entry cut off by the deadline may have left a promise that V8 rejected and reported to Node
   * unmarked (see RealmControl.quiet): marked now, or Node would hand the realm's rejection to the host's
   * `unhandledRejection` listeners (invariant 8).
   */
  #quiet(): void {
    try {
      this.#realm?.control.quiet();
    } catch {
      // The realm refused to run anything (nothing else can reach the promise): its run ends as it would.
    }
  }

  /** The run's realm, where only a run that has one gets: its entries, which start once it is assigned. */
  get #inRealm(): Realm {
    return this.#realm as Realm;
  }

  #entryStarts(): void {
    if (this.#heapTracked) this.#heapAtEntry = usedHeap();
  }

  #entryEnds(): void {
    if (this.#heapTracked) this.#heapGrowth = this.#growth(usedHeap());
  }

  #end(end: EntryEnd): void {
    this.#ended = true;
    prepareDeadlines();
    this.#mailbox.length = 0;
    // Counted before the realm goes back to the pool, which ends its run.
    const iterations = this.#iterations();
    // Reported before the realm is cleaned and given back: in a worker, the host reads the run's end
    // while the worker cleans (10-20 µs a run, off the run's time); on the host's thread it changes
    // nothing but the order, since the driver's answer to a report is only settled in a later microtask.
    try {
      this.#flush(end, iterations);
    } finally {
      // Never called inside a realm entry, so the realm is idle and can go back to the pool.
      this.#release();
    }
  }

  /** What the realm's run has counted (see RealmControl.iterations); undefined if the realm cannot say. */
  #iterations(): number | undefined {
    const realm = this.#realm;
    if (realm === null || realm.current !== this) return undefined;
    try {
      return iterationCount(realm.control.iterations());
    } catch {
      // A realm cut off mid-execution may refuse to run anything again.
      return undefined;
    }
  }

  #flush(end: EntryEnd | null, iterations = this.#iterations()): void {
    const output: EntryOutput = { calls: this.#calls, logs: this.#logs, end };
    if (iterations !== undefined) output.iterations = iterations;
    if (this.#nd.length > 0) {
      output.nd = this.#nd;
      this.#nd = [];
    }
    this.#calls = [];
    this.#logs = [];
    this.#report(output);
  }

  /** The run's first entry is over, or it ended without one: the realm need not hold its factory for it. */
  #started(): void {
    if (!this.#factoryHeld) return;
    this.#factoryHeld = false;
    this.#realm?.started(this.#job.source, this.#keepFactory);
  }

  #release(): void {
    this.#started();
    if (this.#realm === null || this.#realm.current !== this) return;
    this.#pool.release(this.#realm);
  }
}
