import type vm from 'node:vm';
import type { EntryOutcome } from './deadline.js';
import { underDeadline } from './deadline.js';
import { hostTracksAsyncContext } from './async-context.js';

/** What the scheduler needs from a run to enter its realm. */
export interface EntryTarget {
  /** `performance.now()` value at which the run's deadline passes. */
  readonly deadline: number;
  readonly settled: boolean;
  /** Enters the realm with no deadline of its own: only ever called under the group's deadline. */
  enterUnderSupervisor(script: vm.Script): 'returned' | 'failed';
  /** Enters the realm under a deadline of its own, then settles what the entry reported. */
  enterAlone(script: vm.Script): void;
  /** Settles what an entry made under the group's deadline reported (called outside any realm entry). */
  afterEntry(outcome: EntryOutcome): void;
}

/**
 * How realm entries are bounded in this thread. In the host every entry runs under a deadline V8
 * enforces (deadline.ts). Inside a worker of the worker_threads adapter the host's `worker.terminate()`
 * is the hard halt instead, so entries run without a deadline of their own and tell the host, through
 * `onEnter`/`onLeave`, whether script code is running right now.
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

/** Entries whose deadlines lie within this many ms of the earliest share one deadline. */
const BATCH_SPREAD_MS = 50;
const MAX_BATCH = 256;

/**
 * Every entry into a realm (a run's start, each delivery of tool results) runs under a deadline that V8
 * enforces (deadline.ts: the inspector's evaluate with a timeout, or Node's watchdog thread where that
 * cannot be had). When many runs need an entry in the same tick (a busy server), they are entered one
 * after another under a single deadline, the earliest among them: inner entries without a deadline of
 * their own are still stopped by the outer one, so every moment of script execution stays under a
 * deadline, and the group pays for one timed call instead of one each. If the deadline passes, the entry
 * that was running is cut off (its run ends as TIMEOUT and its realm is discarded) and the entries that
 * had not run yet are queued again. Grouping only entries whose deadlines are within BATCH_SPREAD_MS of
 * each other bounds how much earlier than its own deadline an entry that runs continuously can be stopped.
 */
class EntryScheduler {
  readonly #queue: Entry[] = [];
  #flushQueued = false;
  #group: Entry[] = [];
  #outcomes: ('returned' | 'failed' | undefined)[] = [];
  #index = 0;

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
      // A host that began to track async context since these runs started: each entry alone, which ends
      // its run unentered (see realm-run.ts). Asked here, outside the group's deadline: the question runs
      // the host's hooks, which a deadline must never cut in half.
      if (!entryMode.watchdog || group.length === 1 || first.target.deadline - performance.now() <= 0 || hostTracksAsyncContext()) {
        for (const e of group) e.target.enterAlone(e.script);
        continue;
      }
      const leftover = this.#supervise(group);
      if (leftover.length > 0) live.unshift(...leftover);
    }
  }

  /** Runs a group under one deadline; returns the entries that did not get to run. */
  #supervise(group: Entry[]): Entry[] {
    this.#group = group;
    this.#outcomes = Array.from({ length: group.length }, () => undefined);
    this.#index = 0;
    const ended = underDeadline((group[0] as Entry).target.deadline - performance.now(), () => this.#runGroup());
    const outcomes = this.#outcomes;
    const stoppedAt = this.#index;
    this.#group = [];
    const leftover: Entry[] = [];
    for (let i = 0; i < group.length; i++) {
      const entry = group[i] as Entry;
      const outcome = outcomes[i];
      if (outcome !== undefined) entry.target.afterEntry(outcome);
      else if (i === stoppedAt && ended !== 'returned') entry.target.afterEntry(ended);
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
