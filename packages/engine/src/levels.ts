/**
 * Security levels. A level sets coherent defaults for every layer: the pre-scan limits, the AgentScript
 * dialect the validator accepts, the run-time budgets and the output caps. Explicit options win over
 * the level's defaults.
 *
 * @example
 * ```ts
 * const enclave = new Enclave({ securityLevel: SecurityLevel.STRICT, timeout: 2_000 });
 * LEVEL_CONFIGS.STRICT.limits.maxToolCalls; // 10
 * ```
 */
export const SecurityLevel = {
  STRICT: 'STRICT',
  SECURE: 'SECURE',
  STANDARD: 'STANDARD',
  PERMISSIVE: 'PERMISSIVE',
} as const;

export type SecurityLevel = (typeof SecurityLevel)[keyof typeof SecurityLevel];

export const SECURITY_LEVELS: readonly SecurityLevel[] = ['STRICT', 'SECURE', 'STANDARD', 'PERMISSIVE'];

/** Limits of the pre-scan (layer 0), applied to the raw source text before parsing. */
export interface ScanLimits {
  /** Maximum source size in UTF-8 bytes. */
  maxCodeBytes: number;
  maxLines: number;
  maxLineLength: number;
  /** Maximum bracket nesting depth: `(`, `[`, `{` and template `${` together. */
  maxNesting: number;
  /** Maximum number of regex literals. 0 blocks them. */
  maxRegexCount: number;
  /** Maximum length of one regex literal's pattern. */
  maxRegexLength: number;
}

/** The AgentScript dialect accepted by the validator (layer 1). */
export interface Dialect {
  /** `while` and `do-while`. */
  whileLoops: boolean;
  /** `for-in`. */
  forIn: boolean;
  /** `function name() {}` declarations (helpers). */
  functionDeclarations: boolean;
  /** `function () {}` expressions and object-literal methods. */
  functionExpressions: boolean;
  /** `async` arrow functions and async function declarations. */
  asyncFunctions: boolean;
  /** Generators and `yield`. */
  generators: boolean;
  /** `class` declarations and expressions, and `this` inside them. */
  classes: boolean;
  /** Getters and setters in object literals and classes. */
  accessors: boolean;
  /** Regex literals (still subject to the pre-scan's ReDoS check). */
  regexLiterals: boolean;
  /** `throw` statements. */
  throwStatements: boolean;
  /** Labeled statements. */
  labels: boolean;
  /** BigInt literals. */
  bigint: boolean;
  /** Global identifiers the script may read. `callTool`, `input` and user globals are added per run. */
  globals: readonly string[];
}

/** Run-time budgets (layer 4) and output caps (layer 5). */
export interface RuntimeLimits {
  /** Deadline of a run in milliseconds, covering every moment of script execution and tool waits. */
  timeout: number;
  /** Iterations across all loops and function calls (callbacks included) of one run. */
  maxIterations: number;
  maxToolCalls: number;
  /** Nesting of synchronous user function calls. */
  maxCallDepth: number;
  /** Bytes: the largest single allocation and the growth of the heap a run may cause. */
  memoryLimit: number;
  /** Bytes of the serialized result value. */
  maxOutputBytes: number;
  /** Bytes of captured console output. */
  maxLogBytes: number;
  /** Number of captured console entries. */
  maxLogEntries: number;
  /** Bytes of serialized `input` plus `globals` copied into a run. */
  maxInputBytes: number;
  /** Bytes of one serialized tool argument object. */
  maxToolArgsBytes: number;
  /** Bytes of one serialized tool result. */
  maxToolResultBytes: number;
}

export interface LevelConfig {
  level: SecurityLevel;
  scan: ScanLimits;
  dialect: Dialect;
  limits: RuntimeLimits;
}

/** Byte units for the limit tables (here, the sidecar's and the worker pool's). */
export const KB = 1024;
export const MB = 1024 * KB;

/** Globals of the seed dialect, available at every level. */
const BASE_GLOBALS = [
  'Math',
  'JSON',
  'Array',
  'Object',
  'String',
  'Number',
  'Boolean',
  'Date',
  'undefined',
  'NaN',
  'Infinity',
] as const;

const SECURE_GLOBALS = [
  ...BASE_GLOBALS,
  'parseInt',
  'parseFloat',
  'isNaN',
  'isFinite',
  'encodeURIComponent',
  'decodeURIComponent',
  'encodeURI',
  'decodeURI',
  // SECURE allows `throw`, so it needs something to throw.
  'Error',
  'TypeError',
  'RangeError',
] as const;

const STANDARD_GLOBALS = [
  ...SECURE_GLOBALS,
  'Map',
  'Set',
  'WeakMap',
  'WeakSet',
  'Promise',
  'SyntaxError',
  'ReferenceError',
  'URIError',
  'EvalError',
  'AggregateError',
  'RegExp',
  'structuredClone',
  'BigInt',
  'Symbol',
  'console',
] as const;

const PERMISSIVE_GLOBALS = [...STANDARD_GLOBALS, 'Intl', 'Reflect', 'Proxy'] as const;

export const LEVEL_CONFIGS: Readonly<Record<SecurityLevel, LevelConfig>> = {
  STRICT: {
    level: 'STRICT',
    scan: { maxCodeBytes: 32 * KB, maxLines: 1000, maxLineLength: 2000, maxNesting: 24, maxRegexCount: 0, maxRegexLength: 0 },
    dialect: {
      whileLoops: false,
      forIn: false,
      functionDeclarations: false,
      functionExpressions: false,
      asyncFunctions: false,
      generators: false,
      classes: false,
      accessors: false,
      regexLiterals: false,
      throwStatements: false,
      labels: false,
      bigint: false,
      globals: BASE_GLOBALS,
    },
    limits: {
      timeout: 5_000,
      maxIterations: 10_000,
      maxToolCalls: 10,
      maxCallDepth: 64,
      memoryLimit: 16 * MB,
      maxOutputBytes: 256 * KB,
      maxLogBytes: 64 * KB,
      maxLogEntries: 100,
      maxInputBytes: 256 * KB,
      maxToolArgsBytes: 64 * KB,
      maxToolResultBytes: 1 * MB,
    },
  },
  SECURE: {
    level: 'SECURE',
    scan: { maxCodeBytes: 64 * KB, maxLines: 2000, maxLineLength: 4000, maxNesting: 32, maxRegexCount: 0, maxRegexLength: 0 },
    dialect: {
      whileLoops: false,
      forIn: false,
      functionDeclarations: false,
      functionExpressions: false,
      asyncFunctions: false,
      generators: false,
      classes: false,
      accessors: false,
      regexLiterals: false,
      throwStatements: true,
      labels: false,
      bigint: false,
      globals: SECURE_GLOBALS,
    },
    limits: {
      timeout: 15_000,
      maxIterations: 100_000,
      maxToolCalls: 50,
      maxCallDepth: 128,
      memoryLimit: 32 * MB,
      maxOutputBytes: 1 * MB,
      maxLogBytes: 256 * KB,
      maxLogEntries: 500,
      maxInputBytes: 1 * MB,
      maxToolArgsBytes: 256 * KB,
      maxToolResultBytes: 4 * MB,
    },
  },
  STANDARD: {
    level: 'STANDARD',
    scan: { maxCodeBytes: 256 * KB, maxLines: 5000, maxLineLength: 10_000, maxNesting: 48, maxRegexCount: 64, maxRegexLength: 500 },
    dialect: {
      whileLoops: true,
      forIn: true,
      functionDeclarations: true,
      functionExpressions: true,
      asyncFunctions: true,
      generators: false,
      classes: false,
      accessors: false,
      regexLiterals: true,
      throwStatements: true,
      labels: true,
      bigint: true,
      globals: STANDARD_GLOBALS,
    },
    limits: {
      timeout: 30_000,
      maxIterations: 1_000_000,
      maxToolCalls: 100,
      maxCallDepth: 256,
      memoryLimit: 64 * MB,
      maxOutputBytes: 4 * MB,
      maxLogBytes: 1 * MB,
      maxLogEntries: 1000,
      maxInputBytes: 4 * MB,
      maxToolArgsBytes: 1 * MB,
      maxToolResultBytes: 16 * MB,
    },
  },
  PERMISSIVE: {
    level: 'PERMISSIVE',
    scan: { maxCodeBytes: 1 * MB, maxLines: 20_000, maxLineLength: 50_000, maxNesting: 96, maxRegexCount: 256, maxRegexLength: 2000 },
    dialect: {
      whileLoops: true,
      forIn: true,
      functionDeclarations: true,
      functionExpressions: true,
      asyncFunctions: true,
      generators: true,
      classes: true,
      accessors: true,
      regexLiterals: true,
      throwStatements: true,
      labels: true,
      bigint: true,
      globals: PERMISSIVE_GLOBALS,
    },
    limits: {
      timeout: 60_000,
      maxIterations: 10_000_000,
      maxToolCalls: 1000,
      maxCallDepth: 512,
      memoryLimit: 256 * MB,
      maxOutputBytes: 16 * MB,
      maxLogBytes: 4 * MB,
      maxLogEntries: 10_000,
      maxInputBytes: 16 * MB,
      maxToolArgsBytes: 4 * MB,
      maxToolResultBytes: 64 * MB,
    },
  },
};

/**
 * The most JSON values (array elements and properties, the arguments themselves included) one tool
 * call's arguments may hold; the host refuses a call over it before it decodes the arguments or runs
 * the tool's input schema. That work grows with the values, not the bytes: a Standard Schema library
 * builds one issue per bad element (zod 4: about 4 us each on a small machine, so 100k bad elements
 * hold the host's event loop for about 0.4 s; `JSON.parse` of 1 MB of `{}` alone takes 0.14 s). The caps keep the
 * worst call in the tens of milliseconds; 5,000 ids in one call fit at every level.
 */
export const MAX_TOOL_ARGS_VALUES: Readonly<Record<SecurityLevel, number>> = { STRICT: 10_000, SECURE: 10_000, STANDARD: 10_000, PERMISSIVE: 20_000 };

/**
 * Names that are never allowed as identifiers, at any level: they name the host, code generation,
 * or internals of the runtime. The runtime blocks them too; the validator says so early and clearly.
 */
export const ALWAYS_BLOCKED_IDENTIFIERS: readonly string[] = [
  'eval',
  'Function',
  'AsyncFunction',
  'GeneratorFunction',
  'AsyncGeneratorFunction',
  'process',
  'require',
  'module',
  'exports',
  '__dirname',
  '__filename',
  'Buffer',
  'global',
  'globalThis',
  'window',
  'self',
  'frames',
  'arguments',
  'WebAssembly',
  'SharedArrayBuffer',
  'Atomics',
  'WeakRef',
  'FinalizationRegistry',
  'ShadowRealm',
  'importScripts',
  'setTimeout',
  'setInterval',
  'setImmediate',
  'queueMicrotask',
  'fetch',
  'XMLHttpRequest',
  'WebSocket',
];

/**
 * Property names that lead to constructors or rewrite prototypes; blocked as static and literal computed
 * keys, and at run time as computed keys. `prototype`, `caller` and `callee` are not here: in a frozen,
 * strict realm without code generation they reach nothing dangerous, and ordinary code uses them
 * (`Object.prototype.hasOwnProperty.call(o, k)`, records with a `caller` field, a word count that meets
 * the word "prototype").
 */
export const BLOCKED_PROPERTIES: readonly string[] = [
  'constructor',
  '__proto__',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
];

/** Identifiers with this prefix belong to the runtime; user code may neither declare nor read them. */
export const RESERVED_PREFIX = '__ek';
