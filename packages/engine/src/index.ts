export { Enclave } from './enclave.js';
export { checkAgentScript } from './pipeline.js';
export type { CheckOptions, CheckResult, CompiledScript } from './pipeline.js';
export { ErrorCode, EnclaveConfigError } from './errors.js';
export { SecurityLevel, LEVEL_CONFIGS, SECURITY_LEVELS } from './levels.js';
export type { Dialect, LevelConfig, RuntimeLimits, ScanLimits } from './levels.js';
export { ToolError } from './sandbox/tool-errors.js';
export { WORKER_POOL_PRESETS } from './sandbox/worker-pool.js';
export type { WorkerPoolConfig, WorkerPoolStats } from './sandbox/worker-pool.js';
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
  ToolContext,
  ToolFunction,
  ToolHandler,
  ToolSet,
} from './types.js';
export * from './http/index.js';
export { handleNodeRequest, toFetchRequest, writeFetchResponse } from './node/index.js';
export type { NodeRequest, ToFetchRequestOptions } from './node/index.js';
