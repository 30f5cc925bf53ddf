export { Enclave } from './enclave.js';
export { checkAgentScript } from './pipeline.js';
export type { CheckOptions, CheckResult, CompiledScript } from './pipeline.js';
export { ErrorCode, EnclaveConfigError } from './errors.js';
export { SecurityLevel, LEVEL_CONFIGS, SECURITY_LEVELS } from './levels.js';
export type { Dialect, LevelConfig, RuntimeLimits, ScanLimits } from './levels.js';
export { ToolError } from './sandbox/tool-errors.js';
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
  ToolContext,
  ToolFunction,
  ToolHandler,
  ToolSet,
} from './types.js';
