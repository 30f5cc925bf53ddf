/**
 * `@enclave-kit/client`: a fetch client of an enclave-kit route, for browsers and Node. Run a script,
 * stream its events (resumed after dropped connections, each event once and in order), attach to a
 * session, read its state, cancel it, approve or deny a call it waits on.
 *
 * @example
 * ```ts
 * import { createEnclaveClient } from '@enclave-kit/client';
 *
 * const client = createEnclaveClient({ url: '/enclave' });
 * for await (const event of client.stream('console.log("hi"); return 42')) console.log(event.type);
 * ```
 */
export { createEnclaveClient } from './client.js';
export type { ApprovalAnswer, EnclaveClient, EnclaveClientOptions, FollowOptions, RequestOptions, RunOptions, SessionOptions, StreamOptions } from './client.js';
export { EnclaveClientError } from './errors.js';
export type { EnclaveClientErrorCode, EnclaveClientErrorInit } from './errors.js';
export { eventLength } from './follow.js';
export type { RetryInfo, RetryPolicy, StreamFormat } from './follow.js';
export type { FetchLike, HeadersOption } from './http.js';
export { NdjsonParser } from './ndjson.js';
export { SseParser } from './sse.js';
export type { SseMessage } from './sse.js';
export type { EnclaveEventStream } from './stream.js';
export type {
  EnclaveCatalog,
  EnclaveEvent,
  EnclaveEventPayloads,
  EnclaveEventType,
  ExecutionError,
  ExecutionFailure,
  ExecutionResult,
  ExecutionStats,
  ExecutionSuccess,
  LogEntry,
  PendingApproval,
  RunErrorCode,
  RunLimits,
  RunLimitsRequest,
  ScoringVerdict,
  SessionState,
  SessionStatus,
  StartedSession,
} from './types.js';
