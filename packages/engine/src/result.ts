import type { ErrorCode } from './errors.js';
import type { ExecutionError, ExecutionFailure, ExecutionStats } from './types.js';

/** The stats of a run that ended before its script ran: nothing was counted. */
export function noStats(duration = 0): ExecutionStats {
  return { duration, toolCallCount: 0, iterationCount: 0 };
}

/**
 * The one builder of a failed result, wherever a run can end: the engine before and around a run, the
 * run drivers of both isolations, the HTTP core (whose request errors use their own codes).
 */
export function failure<C extends string = ErrorCode>(
  code: C,
  name: string,
  message: string,
  stats: ExecutionStats = noStats(),
  extra: Pick<ExecutionError, 'location' | 'data'> = {},
): ExecutionFailure<C> {
  return { success: false, error: { name, message, code, ...extra }, stats };
}

/** What every layer answers for a bug of ours: a fixed text that says nothing about the host. */
export function internalFailure(stats?: ExecutionStats): ExecutionFailure {
  return failure('INTERNAL_ERROR', 'InternalError', 'An internal error occurred.', stats);
}
