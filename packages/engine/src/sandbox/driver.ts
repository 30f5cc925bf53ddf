/**
 * The host-side run driver: the one place that owns a run's lifecycle, whatever executes it. It starts
 * the run on an isolation, enforces the deadline and the caller's abort, counts tool calls and runs them
 * on the host, collects logs, and turns the realm's report into the run's outcome, exactly once.
 * What comes back from an isolation is untrusted input (a worker, or a realm that a script controls):
 * it is checked against its documented shape and sizes before it is believed.
 */
import type { ErrorCode } from '../errors.js';
import { ErrorCode as CODES } from '../errors.js';
import { failure } from '../result.js';
import { LineIndex, elapsedMs } from '../source.js';
import { Abort, runEndReason } from '../abort.js';
import type { ExecutionError, ExecutionStats, LogEntry, PausedRun } from '../types.js';
import type { EntryEnd, EntryOutput, IsolatedJob, IsolatedRun, Isolation, IsolationFailureCode } from './isolation.js';
import type { DoneReport, NdValue, RealmFailureCode, ToolReply } from './realm-abi.js';
import { hostCodec } from '../sanitize/codec.js';
import { describeToolError } from '../tools/redact.js';
import { syntaxLocation } from '../ast/parse.js';
import { AsyncResource } from '../node-types.js';

/**
 * How a run ended, before its value is copied out: a successful run's value is still the realm codec's
 * text (the sanitize stage decodes it), everything else is final.
 */
export type RunOutcome = ({ success: true; valueText: string } | { success: false; error: ExecutionError; paused?: PausedRun }) & {
  stats: ExecutionStats;
  logs?: LogEntry[];
};

/** One tool call as the host runs it. */
export interface DriverToolCall {
  name: string;
  /** The arguments as the realm codec's text. */
  argsText: string;
  /** 1-based index of the call within its run. */
  callIndex: number;
  /** Set when the run ends: a tool's `ctx.signal` follows it. */
  runEnd: Abort;
}

export interface DriverPlan {
  job: IsolatedJob;
  /** `performance.now()` when `run()` was called: durations and the deadline count from here. */
  startedAt: number;
  /** The run's deadline in ms (the job's `deadline` is `startedAt + timeout`). */
  timeout: number;
  /** Maps V8's (line, column) in the rewritten script to the user's source. */
  mapPosition: (line: number, column: number) => { line: number; column: number } | undefined;
  /** Runs one tool call on the host; never rejects. */
  invokeTool: (call: DriverToolCall) => Promise<ToolReply>;
  signal?: AbortSignal | undefined;
  /** Each captured console line as it arrives (after the realm entry that logged it). */
  onLog?: ((entry: LogEntry) => void) | undefined;
  /** A durable run's journal (see ../durable.ts); the job then has `replayNd`. */
  journal?: DriverJournal | undefined;
}

/**
 * What the driver asks of a durable run's journal: it is told the values the script took from
 * non-deterministic sources (before the entry's tool calls, which go through `invokeTool`), and it may
 * end the run itself: a pause for an approval, a replay that left the recorded path, a journal limit.
 */
export interface DriverJournal {
  record(values: NdValue[]): void;
  /** Settles when the journal ends the run, with how it ends. */
  readonly stopped: Promise<Pick<ExecutionError, 'code' | 'name' | 'message' | 'data'>>;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(CODES));
const REALM_CODES: ReadonlySet<RealmFailureCode> = new Set<RealmFailureCode>(['MAX_ITERATIONS', 'MAX_TOOL_CALLS', 'MEMORY_LIMIT_EXCEEDED', 'OUTPUT_LIMIT_EXCEEDED', 'RUNTIME_ERROR']);
/** Longest name or message the host accepts from a realm (the realm cuts at 4,000 characters). */
const MAX_TEXT = 8_192;

/** Drives one run to its outcome. Never rejects. */
export function drive(isolation: Isolation, plan: DriverPlan, active: Set<RunDriver>): Promise<RunOutcome> {
  const driver = new RunDriver(plan, active);
  active.add(driver);
  return driver.start(isolation);
}

export class RunDriver {
  readonly #plan: DriverPlan;
  readonly #logs: LogEntry[] = [];
  /** Set when the run ends: every tool call's `ctx.signal` follows it (an `Abort` costs nothing until read). */
  readonly #toolsEnd = new Abort();
  #run: IsolatedRun | undefined;
  #settled = false;
  #resolve!: (r: RunOutcome) => void;
  #timer: NodeJS.Timeout | undefined;
  #onAbort: (() => void) | undefined;
  #toolCalls = 0;
  #iterations = 0;
  /** Values of non-deterministic sources the isolation reported for the run, in all. */
  #ndCount = 0;

  /** The runs in flight this one belongs to (the Enclave's): it leaves the set when it settles. */
  readonly #active: Set<RunDriver>;

  constructor(plan: DriverPlan, active: Set<RunDriver>) {
    this.#plan = plan;
    this.#active = active;
  }

  start(isolation: Isolation): Promise<RunOutcome> {
    const done = new Promise<RunOutcome>((resolve) => {
      this.#resolve = resolve;
    });
    const { signal, job } = this.#plan;
    // What an isolation reports arrives in whatever async context it was listening in: a worker's port or
    // a Redis connection made during some earlier request, a timer another run set; an abort, in the
    // context of whoever aborted. The run's tools, hooks and events run in the context of the caller of
    // run() instead, so that a tool reading the request's AsyncLocalStorage (its user, its trace) reads
    // this run's request, never another user's.
    const caller = new AsyncResource('enclave.run');
    if (signal) {
      this.#onAbort = () => caller.runInAsyncScope(this.abort, this, 'The run was aborted by the caller.');
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#timer = setTimeout(() => this.#finish(this.#timeout()), Math.max(0, job.deadline - performance.now()));
    this.#plan.journal?.stopped.then((e) => this.#finish(this.#failure(e.code, e.name, e.message, e.data === undefined ? undefined : { data: e.data })));
    try {
      this.#run = isolation.run(job, {
        entry: (output) => caller.runInAsyncScope(this.#entry, this, output),
        failed: (code, name, message) => caller.runInAsyncScope(this.#failed, this, code, name, message),
      });
    } catch {
      this.#finish(this.#failure('INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.'));
    }
    // The isolation may have ended the run while starting it (a compile error, a full queue).
    if (this.#settled) this.#run?.stop();
    return done;
  }

  /** Ends the run as ABORTED (the caller's signal, or the Enclave's disposal). */
  abort(message: string): void {
    if (!this.#settled) this.#progress();
    this.#finish(this.#failure('ABORTED', 'AbortError', message));
  }

  #entry(output: EntryOutput): void {
    if (this.#settled) return;
    // How far the run got, for an end the realm does not report itself (a deadline, an abort); a report
    // has the final count.
    if (output.iterations !== undefined) this.#iterations = count(output.iterations);
    const time = elapsedMs(this.#plan.startedAt);
    const { onLog } = this.#plan;
    for (const [level, message] of output.logs) {
      const entry: LogEntry = { level, message, time };
      this.#logs.push(entry);
      onLog?.(entry);
    }
    if (output.nd !== undefined) {
      // Their shape is checked where they cross (readEntry, for workers and runtime nodes); their number
      // here, for every isolation, as tool calls are: a realm refuses values past `maxNd` and reports
      // none outside a durable run, so more is a lie.
      const { journal, job } = this.#plan;
      this.#ndCount += output.nd.length;
      if (journal === undefined || this.#ndCount > (job.maxNd ?? Infinity)) {
        this.#finish(this.#failure('INTERNAL_ERROR', 'InternalError', 'The sandbox reported more values of the clock and Math.random() than the run allows.'));
        return;
      }
      journal.record(output.nd);
    }
    const { maxToolCalls } = this.#plan.job.limits;
    for (const [callId, name, argsText] of output.calls) {
      // The realm counts too and ends the run at its budget; the host's count is the one that holds.
      if (++this.#toolCalls > maxToolCalls) {
        this.#finish(this.#failure('MAX_TOOL_CALLS', 'ToolCallLimitError', `Tool-call limit of ${maxToolCalls} exceeded.`));
        return;
      }
      // A run that ends in this same entry starts no tool.
      if (output.end === null) void this.#call(callId, name, argsText, this.#toolCalls);
    }
    if (output.end !== null) this.#finish(this.#ended(output.end));
  }

  async #call(callId: number, name: string, argsText: string, callIndex: number): Promise<void> {
    // No tool starts once the deadline has passed, even if its timer has not fired yet.
    if (performance.now() >= this.#plan.job.deadline) return;
    let reply: ToolReply;
    try {
      reply = await this.#plan.invokeTool({ name, argsText, callIndex, runEnd: this.#toolsEnd });
    } catch {
      // invokeTool never rejects by design; should a hostile thrown value find a way, the script still
      // gets an answer (and the host no unhandled rejection).
      reply = [0, JSON.stringify(describeToolError(name, undefined))];
    }
    if (!this.#settled) this.#run?.deliver(callId, reply);
  }

  #failed(code: IsolationFailureCode, name: string, message: string): void {
    this.#finish(this.#failure(code, name, message));
  }

  #ended(end: EntryEnd): RunOutcome {
    switch (end.kind) {
      case 'report':
        try {
          return this.#fromReport(end.report, end.value);
        } catch {
          return this.#failure('INTERNAL_ERROR', 'InternalError', 'The result could not be read.');
        }
      case 'timeout':
        return this.#timeout();
      case 'syntax': {
        const { line, column } = syntaxLocation(end.at, this.#plan.mapPosition, this.#plan.job.positions?.().text);
        return this.#failure('VALIDATION_ERROR', 'ValidationError', `AgentScript rejected (1 problem):\nline ${line}:${column} [syntax] Syntax error: ${end.message}`, {
          location: { line, column },
          data: { ruleId: 'syntax', issues: [{ ruleId: 'syntax', message: `Syntax error: ${end.message}`, hint: 'Fix the syntax error.', line, column }] },
        });
      }
      case 'crashed':
      case 'stopped':
        return this.#failure('INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.');
    }
  }

  /** The realm's report, checked like any untrusted input and rebuilt from known fields only. */
  #fromReport(reportText: string, valueText: string): RunOutcome {
    const report = JSON.parse(reportText) as DoneReport;
    this.#iterations = count(report.iterations);
    this.#toolCalls = Math.max(this.#toolCalls, count(report.toolCalls));
    switch (report.kind) {
      case 'ok':
        if (typeof valueText !== 'string') break;
        return { success: true, valueText, stats: this.#stats() };
      case 'limit':
        if (!REALM_CODES.has(report.code)) break;
        return this.#failure(report.code, text(report.name), text(report.message));
      case 'threw': {
        const error: ExecutionError = { name: text(report.name), message: text(report.message), code: report.tool === null ? 'RUNTIME_ERROR' : 'TOOL_ERROR' };
        const loc = report.location;
        if (Array.isArray(loc) && typeof loc[0] === 'number' && typeof loc[1] === 'number') {
          const mapped = this.#plan.mapPosition(loc[0], loc[1]);
          if (mapped) error.location = mapped;
        }
        const at = report.thrownAt;
        if (error.location === undefined && Array.isArray(at) && isPosition(at[0]) && isPosition(at[1]) && this.#inSource(at[0], at[1])) error.location = { line: at[0], column: at[1] };
        const tool = report.tool;
        // A tool error's public data (e.g. `status`, `retryAfterMs`) is what the HTTP adapters map.
        if (tool !== null && typeof tool === 'object') {
          error.data = { ...publicToolData(tool.data), toolErrorCode: text(tool.code), ...(typeof tool.tool === 'string' ? { tool: text(tool.tool) } : {}) };
        }
        return { success: false, error, stats: this.#stats() };
      }
    }
    return this.#failure('INTERNAL_ERROR', 'InternalError', 'The result could not be read.');
  }

  #stats(): ExecutionStats {
    return { duration: elapsedMs(this.#plan.startedAt), toolCallCount: this.#toolCalls, iterationCount: this.#iterations };
  }

  #failure(code: ErrorCode, name: string, message: string, extra?: Pick<ExecutionError, 'location' | 'data'>): RunOutcome {
    return failure(code, name, message, this.#stats(), extra);
  }

  /**
   * Whether a place the realm reports in the user's own coordinates (a `throw` statement's) lies in the
   * user's text: one a lying worker or runtime node invents is left out, as a location the host maps
   * itself is kept within the text. A job without the text (no positions) is taken at its word.
   */
  #inSource(line: number, column: number): boolean {
    const user = this.#plan.job.positions?.().text;
    if (typeof user !== 'string') return true;
    const lines = new LineIndex(user);
    return line <= lines.lineCount && column <= lines.lineText(line).length + 1;
  }

  /** What the isolation can tell of the run's count while its thread is busy (see IsolatedRun.iterations). */
  #progress(): void {
    try {
      const n = this.#run?.iterations?.();
      if (n !== undefined && count(n) > this.#iterations) this.#iterations = count(n);
    } catch {
      // The count is only for the stats.
    }
  }

  #timeout(): RunOutcome {
    this.#progress();
    return this.#failure('TIMEOUT', 'TimeoutError', `The run exceeded its deadline of ${this.#plan.timeout} ms.`);
  }

  #finish(result: RunOutcome): void {
    if (this.#settled) return;
    this.#settled = true;
    if (this.#logs.length > 0) result.logs = this.#logs;
    clearTimeout(this.#timer);
    const { signal } = this.#plan;
    if (this.#onAbort && signal) signal.removeEventListener('abort', this.#onAbort);
    this.#toolsEnd.abort(runEndReason(result.success ? 'completed' : result.error.code));
    this.#run?.stop();
    this.#active.delete(this);
    this.#resolve(result);
  }
}

function isPosition(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}

function count(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function text(v: unknown): string {
  const s = typeof v === 'string' ? v : String(v);
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}...` : s;
}

function publicToolData(json: unknown): Record<string, unknown> {
  if (typeof json !== 'string') return {};
  try {
    // Without prototype keys (see the codec), like everything else that reaches the caller.
    const parsed = hostCodec.decodeJSON(json);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Whether a code came from a known table (a worker's failure message is checked with this). */
export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}
