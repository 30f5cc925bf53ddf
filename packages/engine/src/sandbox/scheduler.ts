import { types } from 'node:util';
import vm from 'node:vm';

/** What the scheduler needs from a run to enter its realm. */
export interface EntryTarget {
  /** `performance.now()` value at which the run's deadline passes. */
  readonly deadline: number;
  readonly settled: boolean;
  /** Enters the realm with no timeout of its own: only ever called under the supervisor's watchdog. */
  enterUnderSupervisor(script: vm.Script): 'returned' | 'failed';
  /** Enters the realm under a watchdog of its own, then settles what the entry reported. */
  enterAlone(script: vm.Script): void;
  /** Settles what an entry made under the supervisor reported (called outside any realm entry). */
  afterEntry(outcome: 'returned' | 'failed' | 'timeout'): void;
}

/**
 * How realm entries are bounded in this thread. In the host every entry runs under a V8 watchdog. Inside
 * a worker of the worker_threads adapter the host's `worker.terminate()` is the hard halt instead, so
 * entries run without a watchdog of their own and tell the host, through `onEnter`/`onLeave`, whether
 * script code is running right now.
 */
export interface EntryMode {
  watchdog: boolean;
  onEnter?: () => void;
  onLeave?: () => void;
}

let entryMode: EntryMode = { watchdog: true };

/** Switches this thread's entry mode (the worker does this once, before its first run). */
export function configureEntries(mode: EntryMode): void {
  entryMode = mode;
}

export function currentEntryMode(): EntryMode {
  return entryMode;
}

interface Entry {
  target: EntryTarget;
  script: vm.Script;
}

/** Entries whose deadlines lie within this many ms of the earliest share one watchdog. */
const BATCH_SPREAD_MS = 50;
const MAX_BATCH = 256;

/**
 * Whether `runInContext` threw because its watchdog fired. Read as an own data property of a native
 * error only: no getter or proxy trap of a value that came out of a realm runs on the host stack.
 */
export function isHostTimeout(e: unknown): boolean {
  if (!types.isNativeError(e) || types.isProxy(e)) return false;
  const d = Object.getOwnPropertyDescriptor(e, 'code');
  return d !== undefined && 'value' in d && d.value === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

/**
 * Every entry into a realm (a run's start, each delivery of tool results) is a `runInContext` call
 * under a deadline, and Node implements `timeout` with a new watchdog thread per call: about 0.1-0.3 ms
 * on a small machine, with multi-millisecond tails when the thread is scheduled late. When many runs need
 * an entry in the same tick (a busy server), they are entered one after another inside a single outer
 * `runInContext` whose timeout is the earliest deadline among them: inner entries without a timeout of
 * their own are still stopped by the outer watchdog, so every moment of script execution stays under a
 * deadline. If the watchdog fires, the entry that was running is cut off (its run ends as TIMEOUT and its
 * realm is discarded) and the entries that had not run yet are queued again. Grouping only entries whose
 * deadlines are within BATCH_SPREAD_MS of each other bounds how much earlier than its own deadline an
 * entry that runs continuously can be stopped.
 */
class EntryScheduler {
  readonly #queue: Entry[] = [];
  #flushQueued = false;
  #group: Entry[] = [];
  #outcomes: ('returned' | 'failed' | undefined)[] = [];
  #index = 0;
  /** Made on first use: a context costs a cold start about a millisecond, and one run at a time never needs it. */
  #supervisor: { context: vm.Context; script: vm.Script } | undefined;

  /** Whether realm entries are waiting for this turn's flush (idle-time work waits for them). */
  get pending(): boolean {
    return this.#flushQueued;
  }

  enter(target: EntryTarget, script: vm.Script): void {
    this.#queue.push({ target, script });
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    // Node drains microtasks after every timer and immediate callback, so a microtask flush would see
    // one entry at a time on a busy server; the next check phase sees everything that became due in
    // this turn of the event loop.
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    const live = this.#queue.splice(0).filter((e) => !e.target.settled);
    live.sort((a, b) => a.target.deadline - b.target.deadline);
    while (live.length > 0) {
      const first = live[0] as Entry;
      const limit = first.target.deadline + BATCH_SPREAD_MS;
      let n = 1;
      while (n < live.length && n < MAX_BATCH && (live[n] as Entry).target.deadline <= limit) n++;
      const group = live.splice(0, n);
      if (!entryMode.watchdog || group.length === 1 || first.target.deadline - performance.now() <= 0) {
        for (const e of group) e.target.enterAlone(e.script);
        continue;
      }
      const leftover = this.#supervise(group);
      if (leftover.length > 0) live.unshift(...leftover);
    }
  }

  /** Runs a group under one watchdog; returns the entries that did not get to run. */
  #supervise(group: Entry[]): Entry[] {
    this.#group = group;
    this.#outcomes = Array.from({ length: group.length }, () => undefined);
    this.#index = 0;
    // A private context that runs only this host function: no script code ever runs in it.
    this.#supervisor ??= { context: vm.createContext({ superviseBatch: () => this.#runGroup() }), script: new vm.Script('superviseBatch()', { filename: 'enclave:supervisor' }) };
    const remaining = (group[0] as Entry).target.deadline - performance.now();
    let timedOut = false;
    let crashed = false;
    try {
      this.#supervisor.script.runInContext(this.#supervisor.context, { timeout: Math.max(1, Math.ceil(remaining)) });
    } catch (e) {
      if (isHostTimeout(e)) timedOut = true;
      else crashed = true;
    }
    const outcomes = this.#outcomes;
    const stoppedAt = this.#index;
    this.#group = [];
    const leftover: Entry[] = [];
    for (let i = 0; i < group.length; i++) {
      const entry = group[i] as Entry;
      const outcome = outcomes[i];
      if (outcome !== undefined) entry.target.afterEntry(outcome);
      else if (i === stoppedAt && (timedOut || crashed)) entry.target.afterEntry(timedOut ? 'timeout' : 'failed');
      else leftover.push(entry);
    }
    return leftover;
  }

  #runGroup(): void {
    for (; this.#index < this.#group.length; this.#index++) {
      const entry = this.#group[this.#index] as Entry;
      if (entry.target.settled) {
        this.#outcomes[this.#index] = 'returned';
        continue;
      }
      this.#outcomes[this.#index] = entry.target.enterUnderSupervisor(entry.script);
    }
  }
}

export const entryScheduler = new EntryScheduler();
