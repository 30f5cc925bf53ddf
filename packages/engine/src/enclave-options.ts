/**
 * The first step of every Enclave: its options, and each run's, read once into settings the pipeline
 * uses without checking again. Everything wrong throws `EnclaveConfigError` naming the option.
 */
import type { LevelConfig, RuntimeLimits, SecurityLevel } from './levels.js';
import { ALWAYS_BLOCKED_IDENTIFIERS, LEVEL_CONFIGS, MB, RESERVED_PREFIX, SECURITY_LEVELS } from './levels.js';
import type { EnclaveEventListener } from './types.js';
import { SESSION_ID_RULE, isSessionId, newSessionId } from './events.js';
import type { DurableSettings } from './durable.js';
import { readDurableOptions } from './durable.js';
import { MAX_DELAY_MS, OptionChecker } from './options.js';
import type { RateLimitStore } from './rate-limit.js';
import { MemoryRateLimitStore } from './rate-limit.js';
import { DEFAULT_MAX_REALMS } from './sandbox/realm.js';
import { WORKER_POOL_PRESETS } from './sandbox/worker-pool.js';
import type { ResolvedGate } from './score/options.js';
import { resolveScoringGate } from './score/options.js';
import type { ToolMap } from './tools/registry.js';
import { mergeTools, readToolSet } from './tools/registry.js';
import { readSidecarOptions } from './tools/sidecar.js';
import type { CreateEnclaveOptions, Limits, RemoteAdapter, RunOptions, SidecarOptions, ToolCallHook, ToolFunction, ToolHandler, WorkerPoolConfig } from './types.js';

export const LIMIT_KEYS = [
  'timeout',
  'maxIterations',
  'maxToolCalls',
  'maxCallDepth',
  'memoryLimit',
  'maxOutputBytes',
  'maxLogBytes',
  'maxLogEntries',
  'maxInputBytes',
  'maxToolArgsBytes',
  'maxToolResultBytes',
] as const satisfies readonly (keyof Limits & keyof RuntimeLimits)[];

const OPTION_KEYS = new Set<string>([
  ...LIMIT_KEYS,
  'securityLevel',
  'validate',
  'transform',
  'tools',
  'toolHandler',
  'globals',
  'allowFunctionsInGlobals',
  'adapter',
  'workerPoolConfig',
  'realmPool',
  'toolTimeout',
  'onToolCall',
  'rateLimitStore',
  'sidecar',
  'scoringGate',
  'tracing',
]);
const RUN_OPTION_KEYS = new Set<string>([...LIMIT_KEYS, 'tools', 'toolHandler', 'globals', 'input', 'signal', 'context', 'onEvent', 'sessionId', 'heartbeatMs', 'includeToolArgs', 'traceContext', 'durable', 'limits']);
const REALM_POOL_KEYS = ['maxIdle', 'prewarm', 'maxRunsPerRealm', 'maxRealms'];
const WORKER_POOL_KEYS = ['minWorkers', 'maxWorkers', 'memoryLimitPerWorker', 'maxMessagesPerSecond', 'maxExecutionsPerWorker', 'maxQueueSize', 'idleTimeoutMs'];
const WRAPPER_NAMES = new Set(['callTool', 'console', 'input']);
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RESERVED_WORDS = new Set(
  'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async arguments eval undefined NaN Infinity'.split(
    ' ',
  ),
);

/** An instance's options, resolved against its level's defaults. */
export interface EnclaveSettings {
  level: SecurityLevel;
  config: LevelConfig;
  limits: Readonly<RuntimeLimits>;
  validate: boolean;
  transform: boolean;
  tools: ToolMap | undefined;
  toolHandler: ToolHandler | undefined;
  toolTimeout: number | undefined;
  onToolCall: ToolCallHook | undefined;
  rateLimitStore: RateLimitStore;
  sidecar: SidecarOptions | undefined;
  globals: Readonly<Record<string, unknown>>;
  allowFunctionsInGlobals: boolean;
  scoringGate: ResolvedGate | undefined;
  /** OpenTelemetry spans when a tracer provider is registered; `toolPayloads` puts tool arguments and results on them. */
  tracing: { toolPayloads: boolean } | undefined;
  realmPool: { maxIdle: number; prewarm: number; maxRunsPerRealm: number; maxRealms: number };
  /** Set exactly when `adapter` is `'worker_threads'`. */
  workerPool: WorkerPoolConfig | undefined;
  /**
   * With the `vm` adapter: the worker threads its runs go to while the host tracks async context (see
   * sandbox/async-context.ts), started on demand: the level's worker preset with no worker kept warm,
   * and as many workers as it allows whatever the CPU count (a run holds its worker while it waits for
   * its tools, as a `vm` run holds a realm).
   */
  asyncContextWorkers: WorkerPoolConfig;
  /** Set exactly when `adapter` is a remote adapter. */
  remote: RemoteAdapter | undefined;
}

/** One run's options merged over the instance's settings. */
export interface RunSettings {
  /** The instance's limits, lowered by the run's. */
  limits: RuntimeLimits;
  /** The run's named tools layered over the instance's. */
  tools: ToolMap | undefined;
  /** The run's handler, or the instance's. */
  handler: ToolHandler | undefined;
  /** Globals that are data: copied into the realm. */
  dataGlobals: Record<string, unknown>;
  /** Globals that are host functions: the realm gets async stubs that call them like tools. */
  functionGlobals: Record<string, ToolFunction>;
  /** Every global's name, sorted (the rewritten script's parameters follow this order). */
  globalNames: string[];
  /** Where the run's events go, if anywhere. */
  events: { listener: EnclaveEventListener; sessionId: string; heartbeatMs: number | undefined; includeToolArgs: boolean } | undefined;
  /** The run may pause for approvals (and this one may resume a pause). */
  durable: DurableSettings | undefined;
}

/** `tracing`: on by default (it costs nothing without a tracer provider), `false` turns it off. */
function readTracing(check: OptionChecker, value: unknown): { toolPayloads: boolean } | undefined {
  if (value === false) return undefined;
  if (value === undefined || value === true) return { toolPayloads: false };
  const o = check.object('tracing', value, 'a boolean or { toolPayloads?: boolean }') ?? {};
  check.knownKeys('tracing', o, ['toolPayloads']);
  return { toolPayloads: check.boolean('tracing.toolPayloads', o.toolPayloads) ?? false };
}

/** Zero means "none" for these counts; every other value must be a positive integer. */
function count(check: OptionChecker, name: string, value: unknown): number | undefined {
  return value === 0 ? 0 : check.positiveInteger(name, value);
}

/** The run's tool source: named tools or one handler, never both. */
function readToolSource(check: OptionChecker, options: { tools?: unknown; toolHandler?: unknown }): { tools: ToolMap | undefined; handler: ToolHandler | undefined } {
  if (options.tools !== undefined && options.toolHandler !== undefined) check.fail('give either tools or toolHandler, not both.');
  const handler = check.function<ToolHandler>('toolHandler', options.toolHandler, '(name, args, ctx) => result');
  return { tools: readToolSet(check, options.tools), handler };
}

function readGlobals(check: OptionChecker, value: unknown, allowFunctions: boolean): Record<string, unknown> | undefined {
  const globals = check.object('globals', value, 'a plain object');
  for (const [name, v] of Object.entries(globals ?? {})) {
    if (!IDENTIFIER.test(name) || RESERVED_WORDS.has(name) || WRAPPER_NAMES.has(name) || name.startsWith(RESERVED_PREFIX) || ALWAYS_BLOCKED_IDENTIFIERS.includes(name)) {
      check.fail(`globals: "${name}" cannot be used as a global name.`);
    }
    if (typeof v === 'function' && !allowFunctions) {
      check.fail(`globals["${name}"] is a function; set allowFunctionsInGlobals: true to expose it (it becomes an async function, like a tool).`);
    }
  }
  return globals;
}

/** The level's preset, then the CPU count for `maxWorkers`, then the caller's explicit fields. */
function readWorkerPoolConfig(check: OptionChecker, level: SecurityLevel, given: unknown): WorkerPoolConfig {
  const o = check.object('workerPoolConfig', given) ?? {};
  check.knownKeys('workerPoolConfig', o, WORKER_POOL_KEYS);
  const preset = WORKER_POOL_PRESETS[level];
  const pick = (key: string, fallback: number) => check.positiveInteger(`workerPoolConfig.${key}`, o[key]) ?? fallback;
  // Explicit fields win over the preset: a given maxWorkers lowers the preset's minWorkers to it, and a
  // given minWorkers raises the default maxWorkers to it. Only two given fields can contradict each other.
  const givenMin = count(check, 'workerPoolConfig.minWorkers', o.minWorkers);
  const givenMax = check.positiveInteger('workerPoolConfig.maxWorkers', o.maxWorkers);
  const minWorkers = givenMin ?? Math.min(preset.minWorkers, givenMax ?? Infinity);
  const cpus = (process.getBuiltinModule('node:os') as typeof import('node:os')).availableParallelism();
  const maxWorkers = givenMax ?? Math.max(minWorkers, Math.min(preset.maxWorkers, Math.max(1, cpus)));
  if (minWorkers > maxWorkers) check.fail(`workerPoolConfig.minWorkers (${minWorkers}) is larger than maxWorkers (${maxWorkers}).`);
  const config: WorkerPoolConfig = {
    minWorkers,
    maxWorkers,
    memoryLimitPerWorker: pick('memoryLimitPerWorker', preset.memoryLimitPerWorker),
    maxMessagesPerSecond: pick('maxMessagesPerSecond', preset.maxMessagesPerSecond),
    maxExecutionsPerWorker: pick('maxExecutionsPerWorker', 1000),
    maxQueueSize: count(check, 'workerPoolConfig.maxQueueSize', o.maxQueueSize) ?? 1000,
    idleTimeoutMs: check.delay('workerPoolConfig.idleTimeoutMs', o.idleTimeoutMs) ?? 30_000,
  };
  if (config.memoryLimitPerWorker < 16 * MB) check.fail('workerPoolConfig.memoryLimitPerWorker is in bytes and must be at least 16 MiB.');
  return config;
}

function readRealmPool(check: OptionChecker, given: unknown): EnclaveSettings['realmPool'] {
  const pool = check.object('realmPool', given) ?? {};
  check.knownKeys('realmPool', pool, REALM_POOL_KEYS);
  const maxRealms = check.positiveInteger('realmPool.maxRealms', pool.maxRealms) ?? DEFAULT_MAX_REALMS;
  const maxIdle = Math.min(count(check, 'realmPool.maxIdle', pool.maxIdle) ?? 256, maxRealms);
  const prewarm = count(check, 'realmPool.prewarm', pool.prewarm) ?? 2;
  return { maxIdle, prewarm: Math.min(prewarm, maxIdle), maxRunsPerRealm: check.positiveInteger('realmPool.maxRunsPerRealm', pool.maxRunsPerRealm) ?? 10_000, maxRealms };
}

/** An `adapter` that is an object must be a remote adapter (e.g. `redisRuntime({ redis })`). */
function readRemoteAdapter(check: OptionChecker, value: unknown): RemoteAdapter | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const adapter = check.withMethods<RemoteAdapter>('adapter', value, ['createIsolation'], '"vm", "worker_threads" or a remote adapter such as redisRuntime({ redis })');
  if (adapter?.kind !== 'remote') check.fail('adapter: an object adapter must be a remote adapter (kind "remote"), such as redisRuntime({ redis }) of @enclave-kit/redis.');
  return adapter;
}

/** Reads `new Enclave(options)`: the level's defaults, then every explicit option. */
export function readEnclaveOptions(options: CreateEnclaveOptions): EnclaveSettings {
  const check = new OptionChecker('new Enclave(options)');
  const o = check.object('options', options) ?? {};
  check.knownKeys('', o, OPTION_KEYS);
  const level = check.oneOf('securityLevel', o.securityLevel, SECURITY_LEVELS, 'STANDARD') ?? 'STANDARD';
  const remote = readRemoteAdapter(check, o.adapter);
  const adapter = remote === undefined ? (check.oneOf('adapter', o.adapter, ['vm', 'worker_threads'], 'vm') ?? 'vm') : 'remote';
  if (o.workerPoolConfig !== undefined && adapter !== 'worker_threads') check.fail('workerPoolConfig is only used with adapter: "worker_threads".');
  const config = LEVEL_CONFIGS[level];
  const limits: RuntimeLimits = { ...config.limits };
  for (const key of LIMIT_KEYS) limits[key] = check.positiveInteger(key, o[key]) ?? limits[key];
  // A deadline past the longest delay Node's timers keep is no deadline in practice; beyond it a timer
  // fires after 1 ms, which ended every run at once as TIMEOUT.
  limits.timeout = Math.min(limits.timeout, MAX_DELAY_MS);
  const allowFunctionsInGlobals = check.boolean('allowFunctionsInGlobals', o.allowFunctionsInGlobals) ?? false;
  const source = readToolSource(check, o);
  return {
    level,
    config,
    limits: Object.freeze(limits),
    validate: check.boolean('validate', o.validate) ?? true,
    transform: check.boolean('transform', o.transform) ?? true,
    tools: source.tools,
    toolHandler: source.handler,
    toolTimeout: check.delay('toolTimeout', o.toolTimeout),
    onToolCall: check.function<ToolCallHook>('onToolCall', o.onToolCall, '(event) => void'),
    rateLimitStore: check.withMethods<RateLimitStore>('rateLimitStore', o.rateLimitStore, ['hit'], 'a hit(key, windowMs) method') ?? new MemoryRateLimitStore(),
    sidecar: readSidecarOptions(check, o.sidecar, level),
    globals: { ...readGlobals(check, o.globals, allowFunctionsInGlobals) },
    allowFunctionsInGlobals,
    scoringGate: resolveScoringGate(check, o.scoringGate, level),
    tracing: readTracing(check, o.tracing),
    realmPool: readRealmPool(check, o.realmPool),
    workerPool: adapter === 'worker_threads' ? readWorkerPoolConfig(check, level, o.workerPoolConfig) : undefined,
    asyncContextWorkers: readWorkerPoolConfig(check, level, { minWorkers: 0, maxWorkers: WORKER_POOL_PRESETS[level].maxWorkers }),
    remote,
  };
}

/**
 * Reads `run(code, options)` over the instance's settings: limits may only lower the instance's, named
 * tools are layered over the instance's, a handler replaces the instance's, globals merge over its.
 */
export function readRunOptions(settings: EnclaveSettings, runOptions: RunOptions, where = 'run(code, options)'): RunSettings {
  const check = new OptionChecker(where);
  const o = check.object('options', runOptions) ?? {};
  check.knownKeys('', o, RUN_OPTION_KEYS);
  // The run listens on it and lets go of it at its end: anything else would fail there, run started.
  if (o.signal !== undefined && !isAbortSignal(o.signal)) check.fail('signal must be an AbortSignal.');
  const limits = { ...settings.limits };
  // `limits: { ... }` as the HTTP body has it, or flat; each can only lower the instance's limits.
  const nested = check.object('limits', o.limits, 'an object of limits ({ timeout, maxToolCalls, ... })') ?? {};
  check.knownKeys('limits', nested, LIMIT_KEYS);
  // A limit can only lower the instance's: an integer past what a double counts exactly (1e20) lowers nothing.
  const lowering = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : value);
  for (const key of LIMIT_KEYS) {
    limits[key] = Math.min(limits[key], check.positiveInteger(key, lowering(o[key])) ?? limits[key], check.positiveInteger(`limits.${key}`, lowering(nested[key])) ?? limits[key]);
  }
  const source = readToolSource(check, o);
  const globals: Record<string, unknown> = { ...settings.globals, ...readGlobals(check, o.globals, settings.allowFunctionsInGlobals) };
  const dataGlobals: Record<string, unknown> = {};
  const functionGlobals: Record<string, ToolFunction> = {};
  for (const [name, value] of Object.entries(globals)) {
    if (typeof value === 'function') functionGlobals[name] = value as ToolFunction;
    else dataGlobals[name] = value;
  }
  const listener = check.function('onEvent', o.onEvent, '(event) => void') as EnclaveEventListener | undefined;
  const sessionId = o.sessionId;
  if (sessionId !== undefined && !isSessionId(sessionId)) check.fail(`sessionId is not a session id: ${SESSION_ID_RULE}.`);
  const heartbeatMs = check.delay('heartbeatMs', o.heartbeatMs);
  check.boolean('includeToolArgs', o.includeToolArgs);
  const durable = readDurableOptions(o.durable);
  return {
    durable,
    events: listener === undefined ? undefined : { listener, sessionId: (sessionId as string | undefined) ?? newSessionId(), heartbeatMs, includeToolArgs: o.includeToolArgs === true },
    limits,
    tools: mergeTools(settings.tools, source.tools),
    handler: source.handler ?? settings.toolHandler,
    dataGlobals,
    functionGlobals,
    globalNames: Object.keys(globals).sort(),
  };
}

/** An `AbortSignal`, of this realm or another's (a polyfill's, a test environment's): what a run uses of one. */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function' && typeof s.removeEventListener === 'function';
}

/** Reads the `tools` given to `describe()`: layered over the instance's, as in `run()`. */
export function readDescribeTools(settings: EnclaveSettings, tools: unknown): ToolMap | undefined {
  return mergeTools(settings.tools, readToolSet(new OptionChecker('describe(tools)'), tools));
}
