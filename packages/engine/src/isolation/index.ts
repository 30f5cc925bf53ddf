/**
 * `@enclave-kit/engine/isolation`: plumbing for isolations outside this package (the remote runtime
 * nodes of `@enclave-kit/redis`). An app never imports this: it passes an adapter such as
 * `redisRuntime({ redis })` as the Enclave's `adapter`. What is here is the contract between the
 * host's run driver and whatever executes runs (`Isolation`), the worker pool a runtime node runs its
 * runs in, and the checks every message from an isolation goes through before it is believed.
 */
export type {
  EntryCall,
  EntryEnd,
  EntryLog,
  EntryOutput,
  IsolatedJob,
  IsolatedRun,
  Isolation,
  IsolationEvents,
  IsolationFailureCode,
  IsolationKind,
  ScriptPositions,
} from '../sandbox/isolation.js';
export type { LogLevel, NdKind, NdValue, RealmLimits, ToolReply } from '../sandbox/realm-abi.js';
export type { RealmPoolOptions } from '../sandbox/realm.js';
export type { WireEnd } from '../sandbox/worker-protocol.js';
export { checkMessage, formatMessage, wireEntry } from '../sandbox/worker-protocol.js';
export { toolErrorReply } from '../sandbox/realm-abi.js';
export { isNdValues } from '../sandbox/nondeterminism.js';
export { jsonWithin } from '../sanitize/codec.js';
export { WORKER_POOL_PRESETS, WorkerPool, maxMessageBytes, readEntry } from '../sandbox/worker-pool.js';
export { EntryCaps, entryValues } from '../sandbox/entry-caps.js';
export type { WorkerPoolOptions } from '../sandbox/worker-pool.js';
export { installRejectionGuard } from '../sandbox/rejections.js';
export type { RemoteAdapter, RemoteAdapterContext, WorkerPoolConfig, WorkerPoolStats } from '../types.js';
