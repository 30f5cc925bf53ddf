import { AsyncResource } from './node-types.js';

/**
 * Work a process can put off until no run is in flight: set-ups that make later runs cheaper but that
 * the run which first needs them should not pay for. A timer turn is not enough on its own: a run
 * spans several turns (its realm is built a turn at a time, it awaits its tools), so a task set for the
 * next turn by a process's first check landed inside that first run. On Node 22 and 24 that was oxc's
 * raw-transfer set-up, about a third of the cold start's first run.
 */

/** Runs in flight in this process, over every Enclave. */
let running = 0;
const tasks: (() => void)[] = [];
/** A timer is set for the tasks (one at a time). */
let armed = false;

/**
 * Longest a task waits for a turn with no run in flight: a server that always has a run in flight
 * still gets the set-up, paid by whatever runs are in flight then, as before.
 */
const MAX_WAIT_MS = 1_000;

/**
 * The async context this module was loaded in, where the tasks and their timers run. A timer keeps the
 * context it was set in, so a task set up during a request would otherwise keep that request's
 * AsyncLocalStorage store, and whatever it held, alive for as long as the task or what it starts lives.
 */
const home = new AsyncResource('enclave.idle');

/** Called when a run starts; `runEnded` must follow, whatever the outcome. */
export function runStarted(): void {
  running++;
}

export function runEnded(): void {
  running--;
  if (running === 0 && tasks.length > 0) home.runInAsyncScope(arm, undefined, 0);
}

/**
 * Runs `task` in a timer turn of its own once no run is in flight, or after `MAX_WAIT_MS` at the latest.
 * The timers do not keep a process alive.
 */
export function whenIdle(task: () => void): void {
  tasks.push(task);
  home.runInAsyncScope(arm, undefined, 0);
  home.runInAsyncScope(() => setTimeout(flush, MAX_WAIT_MS, true).unref());
}

function arm(delay: number): void {
  if (armed) return;
  armed = true;
  setTimeout(flush, delay, false).unref();
}

function flush(force: boolean): void {
  if (!force) armed = false;
  // A run started since: its end sets the timer again.
  if (running > 0 && !force) return;
  for (const task of tasks.splice(0)) {
    // What is put off only makes later work cheaper: a failure must not end the host's process.
    try {
      task();
    } catch {
      // Nothing to do: the work it would have done is done the slower way.
    }
  }
}
