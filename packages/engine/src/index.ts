export { Enclave } from './enclave.js';
export { checkAgentScript } from './pipeline.js';
export type { CheckOptions, CheckResult, CompiledScript } from './pipeline.js';
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
  ExecutionResult,
  ExecutionStats,
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
} from './types.js';
export * from './http/index.js';
export { handleNodeRequest, toFetchRequest, writeFetchResponse } from './node/index.js';
export type { NodeRequest, ToFetchRequestOptions } from './node/index.js';
