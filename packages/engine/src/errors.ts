/**
 * Every way a run can end, as a stable code. `run()` never throws for anything the script or its input
 * does: it returns an `ExecutionResult` whose `error.code` is one of these.
 *
 * @example
 * ```ts
 * const r = await enclave.run(code, { tools });
 * if (!r.success && r.error.code === ErrorCode.TIMEOUT) retryWithSmallerTask();
 * ```
 */
export const ErrorCode = {
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  RUNTIME_ERROR: 'RUNTIME_ERROR',
  TIMEOUT: 'TIMEOUT',
  MAX_ITERATIONS: 'MAX_ITERATIONS',
  MAX_TOOL_CALLS: 'MAX_TOOL_CALLS',
  MEMORY_LIMIT_EXCEEDED: 'MEMORY_LIMIT_EXCEEDED',
  TOOL_ERROR: 'TOOL_ERROR',
  SCORING_BLOCKED: 'SCORING_BLOCKED',
  ABORTED: 'ABORTED',
  OUTPUT_LIMIT_EXCEEDED: 'OUTPUT_LIMIT_EXCEEDED',
  QUEUE_FULL: 'QUEUE_FULL',
  /** A session's run was lost with the app instance running it (crash, `kill -9`): it did not finish. */
  RUN_LOST: 'RUN_LOST',
  /**
   * Only in a `final` event a session's reader makes itself: the session was gone from the store before
   * the reader saw its end (it expired, was forgotten to make room, or the store lost it and the
   * instance running it could not write it again). Its result is unknown.
   */
  SESSION_LOST: 'SESSION_LOST',
  /**
   * Remote runtime nodes (`@enclave-kit/redis`): no node took the run within the queue timeout, or the
   * queue could not be reached. Nothing of the script ran; safe to retry.
   */
  RUNTIME_UNAVAILABLE: 'RUNTIME_UNAVAILABLE',
  /**
   * Remote runtime nodes: the node running the run stopped (crash, `kill -9`) or the connection to it
   * was lost mid-run. Tools may have run; the run is never retried elsewhere.
   */
  RUNTIME_LOST: 'RUNTIME_LOST',
  /**
   * A durable run stopped to wait for a person's approval of a tool call (`needsApproval`): not an
   * end. `result.paused` holds what resuming needs; a session is `waiting_for_approval` meanwhile.
   */
  APPROVAL_REQUIRED: 'APPROVAL_REQUIRED',
  /** A paused run's approval did not come within `maxPauseDuration`. */
  APPROVAL_EXPIRED: 'APPROVAL_EXPIRED',
  /** A resumed run took another path than its journal (another tool, other arguments): nothing further ran. */
  REPLAY_DIVERGED: 'REPLAY_DIVERGED',
  /** A durable run needed more approvals than `maxPauses`. */
  MAX_PAUSES: 'MAX_PAUSES',
  /** A durable run's journal outgrew `maxJournalBytes`. */
  JOURNAL_LIMIT_EXCEEDED: 'JOURNAL_LIMIT_EXCEEDED',
  /**
   * A paused session's state came back from the session store unusable: larger than the app writes, not
   * signed by it (`sessions.stateKey`), unreadable, or not the call the store showed for approval. Nothing more ran.
   */
  STATE_REJECTED: 'STATE_REJECTED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Thrown only at construction time, for options that are missing, malformed or contradictory; the
 * message names the option.
 *
 * @example
 * ```ts
 * new Enclave({ timeot: 100 }); // EnclaveConfigError: new Enclave(options): unknown option "timeot". Did you mean "timeout"? ...
 * ```
 */
export class EnclaveConfigError extends Error {
  override readonly name = 'EnclaveConfigError';
  readonly code = 'CONFIG_ERROR';
}

/** What a ToolError's code may be; any other becomes `TOOL_ERROR`. */
export const TOOL_ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * An error a tool throws on purpose: its message and code reach the script (as a catchable `ToolError`
 * with `err.code`) and, if unhandled, the result (`error.code === 'TOOL_ERROR'`,
 * `error.data.toolErrorCode`). Any other error a tool throws is redacted to `Tool "name" failed.`
 *
 * @example
 * ```ts
 * const tools = {
 *   'orders:get': async ({ id }) => {
 *     const order = await db.orders.get(id);
 *     if (!order) throw new ToolError(`No order ${id}`, { code: 'NOT_FOUND', status: 404 });
 *     return order;
 *   },
 * };
 * ```
 */
export class ToolError extends Error {
  override name = 'ToolError';
  /** A stable, machine-readable code the script can branch on (e.g. `NOT_FOUND`). */
  readonly code: string;
  /**
   * An HTTP status the adapters may use when the script does not handle the error; it reaches the
   * script as `err.data.status` and the result as `error.data.status`.
   */
  readonly status: number | undefined;
  /**
   * Public, JSON-serializable details (at most 4 KB as JSON, otherwise dropped): the script sees them
   * as `err.data`, the result as `error.data` (e.g. `{ retryAfterMs }` for a rate limit).
   */
  readonly data: Readonly<Record<string, unknown>> | undefined;
  constructor(message: string, options: { code?: string; status?: number; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code !== undefined && TOOL_ERROR_CODE.test(options.code) ? options.code : 'TOOL_ERROR';
    this.status = Number.isInteger(options.status) && (options.status as number) >= 400 && (options.status as number) <= 599 ? options.status : undefined;
    this.data = options.data;
  }
}
