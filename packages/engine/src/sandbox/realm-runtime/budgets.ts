/**
 * Per-run state and the budgets the realm enforces itself: iterations (loops and callbacks counted by
 * the rewritten code, bulk work counted here), call depth, memory, tool calls, output. A budget error is
 * fatal: it is reported to the host at once, it is frozen, and every later guard rethrows it, so a
 * script cannot catch it and go on.
 */
import type { DoneReport, RealmFailureCode, RealmLimits } from '../realm-abi.js';
import { MAX_STRING_CHARS, heapStep } from '../realm-abi.js';
import type { PositionMap } from '../../positions.js';
import { hostDone, hostHeap } from './host.js';
import { ErrorCtor, MapCtor, MathObject, apply, dateNow, defineProperty, freeze, isArray, jsonStringify, mathRandom } from './primordials.js';

export interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  name: string;
  /** Frames captured at the call, formatted only if the failure goes unhandled. */
  site: object | null;
  /** The call's place in the user's source, when the rewriter gave it (see Guards.cs): no frames are captured then. */
  place: [line: number, column: number] | null;
}

export interface Run {
  readonly id: number;
  /** Non-deterministic values come from the host (see RunConfig.durable). */
  readonly durable: boolean;
  /** The state of the run's own `Math.random()` (xoshiro128**), four unsigned 32-bit integers. */
  readonly rng: number[];
  readonly limits: RealmLimits;
  /**
   * Characters a single string may have (the memory limit in units, at most MAX_STRING_CHARS), and
   * elements a single array (the memory limit in units).
   */
  readonly maxChars: number;
  readonly maxElements: number;
  /**
   * Bytes the bulk builtins have charged so far, and the total at which the next heap check comes:
   * many small allocations, each below HEAP_CHECK_UNITS, add up to a heap check too.
   */
  charged: number;
  checkAt: number;
  /** When the heap was last checked (Date.now), for the copies no one measures (see copied). */
  checkedAt: number;
  /**
   * Iterations from one loop checkpoint to the next: 1 at the start and whenever a heap check finds fast
   * growth, doubled at every calm check up to the fixed spacing (see Guards.f).
   */
  spacing: number;
  /**
   * When the last checkpoint ran (Date.now; reset when an entry starts), and the run's iterations then:
   * what a stretch between two checkpoints took, to keep the next stretch short in time too (see
   * PACE_MS in run.ts).
   */
  pacedAt: number;
  pacedIterations: number;
  /**
   * The runtime's count (`bulk`) at which the next light-loop turn that asks for a grant runs a checkpoint
   * (see Guards.g); -1 makes the next one run it.
   */
  loopAt: number;
  toolCalls: number;
  /** Iterations counted by the runtime itself (bulk work, callbacks of wrapped builtins). */
  bulk: number;
  logBytes: number;
  logEntries: number;
  fatal: { code: RealmFailureCode; name: string; message: string; error: Error } | null;
  /** Set when the run ended: detached work stops at its next guard. */
  over: boolean;
  finished: boolean;
  overError: Error | null;
  /** Whether the script carries the budget guards (iteration and depth limits); see Guards. */
  budgets: boolean;
  /** Source texts of the last keys evaluated on callee paths (see Guards.mc), oldest first. */
  readonly calleeTexts: string[];
  /** The factory's counters, bound when the factory runs. */
  getN: (() => number) | null;
  setL: ((limit: number) => void) | null;
  getD: (() => number) | null;
  readonly pending: Map<number, PendingCall>;
  /** The run's own `Symbol.for` registry (see lockdown's installSymbolRegistry), made on first use. */
  symbols: { byKey: Map<string, symbol>; bySymbol: Map<symbol, string> } | null;
  nextCallId: number;
  /**
   * What puts the run's stack frames in the user's source (see positions.ts): asked of the host when the
   * run first formats a stack (undefined until then), null when the host has none.
   */
  positions: PositionMap | null | undefined;
  /** The value the script's last `throw` statement threw, and where that statement stands (see Guards.th). */
  thrown: unknown;
  thrownAt: [line: number, column: number] | null;
  /** The place `cs` gave for the `callTool` call about to start (see Guards.cs), or a line of -1. */
  siteLine: number;
  siteColumn: number;
}

/** A seed the host sent (four unsigned 32-bit integers, not all zero), or one from the realm's own generator. */
function rngState(seed: unknown): number[] {
  const s = isArray(seed) && seed.length === 4 ? (seed as unknown[]) : [];
  const word = (v: unknown) => (typeof v === 'number' && v === v >>> 0 ? v : ((apply(mathRandom, MathObject, []) as number) * 0x100000000) >>> 0);
  const state = [word(s[0]), word(s[1]), word(s[2]), word(s[3])];
  // xoshiro's one state that never leaves itself.
  if ((state[0] as number) === 0 && (state[1] as number) === 0 && (state[2] as number) === 0 && (state[3] as number) === 0) state[0] = 1;
  return state;
}

export function newRun(id: number, limits: RealmLimits, durable = false, seed?: unknown): Run {
  return {
    id,
    durable,
    rng: rngState(seed),
    limits,
    maxChars: limits.memoryLimit / 2 < MAX_STRING_CHARS ? limits.memoryLimit / 2 : MAX_STRING_CHARS,
    maxElements: limits.memoryLimit / 8,
    charged: 0,
    checkAt: heapStep(limits.memoryLimit),
    checkedAt: 0,
    spacing: 1,
    pacedAt: dateNow(),
    pacedIterations: 0,
    loopAt: 1,
    toolCalls: 0,
    bulk: 0,
    logBytes: 0,
    logEntries: 0,
    fatal: null,
    over: false,
    finished: false,
    overError: null,
    budgets: true,
    calleeTexts: [],
    getN: null,
    setL: null,
    getD: null,
    pending: new MapCtor(),
    symbols: null,
    nextCallId: 0,
    positions: undefined,
    thrown: undefined,
    thrownAt: null,
    siteLine: -1,
    siteColumn: 0,
  };
}

/** The run whose code is executing now (one at a time per realm), or null between runs. */
export let current: Run | null = null;

export function setCurrent(run: Run | null): void {
  current = run;
}

/** Iterations so far: the factory's counter plus the runtime's own. */
export function iterations(run: Run): number {
  return (run.getN === null ? 0 : run.getN()) + run.bulk;
}

export function limitError(name: string, message: string): Error {
  const e = new ErrorCtor(message);
  defineProperty(e, 'name', { value: name, writable: false, enumerable: false, configurable: false });
  return freeze(e);
}

/** Ends the run with a budget error: reported to the host now, rethrown by every later guard. */
export function fatal(run: Run, code: RealmFailureCode, name: string, message: string): never {
  if (run.fatal === null) {
    run.fatal = { code, name, message, error: limitError(name, message) };
    if (run.setL !== null) run.setL(-1);
    const report: DoneReport = { kind: 'limit', code, name, message, iterations: iterations(run), toolCalls: run.toolCalls };
    hostDone(run.id, jsonStringify(report), '');
  }
  throw run.fatal.error;
}

export function checkAlive(run: Run): void {
  if (run.fatal !== null) throw run.fatal.error;
  if (run.over) {
    if (run.setL !== null) run.setL(-1);
    if (run.overError === null) run.overError = limitError('RunEndedError', 'The run has ended; detached work does not continue.');
    throw run.overError;
  }
}

/** Checks the heap; true if it grew by more than a heap step since the previous check. */
export function checkMemory(run: Run): boolean {
  run.checkedAt = dateNow();
  const over = hostHeap(run.id, iterations(run));
  if (over === 1) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', `Memory limit exceeded: the script allocated more than ${run.limits.memoryLimit} bytes.`);
  if (over === 2) fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', 'Memory limit exceeded: the sandbox heap is as full as a run may make it.');
  run.checkAt = run.charged + heapStep(run.limits.memoryLimit);
  if (over !== 3) return false;
  // Fast growth: the next loop turn checks again, and so does every turn after it until growth slows.
  run.spacing = 1;
  run.loopAt = -1;
  if (run.setL !== null && run.getN !== null) run.setL(run.getN());
  return true;
}

/**
 * Before a native copies an object's own properties (an object spread or rest, `Object.assign`): how
 * many there are is not known without walking them, and a copy of a large object in a light loop body
 * could repeat thousands of times between two loop checkpoints (an `Object.entries` of 3e5 keys per turn
 * aborted a 300 MB host). So the heap is checked here when it was not checked for a millisecond: what
 * grows between two checks is what a millisecond of copying makes, plus one copy.
 */
export function copied(run: Run | null): void {
  if (run !== null && dateNow() - run.checkedAt >= 1) {
    checkAlive(run);
    checkMemory(run);
  }
}

/** Above this many units a bulk operation checks the heap at once, whatever was charged before it. */
export const HEAP_CHECK_UNITS = 65_536;

function chargeBytes(run: Run, count: number, bytes: number): void {
  run.charged += bytes;
  if (count > HEAP_CHECK_UNITS || run.charged > run.checkAt) checkMemory(run);
}

/** Charges a bulk allocation of `count` elements (8 bytes each) before it happens. */
export function chargeElements(count: number): void {
  const run = current;
  if (run === null) return;
  checkAlive(run);
  if (!(count <= run.maxElements)) {
    fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', `Memory limit exceeded: this operation needs about ${count * 8} bytes (${count} elements), more than the ${run.limits.memoryLimit}-byte limit.`);
  }
  chargeBytes(run, count, count * 8);
}

/** Charges a string of `count` characters (2 bytes each) before it is built. */
export function chargeChars(count: number): void {
  const run = current;
  if (run === null) return;
  checkAlive(run);
  if (!(count <= run.maxChars)) {
    if (count * 2 <= run.limits.memoryLimit) {
      fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', `Memory limit exceeded: this operation builds a string of about ${count} characters, more than the ${MAX_STRING_CHARS} one string may have (V8 reads a string in steps that cannot be interrupted).`);
    }
    fatal(run, 'MEMORY_LIMIT_EXCEEDED', 'MemoryLimitError', `Memory limit exceeded: this operation builds a string of about ${count} characters (${count * 2} bytes), more than the ${run.limits.memoryLimit}-byte limit.`);
  }
  chargeBytes(run, count, count * 2);
}

/** Counts one unit of the runtime's own iteration (a callback, a visited array). */
export function tick(run: Run | null): void {
  if (run === null) return;
  run.bulk++;
  if (run.bulk > run.limits.maxIterations) fatal(run, 'MAX_ITERATIONS', 'IterationLimitError', `Iteration limit of ${run.limits.maxIterations} exceeded.`);
}

/**
 * Elements a native may walk in one call before the walk is charged to the iteration budget (see
 * chargeWork), and characters that make one element's worth of work for the natives that walk strings.
 */
export const WORK_FREE = 1024;
export const CHARS_PER_UNIT = 16;

/**
 * Charges the iteration budget for `n` elements that one native call walks, copies or converts with no
 * script code between them (`join`, `slice`, `indexOf`, `union` copying its receiver, a key listing, a
 * parse), one iteration each, as `new Set(x)` and `sort` are charged. Up to WORK_FREE it is free, so that
 * the small calls of ordinary scripts cost what they did; past it, a loop that repeats a cheap-to-call
 * native over a large input ends at MAX_ITERATIONS instead of running to the deadline (3,000 `union`s of
 * a set of 1e5 or `join`s of an array of 1e5 counted about 1e5 iterations in 30 s, Node 24).
 */
export function chargeWork(n: number): void {
  if (!(n > WORK_FREE)) return;
  const run = current;
  if (run === null) return;
  checkAlive(run);
  const max = run.limits.maxIterations;
  // An element count past the budget (an array-like's length of 2^53) ends the run without a count that JSON cannot write.
  run.bulk += n > max ? max + 1 : n - (n % 1);
  if (run.bulk > max) fatal(run, 'MAX_ITERATIONS', 'IterationLimitError', `Iteration limit of ${max} exceeded.`);
}

/** Charges a native's walk over `chars` characters (see chargeWork): one iteration per CHARS_PER_UNIT. */
export function chargeCharWork(chars: number): void {
  if (chars > WORK_FREE * CHARS_PER_UNIT) chargeWork(chars / CHARS_PER_UNIT);
}

/**
 * Steps of a script's iterator between two heap checks. A native that walks an iterator whose `next` is
 * itself a builtin (`{ next: Object }`) runs no script code, so no checkpoint, from one step to the next.
 */
const STEPS_PER_CHECK = 1024;

/**
 * Counts the `n`th step of a native's walk over something the script supplied (an iterator, a RegExp's
 * `exec`): the iteration budget, and a heap check now and then.
 */
export function countStep(run: Run | null, n: number): void {
  if (run === null) return;
  if (n > run.maxElements) chargeElements(n);
  tick(run);
  if ((n & (STEPS_PER_CHECK - 1)) === 0) checkMemory(run);
}
