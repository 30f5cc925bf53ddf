import { parseAgentScript } from './ast/parse.js';
import type { EnclaveSettings, RunSettings } from './enclave-options.js';
import { readDescribeTools, readEnclaveOptions, readRunOptions } from './enclave-options.js';
import { EnclaveConfigError } from './errors.js';
import { runEnded, runStarted } from './idle.js';
import { OptionChecker } from './options.js';
import { DurableRun, journalKey } from './durable.js';
import { RunEvents, newSessionId, toolReplyError } from './events.js';
import type { RunTrace } from './tracing.js';
import { endRunTrace, runSpanIds, startRunTrace, traceEvent, traceToolCall } from './tracing.js';
import type { ErrorCode } from './errors.js';
import type { RuntimeLimits, SecurityLevel } from './levels.js';
import { MAX_TOOL_ARGS_VALUES } from './levels.js';
import type { CheckIssue, CheckReport, PreparedScript } from './pipeline.js';
import { prepareAgentScript, v8SyntaxIssue } from './pipeline.js';
import { failure, internalFailure, noStats } from './result.js';
import type { DriverPlan, RunDriver, RunOutcome } from './sandbox/driver.js';
import type { IsolatedJob } from './sandbox/isolation.js';
import { drive } from './sandbox/driver.js';
import type { Isolation } from './sandbox/isolation.js';
import { isIsolation } from './sandbox/isolation.js';
import type { RealmLimits } from './sandbox/realm-abi.js';
import { installRejectionGuard } from './sandbox/rejections.js';
import { VmIsolation } from './sandbox/vm-isolation.js';
import { WorkerPool, maxMessageBytes } from './sandbox/worker-pool.js';
import type { EncodeFailure } from './sanitize/codec.js';
import { decodeToolArgs, describeEncodeFailure, hostCodec, hostEncodeOptions, TOO_DEEP, TOO_LARGE, TOO_LONG, TOO_MANY_VALUES } from './sanitize/codec.js';
import type { RuleVerdict, ScoringResult } from './score/index.js';
import { ScoringGate } from './score/index.js';
import type { Issue } from './source.js';
import { LruCache, cacheKey, elapsedMs, textSize } from './source.js';
import type { HostTool } from './tools/define.js';
import type { EnclaveDescription } from './tools/describe.js';
import { buildDescription } from './tools/describe.js';
import type { ToolCallRequest, ToolReply, ToolScope } from './tools/invoke.js';
import { invokeHostTool } from './tools/invoke.js';
import type { ToolMap } from './tools/registry.js';
import { Sidecar } from './tools/sidecar.js';
import { unknownToolCalls } from './validate/tool-names.js';
import { MAX_SUGGESTED_NAMES } from './suggest.js';
import type {
  CreateEnclaveOptions,
  EnclaveEvent,
  EnclaveRunStream,
  ExecutionFailure,
  ExecutionResult,
  LogEntry,
  RunOptions,
  ToolFunction,
  ToolHandler,
  ToolSet,
  WorkerPoolConfig,
  WorkerPoolStats,
} from './types.js';

/** The limits the realm enforces itself, picked from the run's limits. */
function realmLimits(l: RuntimeLimits): RealmLimits {
  const { maxIterations, maxCallDepth, maxToolCalls, memoryLimit, maxOutputBytes, maxToolArgsBytes, maxLogBytes, maxLogEntries } = l;
  return { maxIterations, maxCallDepth, maxToolCalls, memoryLimit, maxOutputBytes, maxToolArgsBytes, maxLogBytes, maxLogEntries };
}

/** Copy-out: a successful run's value is decoded from the realm codec's text into host objects. */
function copyOut(outcome: RunOutcome): ExecutionResult {
  if (!outcome.success) return outcome;
  // Built field by field: an object rest that leaves a key out takes V8's slow path, on every run.
  let value: unknown;
  try {
    value = hostCodec.decodeJSON(outcome.valueText);
  } catch {
    // Only text a worker did not make with the codec gets here (a worker is untrusted input).
    return internalFailure(outcome.stats);
  }
  const result: ExecutionResult = { success: true, value, stats: outcome.stats };
  if (outcome.logs !== undefined) result.logs = outcome.logs;
  return result;
}

/**
 * A call's arguments for an event or a span: none when the text is not JSON, nests too deeply, or holds
 * more values than a call may (decoding those would hold the host as long as the call it refuses).
 */
function eventArgs(argsText: string, maxValues: number): unknown {
  try {
    const args = decodeToolArgs(argsText, maxValues);
    return args === TOO_MANY_VALUES ? undefined : args;
  } catch {
    return undefined;
  }
}

/** A tool call that reports `tool_call` before it starts and `tool_result` once it has replied. */
async function invokeWithEvents(call: ToolCallRequest, events: RunEvents, maxValues: number, invoke: (call: ToolCallRequest) => Promise<ToolReply>): Promise<ToolReply> {
  const { callIndex: callId, name: tool } = call;
  if (events.includeToolArgs) {
    const args = eventArgs(call.argsText, maxValues);
    events.emit('tool_call', { callId, tool, args });
  } else events.emit('tool_call', { callId, tool });
  const started = performance.now();
  const reply = await invoke(call);
  const durationMs = elapsedMs(started);
  const error = reply[0] === 0 ? toolReplyError(reply[1]) : undefined;
  // A call that asked for approval has not run: the run's `approval_required` reports it instead.
  if (call.approval?.kind === 'ask' && call.approval.asked === true) return reply;
  events.emit('tool_result', error === undefined ? { callId, tool, ok: reply[0] === 1, durationMs } : { callId, tool, ok: false, error, durationMs });
  return reply;
}

/** A durable run's journal, for a run that may pause: one with `durable` and a tool that needs approval, or one that resumes a pause. */
function durableRun(settings: RunSettings, tools: ToolMap | undefined, key: () => string, live: (call: ToolCallRequest) => Promise<ToolReply>): DurableRun | undefined {
  const durable = settings.durable;
  if (durable === undefined) return undefined;
  if (durable.resume === undefined && !hasApprovalTool(tools)) return undefined;
  return new DurableRun(durable, key(), live);
}

function hasApprovalTool(tools: ToolMap | undefined): boolean {
  if (tools === undefined) return false;
  for (const tool of tools.values()) if (tool.needsApproval !== undefined && tool.needsApproval !== false) return true;
  return false;
}

/**
 * A durable run's outcome: a pause carries its journal; a resumed run that ended on its own before it
 * reached the call it was paused on took another path than its journal.
 */
function afterDurable(outcome: RunOutcome, durable: DurableRun): RunOutcome {
  if (!outcome.success && outcome.error.code === 'APPROVAL_REQUIRED') {
    const paused = durable.paused();
    return paused === undefined ? { ...outcome, error: { ...outcome.error, code: 'INTERNAL_ERROR' } } : { ...outcome, paused };
  }
  if (!durable.reachedPending && (outcome.success || outcome.error.code === 'RUNTIME_ERROR' || outcome.error.code === 'TOOL_ERROR')) {
    const diverged = failure('REPLAY_DIVERGED', 'ReplayDivergedError', 'The script ended before it reached the call it was paused on: it took another path than before its pause.', outcome.stats);
    return outcome.logs === undefined ? diverged : { ...diverged, logs: outcome.logs };
  }
  return outcome;
}

/** Events of a stream, waiting for its loop: pushed by the run, taken by `for await`. */
class EventQueue {
  readonly #items: EnclaveEvent[] = [];
  #ended = false;
  #wake: (() => void) | undefined;

  push(event: EnclaveEvent): void {
    if (this.#ended) return;
    this.#items.push(event);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *iterator(): AsyncGenerator<EnclaveEvent, void, undefined> {
    for (;;) {
      const next = this.#items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** A check's outcome; with the gate on, the rule verdict is cached with it, so a repeated script costs one lookup. */
/** A refusal says whether the parser read the code (see PrepareResult). */
type Checked = { ok: true; compiled: PreparedScript; scoring?: RuleVerdict } | { ok: false; result: ExecutionFailure; parsed: boolean };

/** One run on its way through the pipeline. */
interface Run {
  code: string;
  options: RunOptions;
  settings: RunSettings;
  startedAt: number;
  /** Where its events go, when the caller listens. */
  events?: RunEvents | undefined;
  /** Its span, when a tracer provider records it. */
  trace?: RunTrace | undefined;
}

/** A pipeline step's outcome: what the next step needs, or the result the run ends with. */
type Step<T> = ({ ok: true } & T) | { ok: false; result: ExecutionFailure };

const stopped = (result: ExecutionFailure): { ok: false; result: ExecutionFailure } => ({ ok: false, result });

const DISPOSED = 'This Enclave has been disposed.';
/** How deep `input` and data globals are copied into a realm. */
const HOST_DATA_DEPTH = 128;
/** A copy that failed for its size or depth is a RangeError; for what a value is, a TypeError. */
const failureName = (f: EncodeFailure): string => (f.code === TOO_LARGE || f.code === TOO_DEEP || f.code === TOO_LONG ? 'RangeError' : 'TypeError');

const own = (obj: object, name: string) => Object.prototype.hasOwnProperty.call(obj, name);

function rejected(issues: Issue[], parsed: boolean): Checked {
  const first = issues[0] as Issue;
  const summary = issues
    .slice(0, 10)
    .map((i) => `line ${i.line}:${i.column} [${i.ruleId}] ${i.message}${i.hint ? ` Hint: ${i.hint}` : ''}`)
    .join('\n');
  const message = `AgentScript rejected (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${summary}`;
  // DESIGN.md: a VALIDATION_ERROR carries the rule id and the location (of the first problem; `issues` has them all).
  return { ok: false, parsed, result: failure('VALIDATION_ERROR', 'ValidationError', message, noStats(), { location: { line: first.line, column: first.column }, data: { ruleId: first.ruleId, issues } }) };
}

/** The issues of a rejected check; a failure without them (none today) is one issue at line 1. */
function issuesOf(result: ExecutionFailure): Issue[] {
  const issues = result.error.data?.issues;
  if (Array.isArray(issues)) return issues as Issue[];
  return [{ ruleId: 'rejected', message: result.error.message, line: result.error.location?.line ?? 1, column: result.error.location?.column ?? 1 }];
}

/** References to sidecar strings in the returned value become the strings, within `maxResolvedSize`. */
function resolveReferences(result: ExecutionResult, sidecar: Sidecar): ExecutionResult {
  if (!result.success || sidecar.size === 0) return result;
  const resolved = sidecar.resolveIn(result.value);
  if (resolved.ok) return { ...result, value: resolved.value };
  const failed = failure('OUTPUT_LIMIT_EXCEEDED', 'OutputLimitError', `The result's references expand to more than ${sidecar.options.maxResolvedSize} characters.`, result.stats);
  return result.logs ? { ...failed, logs: result.logs } : failed;
}

const MAX_LISTED_SIGNALS = 8;

function scoringBlocked(scoring: ScoringResult, threshold: number, duration: number): ExecutionFailure {
  const lines = scoring.signals
    .slice(0, MAX_LISTED_SIGNALS)
    .map((s) => `- ${s.location ? `line ${s.location.line}:${s.location.column} ` : ''}+${s.weight} [${s.id}] ${s.message}`);
  const first = scoring.signals.find((s) => s.location !== undefined);
  const message = `The scoring gate refused this script (score ${scoring.score}/100, blocks at ${threshold})${lines.length > 0 ? `:\n${lines.join('\n')}` : '.'}`;
  const data = { score: scoring.score, threshold, signals: scoring.signals };
  return { ...failure('SCORING_BLOCKED', 'ScoringBlockedError', message, noStats(duration), first?.location ? { location: { ...first.location }, data } : { data }), scoring };
}

/** Settles with the promise's value, or with undefined as soon as the signal aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Runs AgentScript, code written by LLM agents, safely inside a Node.js server.
 *
 * One instance serves many runs from many users; every run gets its own copies of input, globals and
 * tools, a deadline that covers code after every `await`, and budgets that end the run when spent.
 * `run()` never throws for anything the script or its input does.
 *
 * @example
 * ```ts
 * const enclave = new Enclave({ securityLevel: 'STANDARD' });
 * const result = await enclave.run(
 *   `const users = await callTool('users:list', { limit: 10 });
 *    return users.filter((u) => u.active).length;`,
 *   { tools: { 'users:list': async ({ limit }) => db.users.list(limit) } },
 * );
 * // result: { success: true, value: 7, stats: { duration, toolCallCount: 1, iterationCount } }
 * ```
 * Defaults come from `securityLevel` (default `'STANDARD'`: timeout 30 s, 1,000,000 iterations, 100 tool
 * calls, 64 MiB memory); see `LEVEL_CONFIGS`.
 */
export class Enclave {
  readonly securityLevel: SecurityLevel;
  readonly limits: Readonly<RuntimeLimits>;
  readonly #settings: EnclaveSettings;
  readonly #isolation: Isolation;
  readonly #gate: ScoringGate | undefined;
  /**
   * A check keeps the rewritten text and the anchors that map its positions, some 8 times the script's
   * text: 1 MB of text. Kept from a text's second check on (see LruCache): a never-seen script, most of
   * LLM traffic, is dropped young instead of being moved to the old generation for nothing.
   */
  readonly #checks = new LruCache<string, Checked>(500, 1024 * 1024, textSize, { admitOnSecondSight: true });
  /** Runs in flight, whatever executes them. */
  readonly #active = new Set<RunDriver>();
  #disposed = false;
  /** Settles once the isolation has released what it held, after `dispose()`. */
  #released: Promise<void> = Promise.resolve();

  constructor(options: CreateEnclaveOptions = {}) {
    const settings = readEnclaveOptions(options);
    this.#settings = settings;
    this.securityLevel = settings.level;
    this.limits = settings.limits;
    this.#gate = settings.scoringGate ? new ScoringGate(settings.scoringGate) : undefined;
    const realms = {
      ...settings.realmPool,
      intl: settings.config.dialect.globals.includes('Intl'),
      proxy: settings.config.dialect.globals.includes('Proxy'),
    };
    installRejectionGuard();
    this.#isolation = this.#createIsolation(settings, realms);
  }

  #createIsolation(settings: EnclaveSettings, realms: ConstructorParameters<typeof VmIsolation>[0]): Isolation {
    const pool = (config: WorkerPoolConfig) => new WorkerPool(config, { realms, maxMessageBytes: maxMessageBytes(settings.limits) });
    if (settings.workerPool) return pool(settings.workerPool);
    if (!settings.remote) return new VmIsolation(realms, () => pool(settings.asyncContextWorkers));
    const isolation = settings.remote.createIsolation({
      securityLevel: settings.level,
      limits: settings.limits,
      maxMessageBytes: maxMessageBytes(settings.limits),
      realm: { intl: realms.intl, proxy: realms.proxy },
    });
    if (!isIsolation(isolation)) throw new EnclaveConfigError('new Enclave(options): adapter.createIsolation() did not return an isolation (kind "remote", run, ready, dispose).');
    return isolation;
  }

  /**
   * Resolves when the instance can run without start-up delay: with `adapter: 'worker_threads'`, once
   * `minWorkers` workers are started and warm (await it before serving traffic); with a remote adapter,
   * once it listens for its runtime nodes' messages; at once otherwise.
   */
  ready(): Promise<void> {
    return this.#isolation.ready();
  }

  /**
   * Operators' view of the runs in flight and of the isolation: the realms of this thread (`vm`), or the
   * worker pool (`worker_threads`, whose workers keep realms of their own).
   */
  stats(): { idleRealms: number; realmsCreated: number; realmsRetired: number; activeRuns: number; waitingForRealm?: number; workers?: WorkerPoolStats } {
    const activeRuns = this.#active.size;
    const iso = this.#isolation;
    if (iso instanceof WorkerPool) return { idleRealms: 0, realmsCreated: 0, realmsRetired: 0, activeRuns, workers: iso.stats() };
    // A remote isolation's realms live on its runtime nodes.
    if (!(iso instanceof VmIsolation)) return { idleRealms: 0, realmsCreated: 0, realmsRetired: 0, activeRuns };
    return { idleRealms: iso.realms.idle, realmsCreated: iso.realms.created, realmsRetired: iso.realms.retired, activeRuns, waitingForRealm: iso.realms.waiting };
  }

  /**
   * Runs one script. Never throws for anything the script or its input does: every outcome is an
   * `ExecutionResult` with a code. `runOptions` is optional: `null` is no options, as `undefined` is (so
   * is it for `stream()` and `check()`).
   */
  async run<T = unknown>(code: string, runOptions: RunOptions | null = {}): Promise<ExecutionResult<T>> {
    runOptions ??= {};
    const startedAt = performance.now();
    let run: Run | undefined;
    let result: ExecutionResult;
    // Work the process puts off until no run is in flight (idle.ts) waits for this one too.
    runStarted();
    try {
      const resolved = this.#resolve(code, runOptions, startedAt);
      if (!resolved.ok) return resolved.result;
      run = resolved.run;
      const placement = () => this.#isolation.placement?.() ?? this.#isolation.kind;
      run.trace = this.#settings.tracing && startRunTrace(runOptions.traceContext, { 'enclave.level': this.securityLevel }, placement, this.#settings.tracing.toolPayloads, run.settings.durable?.resume?.journal.trace);
      run.events = this.#startEvents(run);
      const prepared = await this.#prepare(run);
      if (!prepared.ok) result = prepared.result;
      else result = this.#finish(await this.#execute(run, prepared.compiled), prepared.scoring);
    } catch {
      result = internalFailure(noStats(elapsedMs(startedAt)));
    } finally {
      runEnded();
    }
    if (run?.trace) {
      const { stats } = result;
      endRunTrace(run.trace, { code: result.success ? undefined : result.error.code, durationMs: stats.duration, toolCalls: stats.toolCallCount, iterations: stats.iterationCount });
    }
    // The pause's span goes with its journal: the run that resumes it links to it.
    if (!result.success && result.paused !== undefined && run?.trace) result.paused.journal.trace = runSpanIds(run.trace);
    if (!result.success && result.paused !== undefined) run?.events?.emit('approval_required', result.paused.approval);
    else run?.events?.emit('final', result);
    // T is the caller's word for what the script returns; nothing checks it.
    return result as ExecutionResult<T>;
  }

  /**
   * Runs one script and reports what happens as it happens: an async iterable of its events (the last
   * one is `final`, whose payload is the result), and the result itself as `result`. Events that the
   * loop has not taken yet wait in memory; how many there can be is bounded by the run's budgets.
   *
   * @example
   * ```ts
   * const run = enclave.stream(code, { tools });
   * for await (const event of run) if (event.type === 'log') console.log(event.payload.message);
   * const result = await run.result;
   * ```
   */
  stream<T = unknown>(code: string, runOptions: (Omit<RunOptions, 'onEvent'> & { onEvent?: never }) | null = {}): EnclaveRunStream<T> {
    runOptions ??= {};
    const queue = new EventQueue();
    const sessionId = runOptions.sessionId ?? newSessionId();
    const result = this.run<T>(code, { ...runOptions, sessionId, onEvent: (event) => queue.push(event) }).finally(() => queue.end());
    return { sessionId, result, [Symbol.asyncIterator]: () => queue.iterator() };
  }

  /** How the run's tool calls reach the host: traced when its span records, reported when it has events. */
  #toolInvoker(scope: ToolScope, run: Run): (call: ToolCallRequest) => Promise<ToolReply> {
    const { trace, events } = run;
    let invoke = (call: ToolCallRequest) => invokeHostTool(scope, call);
    if (trace !== undefined) {
      const untraced = invoke;
      invoke = (call) =>
        traceToolCall(
          trace,
          {
            // A name the host did not register is the script's text (a toolHandler serves any): its span is not named after it.
            tool: scope.registered(call.name) ? call.name : undefined,
            callId: call.callIndex,
            // Text an isolation sent: one that is not JSON (or nests too deep, or holds too many values) records no arguments rather than failing the call.
            args: () => eventArgs(call.argsText, scope.maxToolArgsValues),
          },
          () => untraced(call),
          (reply) => (reply[0] === 1 ? { result: () => hostCodec.decode(reply[1]) } : { error: toolReplyError(reply[1]) ?? { code: 'TOOL_ERROR', message: 'The tool failed.' } }),
        );
    }
    if (events === undefined) return invoke;
    return (call) => invokeWithEvents(call, events, scope.maxToolArgsValues, invoke);
  }

  /** `session_init` and the heartbeat of a run whose caller listens to its events. */
  #startEvents(run: Run): RunEvents | undefined {
    const config = run.settings.events;
    if (config === undefined) return undefined;
    const events = new RunEvents(config.sessionId, config.listener, config.includeToolArgs);
    const { limits } = run.settings;
    events.emit('session_init', {
      level: this.securityLevel,
      isolation: this.#isolation.kind,
      limits,
      expiresAt: Math.round(Date.now() + limits.timeout - (performance.now() - run.startedAt)),
    });
    if (config.heartbeatMs !== undefined) events.startHeartbeat(config.heartbeatMs, run.startedAt);
    return events;
  }

  /** Step 1: the run's options over the instance's settings. Bad options are the caller's input, not a crash. */
  #resolve(code: string, options: RunOptions, startedAt: number): Step<{ run: Run }> {
    const stop = (errCode: ErrorCode, name: string, message: string) => stopped(failure(errCode, name, message, noStats(elapsedMs(startedAt))));
    if (this.#disposed) return stop('ABORTED', 'AbortError', DISPOSED);
    let settings: RunSettings;
    try {
      settings = readRunOptions(this.#settings, options);
    } catch (e) {
      // A getter or Proxy of the caller's that throws is reported without its text.
      return stop('VALIDATION_ERROR', 'TypeError', e instanceof EnclaveConfigError ? e.message : 'run(code, options): the options could not be read.');
    }
    if (options.signal?.aborted) return stop('ABORTED', 'AbortError', 'The run was aborted before it started.');
    if (typeof code !== 'string') return stop('VALIDATION_ERROR', 'TypeError', `The code must be a string, got ${code === null ? 'null' : typeof code}.`);
    return { ok: true, run: { code, options, settings, startedAt } };
  }

  /**
   * Step 2: pre-scan, validation and rewriting (cached per script), then the scoring gate on the rule
   * verdict cached with them. Nothing of the script has run when this refuses it.
   */
  async #prepare(run: Run): Promise<Step<{ compiled: PreparedScript; scoring: ScoringResult | undefined }>> {
    const { code, options, startedAt } = run;
    const checked = this.#check(code, run.settings.globalNames);
    if (!checked.ok) return stopped({ ...checked.result, stats: noStats(elapsedMs(startedAt)) });
    if (!this.#gate || !checked.scoring) return { ok: true, compiled: checked.compiled, scoring: undefined };
    const stop = (message: string) => stopped(failure('ABORTED', 'AbortError', message, noStats(elapsedMs(startedAt))));
    const judged = this.#gate.judge(code, checked.scoring);
    const scoring = judged instanceof Promise ? await unlessAborted(judged, options.signal) : judged;
    if (scoring === undefined || options.signal?.aborted) return stop('The run was aborted while the script was being scored.');
    if (this.#disposed) return stop(DISPOSED);
    traceEvent(run.trace, 'enclave.scoring', { 'enclave.scoring.decision': scoring.decision, 'enclave.scoring.score': scoring.score });
    if (scoring.decision === 'block') return stopped(scoringBlocked(scoring, this.#gate.config.block, elapsedMs(startedAt)));
    if (scoring.decision === 'warn') this.#gate.warn({ scoring, code, context: options.context });
    return { ok: true, compiled: checked.compiled, scoring };
  }

  /**
   * Step 3: copies input and globals in (with a byte budget that stops the walk as soon as it is
   * spent), scopes the tools to this run and drives the script to its outcome on the isolation.
   */
  async #execute(run: Run, compiled: PreparedScript): Promise<{ result: RunOutcome | ExecutionFailure; sidecar: Sidecar | undefined }> {
    const { options, startedAt } = run;
    const { limits, tools, handler, dataGlobals, functionGlobals, globalNames } = run.settings;
    const refuse = (message: string, name = 'RangeError') => ({ result: failure('VALIDATION_ERROR', name, message, noStats(elapsedMs(startedAt))), sidecar: undefined });
    // The script was checked (and maybe scored) after run() returned its promise: an abort or a dispose()
    // in that time found no listener of this run yet, so both are read here, before anything starts (from
    // here to the driver's listener nothing yields). Before, such a run went on, tools and all.
    const aborted = (message: string) => ({ result: failure('ABORTED', 'AbortError', message, noStats(elapsedMs(startedAt))), sidecar: undefined });
    if (this.#disposed) return aborted(DISPOSED);
    if (options.signal?.aborted) return aborted('The run was aborted before it started.');
    let inputText: string | null = null;
    if (options.input !== undefined) {
      const t = hostCodec.encode(options.input, hostEncodeOptions(limits.maxInputBytes, HOST_DATA_DEPTH, true));
      if (typeof t !== 'string') return refuse(describeEncodeFailure(t, 'input', limits.maxInputBytes, HOST_DATA_DEPTH), failureName(t));
      inputText = t;
    }
    let globalsText: string | null = null;
    const functionNames = Object.keys(functionGlobals);
    if (Object.keys(dataGlobals).length > 0 || functionNames.length > 0) {
      const budget = limits.maxInputBytes - (inputText?.length ?? 0);
      const t = hostCodec.encode(dataGlobals, hostEncodeOptions(Math.max(0, budget), HOST_DATA_DEPTH, true));
      if (typeof t !== 'string') {
        return refuse(t.code === TOO_LARGE ? `input and globals together are larger than ${limits.maxInputBytes} bytes.` : describeEncodeFailure(t, 'globals', budget, HOST_DATA_DEPTH), failureName(t));
      }
      globalsText = t;
    }

    const runId = `run_${startedAt.toString(36).replace('.', '')}_${Math.random().toString(36).slice(2, 10)}`;
    const sidecar = this.#settings.sidecar === undefined ? undefined : new Sidecar(this.#settings.sidecar);
    const scope: ToolScope = {
      runId,
      ...this.#toolLookup(tools, handler, functionGlobals),
      hintsLeft: MAX_SUGGESTED_NAMES,
      context: options.context,
      maxToolResultBytes: limits.maxToolResultBytes,
      maxToolArgsValues: MAX_TOOL_ARGS_VALUES[this.#settings.level],
      onToolCall: this.#settings.onToolCall,
      rateLimitStore: this.#settings.rateLimitStore,
      sidecar,
      toolTimeout: this.#settings.toolTimeout,
    };
    const job: IsolatedJob = {
      source: compiled.source,
      limits: realmLimits(limits),
      inputText,
      globalsText,
      globalNames,
      functionNames,
      deadline: startedAt + limits.timeout,
      privateNames: compiled.privateNames,
      console: compiled.console,
      positions: compiled.positions,
    };
    const live = this.#toolInvoker(scope, run);
    const { events } = run;
    const onLog = events === undefined ? undefined : (entry: LogEntry) => events.emit('log', entry);
    const durable = durableRun(run.settings, tools, () => journalKey(compiled.key, inputText, globalsText), live);
    const plan: DriverPlan = { job, startedAt, timeout: limits.timeout, mapPosition: compiled.mapPosition, invokeTool: live, signal: options.signal, onLog };
    if (durable !== undefined) {
      plan.invokeTool = durable.invokeTool;
      plan.journal = durable;
      job.replayNd = durable.replayNd;
      job.maxNd = durable.maxNd;
      // Lines reported before the pause are in the result again (the script logged them again), not in the events.
      plan.onLog = (entry) => {
        if (++durable.logs > durable.replayedLogs) onLog?.(entry);
      };
    }
    const result = await drive(this.#isolation, plan, this.#active);
    return { result: durable === undefined ? result : afterDurable(result, durable), sidecar };
  }

  /**
   * Step 4: the value is copied out of the codec's text, references to sidecar strings in it become the
   * strings, and the gate's verdict goes along.
   */
  #finish({ result, sidecar }: { result: RunOutcome | ExecutionFailure; sidecar: Sidecar | undefined }, scoring: ScoringResult | undefined): ExecutionResult {
    const copied = copyOut(result);
    const resolved = sidecar !== undefined ? resolveReferences(copied, sidecar) : copied;
    return scoring === undefined ? resolved : { ...resolved, scoring };
  }

  /** Stops every active run (they end as `ABORTED`) and releases the realms. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const run of this.#active) run.abort('The run was stopped because the Enclave was disposed.');
    this.#released = Promise.resolve(this.#isolation.dispose()).catch(() => {});
  }

  /** `using enclave = new Enclave(...)`: `dispose()` at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * `await using enclave = new Enclave(...)`: `dispose()` at the end of the block, then waits until the
   * isolation has let go of everything (with `worker_threads`, until every worker has exited).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
    await this.#released;
  }

  /**
   * The catalog a model needs to write a script for this Enclave: each tool's name, description and
   * JSON Schemas, `callTool` overloads in TypeScript, and the AgentScript dialect of the level with the
   * limits in force. `tools` (e.g. the current user's) are layered over the instance's, as in `run()`.
   * JSON-serializable: it is what an HTTP adapter serves on GET.
   *
   * @example
   * ```ts
   * const { prompt } = enclave.describe(toolsFor(user));
   * const system = `${prompt}\nAnswer the user's question with one script.`;
   * ```
   */
  describe(tools?: ToolSet): EnclaveDescription {
    const { globals, toolHandler, sidecar } = this.#settings;
    const names = Object.keys(globals).sort();
    return buildDescription({
      level: this.securityLevel,
      limits: this.limits,
      tools: readDescribeTools(this.#settings, tools),
      hasHandler: toolHandler !== undefined,
      dataGlobals: names.filter((n) => typeof globals[n] !== 'function'),
      functionGlobals: names.filter((n) => typeof globals[n] === 'function'),
      sidecarThreshold: sidecar?.extractionThreshold,
    });
  }

  /**
   * Checks a script as `run()` would check it, without running anything: this instance's level,
   * `validate`, `transform` and globals (plus `options.globals`), so `ok` means `run()` accepts it.
   * With `options.tools` (the tools a run would get, layered over the instance's), calls of tools the run
   * would not have are reported as warnings, each with the closest names among those tools only. The
   * scoring gate is not consulted. Cached like `run()`'s own check. Code the pre-scan refuses (over the
   * level's size, line or nesting limits, or with characters it does not allow) gets the pre-scan's
   * issues only, and is read no further, as in `run()`.
   *
   * @example
   * ```ts
   * const { ok, issues } = enclave.check(code, { tools: toolsFor(user) });
   * for (const i of issues) console.log(`${i.line}:${i.column} ${i.severity} [${i.ruleId}] ${i.message}`, i.suggestions ?? []);
   * ```
   */
  check(code: string, options: Pick<RunOptions, 'tools' | 'toolHandler' | 'globals'> | null = {}): CheckReport {
    options ??= {};
    const where = 'check(code, options)';
    const checker = new OptionChecker(where);
    checker.knownKeys('', checker.object('options', options) ?? {}, ['tools', 'toolHandler', 'globals']);
    if (typeof code !== 'string') checker.fail(`code must be a string, got ${code === null ? 'null' : typeof code}.`);
    const settings = readRunOptions(this.#settings, options, where);
    const checked = this.#check(code, settings.globalNames);
    // A run compiles the script and so hears V8's verdict; the check asks V8 for it (a pre-parse), or it
    // would call `ok` a script that every run refuses.
    const v8 = checked.ok ? v8SyntaxIssue(checked.compiled) : undefined;
    const errors: CheckIssue[] = checked.ok ? (v8 === undefined ? [] : [{ ...v8, severity: 'error' }]) : issuesOf(checked.result).map((i) => ({ ...i, severity: 'error' }));
    // Code the pre-scan refused is read no further, as in run(): parsing a script over the size limit to
    // look for tool calls cost seconds of host time a megabyte.
    if (!checked.ok && !checked.parsed) return { ok: false, issues: errors };
    const parsed = parseAgentScript(code);
    // A tool handler serves any name, so no name is unknown; nor can a script that does not parse be walked.
    if (settings.handler !== undefined || parsed.syntaxErrors.length > 0) return { ok: errors.length === 0, issues: errors };
    const warnings: CheckIssue[] = unknownToolCalls(parsed, settings.tools ? [...settings.tools.keys()] : []).map((i) => ({ ...i, severity: 'warning' }));
    const issues = [...errors, ...warnings].sort((a, b) => a.line - b.line || a.column - b.column);
    return { ok: errors.length === 0, issues };
  }

  #toolLookup(tools: ToolMap | undefined, handler: ToolHandler | undefined, functionGlobals: Record<string, ToolFunction>) {
    const lookup = (name: string): ToolFunction | HostTool | undefined => {
      // A function global is called with the script's positional arguments.
      if (own(functionGlobals, name)) {
        const fn = functionGlobals[name] as (...a: unknown[]) => unknown;
        return (args) => fn(...(Array.isArray(args) ? args : [args]));
      }
      const tool = tools?.get(name);
      if (tool !== undefined) return tool;
      if (handler) return (args, ctx) => handler(name, args, ctx);
      return undefined;
    };
    const names = () => (tools ? [...tools.keys()] : []);
    const registered = (name: string) => own(functionGlobals, name) || tools?.has(name) === true;
    return { lookup, names, registered };
  }

  #check(code: string, globalNames: readonly string[]): Checked {
    const key = cacheKey(code, globalNames.join(','), String(this.#settings.validate), String(this.#settings.transform));
    const hit = this.#checks.get(key);
    if (hit) return hit;
    const result = this.#checkUncached(code, globalNames);
    this.#checks.set(key, result);
    return result;
  }

  #checkUncached(code: string, globalNames: readonly string[]): Checked {
    const r = prepareAgentScript(code, { securityLevel: this.securityLevel, globals: globalNames, validate: this.#settings.validate, transform: this.#settings.transform });
    if (!r.ok) return rejected(r.issues, r.parsed);
    // The parse is cached: this is a lookup of the tree the check just validated.
    return this.#gate ? { ok: true, compiled: r.compiled, scoring: this.#gate.rules(parseAgentScript(code)) } : r;
  }
}

