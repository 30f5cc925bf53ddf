/**
 * Every way a run can end, as a stable code. `run()` never throws for anything the script or its input
 * does: it returns an `ExecutionResult` whose `error.code` is one of these.
 *
 * @example
 * ```ts
 * const r = await enclave.run(code, { tools });
 * if (!r.success && r.error?.code === ErrorCode.TIMEOUT) retryWithSmallerTask();
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
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Thrown only at construction time, for options that are missing, malformed or contradictory; the
 * message names the option.
 *
 * @example
 * ```ts
 * new Enclave({ timeot: 100 }); // EnclaveConfigError: new Enclave(options): unknown option "timeot". ...
 * ```
 */
export class EnclaveConfigError extends Error {
  override readonly name = 'EnclaveConfigError';
  readonly code = 'CONFIG_ERROR';
}
