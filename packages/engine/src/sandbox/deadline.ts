import type { Session } from 'node:inspector';
import vm from 'node:vm';
import { types } from '../node-types.js';

/** How a stretch of host code that enters a realm ended. */
export type EntryOutcome = 'returned' | 'failed' | 'timeout';

/*
 * Every realm entry in `vm` mode runs under a deadline that V8 itself enforces: `TerminateExecution`,
 * which no script can catch. Node offers it as `runInContext({ timeout })`, which starts a watchdog thread
 * for the call and joins it afterwards: 50-300 µs on a small machine, with tails of milliseconds when the
 * new thread is scheduled late, once per entry (a run's start and every tool result it waits for).
 *
 * The inspector offers the same halt without a thread per call. `Runtime.evaluate` with a `timeout`, sent
 * through a session of this thread, is dispatched synchronously: V8 posts one delayed task to Node's
 * platform worker threads (they already exist), evaluates, and when the evaluation ends marks the task
 * cancelled under a lock and clears a termination that came too late. So the task never stops anything
 * after the entry: the host's own code after it cannot be cut off. The expression is evaluated in a
 * private context of ours whose one global calls back into this module, which enters the realm (no
 * script ever sees that context; the host's globals get nothing). About 20 µs a call here (p99 60-120
 * µs) against 50 µs (p99 4 ms) for Node's watchdog.
 *
 * A cancelled task stays queued until its time comes (about 400 bytes), so at most MAX_ARMED may be
 * outstanding; past that, and wherever the inspector cannot be had (Node built without it; off the main
 * thread, where V8's cancel would also clear a `worker.terminate()` that came during an entry), entries use
 * Node's watchdog as before. The session is opened once the first run has ended, outside any entry (see
 * realm-run.ts on host code inside entries), and used only if a probe shows it answers synchronously.
 */
const MAX_ARMED = 20_000;
/** How long the probe's body may spin before the inspector's deadline counts as not working. */
const PROBE_SPIN_MS = 500;
/**
 * A probe whose 1 ms deadline did not halt the spin in time missed it on a busy machine more likely than
 * on a broken one (V8's platform thread was not scheduled): tried again this many times, this far apart,
 * so that a process that started under load does not keep Node's watchdog for good.
 */
const PROBE_RETRIES = 3;
const PROBE_RETRY_MS = 30_000;
/** Bumped whenever the mechanism is set outright (tests): a retry scheduled before then is dropped. */
let generation = 0;
/** Tests only: the next `n` probes report a miss without spinning. */
let forcedMisses = 0;

/** This thread's session and the private context it evaluates in; null: Node's watchdog only. */
let inspector: { session: Session; context: number } | null | undefined;
let body: (() => void) | null = null;
/** What the hook saw of the body: 0 not started, 1 running, 2 returned, 3 threw. */
let state = 0;
let depth = 0;

function hook(): void {
  const run = body;
  if (run === null) return;
  body = null;
  state = 1;
  try {
    run();
    state = 2;
  } catch {
    state = 3;
  }
}

/**
 * The private context: its only code is `enter()`, which runs the hook. Its name is this module's own,
 * so that a second copy of the engine in the process (another bundle) finds its own context (a name,
 * not a secret: nothing a script can reach depends on it).
 */
const CONTEXT_NAME = `enclave:deadline:${Math.random().toString(36).slice(2)}`;
let privateContext: { context: vm.Context; script: vm.Script } | undefined;
function ownContext(): { context: vm.Context; script: vm.Script } {
  privateContext ??= {
    context: vm.createContext({ enter: hook }, { name: CONTEXT_NAME, codeGeneration: { strings: false, wasm: false } }),
    script: new vm.Script('enter()', { filename: 'enclave:deadline' }),
  };
  return privateContext;
}

/** Expiry second -> tasks armed to fire then: what may still be queued in V8's platform. */
const armed = new Map<number, number>();
let armedCount = 0;
let prunedAt = -Infinity;

function arm(ms: number): boolean {
  const now = performance.now();
  if (now - prunedAt >= 1000 || armedCount >= MAX_ARMED) {
    prunedAt = now;
    const second = Math.floor(now / 1000);
    for (const [at, n] of armed) {
      if (at <= second) {
        armedCount -= n;
        armed.delete(at);
      }
    }
  }
  if (armedCount >= MAX_ARMED) return false;
  const at = Math.ceil((now + ms) / 1000);
  armed.set(at, (armed.get(at) ?? 0) + 1);
  armedCount++;
  return true;
}

/** Whether the inspector answered an evaluation with V8's termination (its deadline passed). */
function terminated(e: Error | null): boolean {
  return e !== null && /terminated/i.test(e.message);
}

/** Runs the body through the inspector; false when it did not run it (then nothing ran). */
function evaluate(ms: number, run: () => void): EntryOutcome | false {
  const { session, context } = inspector as { session: Session; context: number };
  const answer: { error: Error | null } = { error: null };
  body = run;
  state = 0;
  try {
    session.post('Runtime.evaluate', { expression: 'enter()', contextId: context, timeout: ms, silent: true }, (e) => {
      answer.error = e;
    });
  } catch {
    // The session refused the message: only what the hook saw says more.
  }
  body = null;
  if (state === 2) return 'returned';
  if (state === 3) return 'failed';
  if (state === 1) return 'timeout';
  // Cut off before the hook ran (the deadline was that near), or the inspector stopped answering as the
  // probe did: from now on, Node's watchdog.
  if (terminated(answer.error)) return 'timeout';
  inspector = null;
  return false;
}

/**
 * Runs `run` (host code that enters a realm) so that V8 halts whatever runs inside it `ms` milliseconds
 * from now: 'timeout' then, 'failed' if it threw, else 'returned'. A call inside another runs under the
 * outer one's deadline.
 */
export function underDeadline(ms: number, run: () => void): EntryOutcome {
  return timed(ms, run, null);
}

/** One realm entry, `script` in `context`, under a deadline `ms` milliseconds from now (see underDeadline). */
export function enterUnderDeadline(ms: number, script: vm.Script, context: vm.Context): EntryOutcome {
  return timed(ms, () => script.runInContext(context), { script, context });
}

function timed(ms: number, run: () => void, direct: { script: vm.Script; context: vm.Context } | null): EntryOutcome {
  if (depth > 0) {
    try {
      run();
      return 'returned';
    } catch {
      return 'failed';
    }
  }
  const timeout = Math.max(1, Math.ceil(ms));
  depth++;
  try {
    if (inspector && arm(timeout)) {
      const outcome = evaluate(timeout, run);
      if (outcome !== false) return outcome;
    }
    // Node's watchdog: the entry itself when there is one script to enter, else the private context.
    try {
      if (direct !== null) {
        direct.script.runInContext(direct.context, { timeout });
        return 'returned';
      }
      const own = ownContext();
      body = run;
      state = 0;
      own.script.runInContext(own.context, { timeout });
      return state === 2 ? 'returned' : 'failed';
    } catch (e) {
      return isHostTimeout(e) ? 'timeout' : 'failed';
    } finally {
      body = null;
    }
  } finally {
    depth--;
  }
}

/** Which mechanism bounds this thread's entries now (for tests and diagnostics). */
export function deadlineMechanism(): 'inspector' | 'watchdog' {
  return inspector ? 'inspector' : 'watchdog';
}

/**
 * Tests only: opens the inspector now (outside any entry) or goes back to Node's watchdog. Returns the
 * mechanism in use afterwards.
 */
export function useInspectorDeadlines(on: boolean): 'inspector' | 'watchdog' {
  generation++;
  if (inspector) inspector.session.disconnect();
  const opened = on && onMainThread() ? openInspector() : null;
  inspector = opened === 'missed' ? null : opened;
  return deadlineMechanism();
}

/** Tests only: the next `n` probes of this copy of the module miss, as on a machine too busy to run them. */
export function missNextProbes(n: number): void {
  forcedMisses = n;
}

/**
 * Called when a run has ended, outside any entry: the first time, opens this thread's session a turn
 * later, off the way of whatever the caller does next (which thread this is, too, is asked then).
 */
export function prepareDeadlines(): void {
  if (inspector !== undefined) return;
  inspector = null;
  const mine = generation;
  setImmediate(() => {
    if (onMainThread()) tryOpen(mine, PROBE_RETRIES);
  }).unref();
}

/** Opens this thread's session, between entries (from a timer); a probe that missed is tried again later. */
function tryOpen(mine: number, retries: number): void {
  if (mine !== generation) return;
  const opened = openInspector();
  if (opened !== 'missed') inspector = opened;
  else if (retries > 0) setTimeout(() => tryOpen(mine, retries - 1), PROBE_RETRY_MS).unref();
}

/**
 * Read when first needed, not imported: node:worker_threads loads Node's worker plumbing (streams, message
 * ports), a millisecond or more of every cold start that a `vm` host never uses.
 */
function onMainThread(): boolean {
  return (process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
}

/** The session, or 'missed' when only the probe's deadline came late (worth another try), or null. */
function openInspector(): { session: Session; context: number } | 'missed' | null {
  let session: Session | undefined;
  try {
    const { Session: SessionClass } = process.getBuiltinModule('node:inspector') as typeof import('node:inspector');
    session = new SessionClass();
    session.connect();
    ownContext();
    // The private context's id: reported to a session once its Runtime domain is enabled, which is all
    // that domain is needed for (evaluating in a known context works with it disabled). The numeric id,
    // not `uniqueId`: ids are handed out once per process (only ids of other processes can repeat,
    // which `uniqueId` is for), and the message that carries a number instead of a 40-character string
    // costs Node's protocol parser and V8's about 10K instructions less per entry.
    let context: number | undefined;
    session.on('Runtime.executionContextCreated', (m) => {
      const c = (m.params as { context?: { name?: unknown; id?: unknown } }).context;
      if (c?.name === CONTEXT_NAME && typeof c.id === 'number') context = c.id;
    });
    session.post('Runtime.enable');
    session.post('Runtime.disable');
    session.removeAllListeners('Runtime.executionContextCreated');
    if (context === undefined) throw new Error('no context id');
    // The probe: the call is answered before post() returns and runs the hook; and the deadline halts
    // code that runs past it (host code here, spinning for at most PROBE_SPIN_MS against a 1 ms timeout).
    let ran = false;
    body = () => {
      ran = true;
    };
    let answered = false;
    session.post('Runtime.evaluate', { expression: 'enter()', contextId: context, timeout: 60_000, silent: true }, (e) => {
      answered = e === null;
    });
    let spun = false;
    const miss = forcedMisses > 0;
    if (miss) forcedMisses--;
    body = () => {
      const until = performance.now() + (miss ? 0 : PROBE_SPIN_MS);
      while (performance.now() < until);
      spun = true;
    };
    state = 0;
    let cut = false;
    session.post('Runtime.evaluate', { expression: 'enter()', contextId: context, timeout: miss ? 60_000 : 1, silent: true }, (e) => {
      cut = terminated(e);
    });
    body = null;
    if (ran && answered && state === 1 && !spun) return { session, context };
    session.disconnect();
    // It answered and ran the hook, but its deadline did not halt the spin in time, or halted the call
    // before the hook could run (1 ms passed first): a busy machine, most likely, either way.
    return ran && answered && (spun || (state === 0 && cut)) ? 'missed' : null;
  } catch {
    body = null;
    session?.disconnect();
    return null;
  }
}

/**
 * Whether `runInContext` threw because its watchdog fired. Read as an own data property of a native
 * error only: no getter or proxy trap of a value that came out of a realm runs on the host stack.
 */
function isHostTimeout(e: unknown): boolean {
  if (!types.isNativeError(e) || types.isProxy(e)) return false;
  const d = Object.getOwnPropertyDescriptor(e, 'code');
  return d !== undefined && 'value' in d && d.value === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}
