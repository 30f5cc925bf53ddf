/**
 * `@enclave-kit/engine`: what an application writes. Adapter plumbing lives at
 * `@enclave-kit/engine/http` (route matching, option check, body reading) and `@enclave-kit/engine/node`
 * (the Node request/response bridge, including `handleNodeRequest` for plain `node:http` servers).
 */
export { Enclave } from './enclave.js';
export { checkAgentScript } from './pipeline.js';
export type { CheckIssue, CheckOptions, CheckReport, CheckResult, CompiledScript } from './pipeline.js';
export { ErrorCode, EnclaveConfigError, ToolError } from './errors.js';
export { SecurityLevel, LEVEL_CONFIGS, SECURITY_LEVELS } from './levels.js';
export type { Dialect, LevelConfig, RuntimeLimits, ScanLimits } from './levels.js';
export { WORKER_POOL_PRESETS } from './sandbox/worker-pool.js';
export { defineTool } from './tools/define.js';
export { MemoryRateLimitStore } from './rate-limit.js';
export type { RateLimitHit, RateLimitStore } from './rate-limit.js';
export { jsonLinesAudit } from './tools/audit.js';
export { describeDialect } from './tools/dialect.js';
export type { DialectTextOptions } from './tools/dialect.js';
export type { EnclaveDescription, ToolDescription } from './tools/describe.js';
export { SIDECAR_DEFAULTS } from './tools/sidecar.js';
export type { InferInput, InferOutput, StandardSchemaV1 } from './standard-schema.js';
export type { SchemaIssue } from './tools/schema.js';
export { SCORING_DEFAULTS, SIGNAL_WEIGHTS, scoreAgentScript } from './score/index.js';
export type {
  ExternalScoreRequest,
  ExternalScorerFn,
  ExternalScorerOptions,
  ExternalVerdict,
  ScoreOptions,
  ScoringDecision,
  ScoringGateOptions,
  ScoringLocation,
  ScoringResult,
  ScoringSignal,
  ScoringWarning,
  ToolRisk,
  ToolRiskTag,
} from './score/index.js';
export type {
  CreateEnclaveOptions,
  ExecutionError,
  ExecutionFailure,
  ExecutionResult,
  ExecutionStats,
  ExecutionSuccess,
  Issue,
  Limits,
  LogEntry,
  RealmPoolConfig,
  RunOptions,
  SidecarOptions,
  SidecarReference,
  ToolCallEvent,
  ToolCallHook,
  ToolConfig,
  ToolContext,
  ToolDefinition,
  ToolFunction,
  ToolHandler,
  ToolRateLimit,
  ToolSet,
  WorkerPoolConfig,
  WorkerPoolStats,
  EnclaveEvent,
  EnclaveEventListener,
  EnclaveEventPayloads,
  EnclaveEventType,
  EnclaveRunStream,
  EventsDroppedPayload,
  HeartbeatPayload,
  SessionInitPayload,
  ToolCallPayload,
  ToolResultPayload,
  ApprovalDecision,
  ApprovalRequiredPayload,
  DurableRunOptions,
  JournalCall,
  PausedRun,
  PendingApproval,
  RunJournal,
} from './types.js';
export { DURABLE_DEFAULTS } from './durable.js';
export { EVENT_TYPES } from './events.js';
export { createEnclaveHandler } from './http/handler.js';
export type {
  EnclaveFetchHandler,
  EnclaveHandlerBaseOptions,
  EnclaveHandlerOptions,
  EnclaveLogger,
  EnclaveRequestContext,
  EnclaveRoute,
  EnclaveRouteContext,
  RateLimitOptions,
  RunScope,
  SessionOptions,
  ToolSourceOptions,
} from './http/handler-common.js';
export type { RunRequestBody } from './http/body.js';
export { EnclaveHttpError } from './http/errors.js';
export { MemorySessionStore } from './http/session-store.js';
export type { FinalSessionState, MemorySessionStoreOptions, PausedSession, SessionRecord, SessionState, SessionStore } from './http/session-store.js';
export { MemoryLeaseStore } from './leases.js';
export type { LeaseStore } from './leases.js';
export { ENCLAVE_HTTP_STATUS } from './http/status.js';
export type { HttpOutcome, RequestErrorCode } from './http/status.js';
