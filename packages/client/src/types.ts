/**
 * What travels over the wire, as the client sees it. The client depends on no server package (a browser
 * bundle must not pull in the engine), so these are its own declarations of the HTTP contract; a type
 * test checks that the engine's `ExecutionResult` and `EnclaveEvent` stay assignable to them.
 */

/**
 * Why a run failed: the engine's codes (see the README's "Results and error codes").
 *
 * @example
 * ```ts
 * if (!result.success && result.error.code === 'TIMEOUT') retryWithSmallerTask();
 * ```
 */
export type RunErrorCode =
  | 'VALIDATION_ERROR'
  | 'RUNTIME_ERROR'
  | 'TIMEOUT'
  | 'MAX_ITERATIONS'
  | 'MAX_TOOL_CALLS'
  | 'MEMORY_LIMIT_EXCEEDED'
  | 'TOOL_ERROR'
  | 'SCORING_BLOCKED'
  | 'ABORTED'
  | 'OUTPUT_LIMIT_EXCEEDED'
  | 'QUEUE_FULL'
  | 'RUN_LOST'
  | 'SESSION_LOST'
  | 'RUNTIME_UNAVAILABLE'
  | 'RUNTIME_LOST'
  | 'APPROVAL_REQUIRED'
  | 'APPROVAL_EXPIRED'
  | 'REPLAY_DIVERGED'
  | 'MAX_PAUSES'
  | 'JOURNAL_LIMIT_EXCEEDED'
  | 'STATE_REJECTED'
  | 'INTERNAL_ERROR';

/**
 * One captured console call of the script. `time`: ms since the run started.
 *
 * @example
 * ```ts
 * for (const log of result.logs ?? []) console.log(`[${log.level}] +${log.time} ms ${log.message}`);
 * ```
 */
export interface LogEntry {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
  time: number;
}

/**
 * What a run cost.
 *
 * @example
 * ```ts
 * console.log(`${result.stats.duration} ms, ${result.stats.toolCallCount} tool calls`);
 * ```
 */
export interface ExecutionStats {
  duration: number;
  toolCallCount: number;
  iterationCount: number;
}

/**
 * The error of a failed run. `code` is a `RunErrorCode` (typed wider, so a newer server's codes still fit).
 *
 * @example
 * ```ts
 * if (!result.success) console.log(result.error.code, result.error.message, result.error.location?.line);
 * ```
 */
export interface ExecutionError {
  name: string;
  message: string;
  code: RunErrorCode | (string & {});
  /** In the script's own lines: line 1 is its first line. */
  location?: { line: number; column: number };
  data?: Record<string, unknown>;
}

/**
 * The scoring gate's verdict, on runs that reached it.
 *
 * @example
 * ```ts
 * if (result.scoring && result.scoring.score > 70) flagForReview(result.scoring.signals);
 * ```
 */
export interface ScoringVerdict {
  score: number;
  decision: string;
  signals: readonly unknown[];
}

/**
 * A run that returned; `value` is what the script returned.
 *
 * @example
 * ```ts
 * if (result.success) render(result.value);
 * ```
 */
export interface ExecutionSuccess<T = unknown> {
  success: true;
  value: T;
  error?: never;
  stats: ExecutionStats;
  logs?: LogEntry[];
  scoring?: ScoringVerdict;
}

/**
 * A run that failed, or never ran: `error.code` says why.
 *
 * @example
 * ```ts
 * if (!result.success) showError(result.error);
 * ```
 */
export interface ExecutionFailure {
  success: false;
  value?: never;
  error: ExecutionError;
  stats: ExecutionStats;
  logs?: LogEntry[];
  scoring?: ScoringVerdict;
}

/**
 * What a run ended with, whatever the outcome: a union on `success`.
 *
 * @example
 * ```ts
 * const result = await client.run('return 1 + 1');
 * if (result.success) console.log(result.value);
 * else console.log(result.error.code, result.error.message);
 * ```
 */
export type ExecutionResult<T = unknown> = ExecutionSuccess<T> | ExecutionFailure;

/**
 * A call waiting for a person's decision: `args` as the tool would receive them. `digest` (SHA-256 of
 * `callId`, `tool` and `args`, from servers since 0.2.0): pass the whole object to `approve()` or
 * `deny()` and the decision is taken only for the very call shown (409 `CONFLICT` otherwise).
 *
 * @example
 * ```ts
 * if (status.pendingApproval) await client.approve(status.sessionId, status.pendingApproval);
 * ```
 */
export interface PendingApproval {
  callId: number;
  tool: string;
  args?: unknown;
  expiresAt?: number;
  digest?: string;
}

/**
 * The limits in force for a run, as `session_init` reports them (ms for `timeout`, bytes for the `...Bytes` and `memoryLimit`).
 *
 * @example
 * ```ts
 * if (event.type === 'session_init') console.log('deadline in', event.payload.limits.timeout, 'ms');
 * ```
 */
export type RunLimits = Record<
  'timeout' | 'maxIterations' | 'maxToolCalls' | 'maxCallDepth' | 'memoryLimit' | 'maxOutputBytes' | 'maxLogBytes' | 'maxLogEntries' | 'maxInputBytes' | 'maxToolArgsBytes' | 'maxToolResultBytes',
  number
>;

/**
 * The payload of each event type.
 *
 * @example
 * ```ts
 * const describe = (p: EnclaveEventPayloads['tool_result']) => `${p.tool}: ${p.ok ? 'ok' : p.error?.code}`;
 * ```
 */
export interface EnclaveEventPayloads {
  /** The run started: its security level, isolation, limits and deadline (ms since the epoch). */
  session_init: { level: string; isolation: string; limits: RunLimits; expiresAt: number };
  log: LogEntry;
  /** A tool call started. `args` only when the server opts in. */
  tool_call: { callId: number; tool: string; args?: unknown };
  /** A tool call ended, as the script saw it. */
  tool_result: { callId: number; tool: string; ok: boolean; error?: { code: string; message: string }; durationMs: number };
  heartbeat: { elapsedMs: number };
  /** The run's result. Always the last event. */
  final: ExecutionResult;
  /**
   * The run stopped to wait for a person's decision on call `callId` (a tool with `needsApproval`): the
   * session is `waiting_for_approval` until `approve()` or `deny()`; then its events go on. `expiresAt`
   * (ms since the epoch): when the wait ends as `APPROVAL_EXPIRED`.
   */
  approval_required: PendingApproval;
  /**
   * Events with seq `fromSeq`..`toSeq` that are not coming: `count` older `log` events the server dropped
   * to stay within its byte budget. The client also sends one of its own when it finds seqs missing, and
   * when a `for await` loop falls more than `maxBufferedEvents` (or `maxBufferedLength` characters)
   * behind: then it stands for the oldest unread events (any kind, markers included) and `count` is how
   * many events of the run they were.
   */
  events_dropped: { fromSeq: number; toSeq: number; count: number };
}

/**
 * The event types.
 *
 * @example
 * ```ts
 * const shown: EnclaveEventType[] = ['log', 'tool_call', 'final'];
 * ```
 */
export type EnclaveEventType = keyof EnclaveEventPayloads;

/**
 * One event of a run, a union on `type`. `seq` counts from 1 without gaps within a session; `time` is
 * ms since the epoch.
 *
 * @example
 * ```ts
 * for await (const event of client.stream(code)) {
 *   if (event.type === 'log') console.log(event.payload.message);
 *   if (event.type === 'tool_call') console.log('calling', event.payload.tool);
 * }
 * ```
 */
export type EnclaveEvent<K extends EnclaveEventType = EnclaveEventType> = {
  [T in K]: { sessionId: string; seq: number; type: T; time: number; payload: EnclaveEventPayloads[T] };
}[K];

/**
 * Where a session is: `running` until its `final` event, `waiting_for_approval` while it is paused for a
 * person's decision (see `approve()`), and then how it ended.
 *
 * @example
 * ```ts
 * const { state } = await client.getSession(id); // 'running' | 'completed' | 'failed' | 'cancelled'
 * ```
 */
export type SessionState = 'running' | 'waiting_for_approval' | 'completed' | 'failed' | 'cancelled';

/**
 * `GET {url}/sessions/{id}`: a session's state, and its result once it has one.
 *
 * @example
 * ```ts
 * const status = await client.getSession(id);
 * if (status.state !== 'running') console.log(status.result);
 * ```
 */
export interface SessionStatus {
  sessionId: string;
  state: SessionState;
  result?: ExecutionResult;
  /** While `waiting_for_approval`: the call waiting. */
  pendingApproval?: PendingApproval;
}

/**
 * `POST {url}/sessions` answered with JSON: the new session and its routes (paths on the server).
 *
 * @example
 * ```ts
 * const { sessionId, eventsUrl } = await client.start(code); // eventsUrl: '/enclave/sessions/ses_.../events'
 * ```
 */
export interface StartedSession {
  sessionId: string;
  statusUrl: string;
  eventsUrl: string;
  cancelUrl: string;
}

/**
 * `GET {url}`: the catalog of the caller's tools and the dialect their scripts are written in.
 *
 * @example
 * ```ts
 * const { prompt } = await client.catalog(); // put it in the LLM's system prompt
 * ```
 */
export interface EnclaveCatalog {
  securityLevel: string;
  tools: { name: string; description?: string; inputSchema?: Record<string, unknown>; outputSchema?: Record<string, unknown>; sideEffect?: boolean; needsApproval?: 'always' | 'conditional'; timeout?: number; notes?: string[] }[];
  openToolNames: boolean;
  /** TypeScript declarations of `callTool` for the caller's tools, for a prompt. */
  declarations: string;
  dialect: string;
  limits: RunLimits;
  /** A ready-made prompt section describing all of the above. */
  prompt: string;
}

/**
 * Limits a request may lower (never raise) for its run.
 *
 * @example
 * ```ts
 * await client.run(code, { limits: { timeout: 2_000, maxToolCalls: 5 } });
 * ```
 */
export interface RunLimitsRequest {
  timeout?: number;
  maxToolCalls?: number;
  maxIterations?: number;
}
