/**
 * Shared canaries and runners for the attack suite (test/attacks).
 *
 * Every attack is judged on the HOST side, never by what the script claims: a host global an escaped
 * script would set, spy tools whose calls are counted and time-stamped, host objects whose mutation is
 * checked, prototype and environment snapshots, and a walk over every string of the result looking for
 * host paths, host stack frames and secrets. After each attack a second tenant runs on the same Enclave
 * (and, with the pool below, in the same realm) and must see a pristine world.
 *
 * To run the whole suite against another isolation adapter, add one row to ADAPTERS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Enclave, ErrorCode, ToolError } from '../src/index.js';
import type { CreateEnclaveOptions, ExecutionResult, RunOptions, ToolContext, ToolSet } from '../src/index.js';
import { repeatRun } from './repeat-run.js';

// ---- adapters ---------------------------------------------------------------------------------

export interface Adapter {
  name: string;
  /** Options every Enclave of this row gets (an attack's own options are merged over them). */
  options: CreateEnclaveOptions;
  /** Whether the AST validation runs: a VALIDATION_ERROR is then an acceptable way to stop an attack. */
  validates: boolean;
}

/**
 * One realm kept idle and none built ahead: the tenant that runs after an attack reuses the attacker's
 * realm whenever the runtime judged it clean, which is exactly what invariant 7 must survive.
 */
export const REUSE_ONE_REALM = { maxIdle: 1, prewarm: 0 } as const;

/** Every attack runs once per row. A worker adapter becomes one more row here. */
/**
 * One warm worker, so the tenant after an attack runs in the attacker's worker (and, when it was judged
 * clean, in the attacker's realm there); more start only for attacks that run several runs at once.
 */
export const ONE_WORKER = { minWorkers: 1, maxWorkers: 4 } as const;

/** Options as text with every object's keys sorted, so that the same options written in another order match. */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/**
 * Whether a validated row adds nothing, on another Node version, to `twin`, the same row with
 * validate:false. With the rewriter on, validation only decides whether the script runs at all
 * (pipeline.ts: its issues stop the script; what runs when it passes is the same rewritten text as
 * without it; test/repeat-rows.test.ts holds the engine to that), and that verdict comes from oxc's
 * native parser and the validator's walk over its tree, not from the Node that runs them. So on Node 22
 * and 24 such a row either refuses an attack (the first run checked that very verdict) or runs what the
 * twin runs, each followed by a tenant that must find a pristine world in both rows. Not with
 * transform:false: there validation also gives the realm the parser's answer to whether the script
 * names private members (namesPrivately), where with both layers off the realm reads the text itself.
 */
function twinOf(row: Adapter, twin: Adapter): boolean {
  if (!row.validates || row.options.validate === false || row.options.transform === false) return false;
  return !twin.validates && twin.options.validate === false && canonical({ ...twin.options, validate: undefined }) === canonical({ ...row.options, validate: undefined });
}

/** `rows` without the validated rows whose validate:false twin (twinOf) is in the list too. */
export function dropValidatedTwins(rows: readonly Adapter[]): readonly Adapter[] {
  return rows.filter((row) => !rows.some((twin) => twinOf(row, twin)));
}

/**
 * The rows of `rows` a run takes: all of them in the first run (the machine's Node); on a repeat run
 * (scripts/test-matrix.mjs, repeat-run.ts), not the validated rows with a twin (dropValidatedTwins).
 * Those took about a third of the attack files' test time on Node 22, and for every attack they let
 * through repeated the twin's run on the same Node.
 */
function rowsForThisRun(rows: readonly Adapter[]): readonly Adapter[] {
  return repeatRun ? dropValidatedTwins(rows) : rows;
}

export const ADAPTERS: readonly Adapter[] = rowsForThisRun([
  { name: 'vm STANDARD validated', options: { realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'vm STANDARD runtime-only (validate:false)', options: { validate: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads STANDARD validated', options: { adapter: 'worker_threads', workerPoolConfig: ONE_WORKER }, validates: true },
  { name: 'worker_threads STANDARD runtime-only (validate:false)', options: { adapter: 'worker_threads', validate: false, workerPoolConfig: ONE_WORKER }, validates: false },
]);

/** Rows for the subsets that also run at the strictest and the loosest level. */
export const LEVEL_ADAPTERS: readonly Adapter[] = rowsForThisRun([
  { name: 'vm STRICT validated', options: { securityLevel: 'STRICT', realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'vm STRICT runtime-only', options: { securityLevel: 'STRICT', validate: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'vm PERMISSIVE validated', options: { securityLevel: 'PERMISSIVE', realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'vm PERMISSIVE runtime-only', options: { securityLevel: 'PERMISSIVE', validate: false, realmPool: REUSE_ONE_REALM }, validates: false },
]);

/**
 * The rows the escape corpora run on (published-escapes, generated-escapes): both isolations, STANDARD
 * and PERMISSIVE, each validated, with validate:false, and with neither validation nor the rewriter's
 * guards (the runtime alone).
 */
export const ESCAPE_ROWS: readonly Adapter[] = rowsForThisRun([
  { label: 'vm', options: { realmPool: REUSE_ONE_REALM } },
  { label: 'workers', options: { adapter: 'worker_threads', workerPoolConfig: ONE_WORKER } },
].flatMap((iso) =>
  (['STANDARD', 'PERMISSIVE'] as const).flatMap((level) =>
    [
      { label: 'validated', options: {}, validates: true },
      { label: 'validate:false', options: { validate: false }, validates: false },
      { label: 'no AST layers', options: { validate: false, transform: false }, validates: false },
    ].map((mode) => ({
      name: `${iso.label} ${level} ${mode.label}`,
      options: { ...iso.options, ...mode.options, securityLevel: level } as CreateEnclaveOptions,
      validates: mode.validates,
    })),
  ),
));

/** Any orderly end of an escape attempt: the canaries decide. */
export const ANY_END: readonly Outcome[] = ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR', 'TOOL_ERROR', 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS', 'MAX_TOOL_CALLS', 'OUTPUT_LIMIT_EXCEEDED', 'TIMEOUT'];

export function makeEnclave(adapter: Adapter, options: CreateEnclaveOptions = {}): Enclave {
  return new Enclave({ ...adapter.options, ...options });
}

/**
 * The Enclaves a row's attacks share, for worker_threads rows (see runAttack): called with no options,
 * the row's own; called with an attack's `enclave` options, one per distinct set of them, made when first
 * asked for. undefined on vm rows, and for options that are not plain data.
 */
export type RowEnclaves = (options?: CreateEnclaveOptions) => Enclave | undefined;

/**
 * Call inside a row's describe block: the Enclaves its attacks share, for worker_threads rows (see
 * runAttack). Each attack still runs alone and is followed by a tenant that must find a pristine world;
 * it meets the worker the previous tenant left, as attacks on a long-lived server do, instead of a new
 * worker each (~100 ms to start, most of what a worker row cost). Attacks that bring options of their
 * own share a pool with the row's other attacks that bring the same options, when the getter itself is
 * passed to runAttack. vm rows share nothing: there every attack gets a new Enclave, so each also meets
 * a realm on its first run, unless `shareVm` asks for a vm row's Enclaves to be shared the same way (each
 * attack then meets the realm the previous tenant left, when it was judged clean: a long-lived server).
 */
export function rowEnclave(adapter: Adapter, opts: { shareVm?: boolean } = {}): RowEnclaves {
  if (adapter.options.adapter !== 'worker_threads' && opts.shareVm !== true) return () => undefined;
  let enclave: Enclave | undefined;
  const byOptions = new Map<string, Enclave>();
  beforeAll(async () => {
    enclave = makeEnclave(adapter);
    await enclave.ready();
  });
  afterAll(async () => {
    // The row's last attacks watch their late window out on the Enclaves they ran on.
    await closeAttackWindows(true);
    enclave?.dispose();
    for (const e of byOptions.values()) e.dispose();
  });
  return (options) => {
    if (options === undefined) return enclave;
    const key = plainKey(options);
    if (key === undefined) return undefined;
    let e = byOptions.get(key);
    if (!e) byOptions.set(key, (e = makeEnclave(adapter, options)));
    return e;
  };
}

/** A key for options made of plain data only (numbers, strings, booleans, arrays, plain objects). */
function plainKey(options: CreateEnclaveOptions): string | undefined {
  let plain = true;
  const key = JSON.stringify(options, (_k, v: unknown) => {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') plain = false;
    else if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) !== Object.prototype) plain = false;
    return v;
  });
  return plain ? key : undefined;
}

// ---- canaries -----------------------------------------------------------------------------------

/** What an escaped `Function` would run: it sets a HOST global (a realm Function cannot even compile it). */
export const PWN = "globalThis.__pwned = 1; if (typeof process === 'object') process.env.EK_ATTACK_PWNED = '1'; return 1";
/** The same payload as a JS string literal, for embedding in attack scripts. */
export const PWN_LIT = JSON.stringify(PWN);

/** A secret that only tool internals know: it must never reach a result or the script. */
export const SECRET = `sk_live_HUNTER2_${Math.random().toString(36).slice(2, 10)}`;
export const SECRET_PATH = '/work/secret-service/node_modules/pg/lib/client.js';

const g = globalThis as Record<string, unknown>;
/** Spelled indirectly: the linter rightly dislikes literal thenables, and this one is on purpose. */
const THEN = ['th', 'en'].join('');
/** The host global an escaped payload sets (see PWN). */
const PWNED_KEY = '__pwned';

export interface HostSnapshot {
  objectProto: string[];
  arrayProto: string[];
  functionProto: string[];
  promiseProto: string[];
  stringProto: string[];
  errorProto: string[];
  globals: string[];
  env: string[];
  intrinsics: unknown[];
}

/**
 * An object's own keys in V8's order, which stays put while nothing is added or deleted: compared as
 * they come first (the common case, equal), and sorted only when they differ (see sameKeys). Sorting
 * every list of every snapshot, five snapshots an attack, was most of what the checks cost.
 */
const keysOf = (o: object): string[] => Reflect.ownKeys(o).map(String);

function intrinsics(): unknown[] {
  return [
    JSON.parse,
    JSON.stringify,
    Promise.prototype.then,
    Promise.resolve,
    Array.prototype.push,
    Array.prototype.map,
    Array.prototype[Symbol.iterator],
    Map.prototype.get,
    Map.prototype.set,
    Object.defineProperty,
    Object.keys,
    Function.prototype.call,
    Function.prototype.apply,
    Function.prototype.toString,
    String.prototype.slice,
    Error.prepareStackTrace,
    Error.captureStackTrace,
    Object.getPrototypeOf({}),
    Object.getPrototypeOf([]),
    Reflect.apply,
    setTimeout,
    queueMicrotask,
  ];
}

/** What the host looks like now. `globals` and `env` are left empty when `parts` says they are not compared. */
export function hostSnapshot(parts: { globals?: boolean; env?: boolean } = {}): HostSnapshot {
  return {
    objectProto: keysOf(Object.prototype),
    arrayProto: keysOf(Array.prototype),
    functionProto: keysOf(Function.prototype),
    promiseProto: keysOf(Promise.prototype),
    stringProto: keysOf(String.prototype),
    errorProto: keysOf(Error.prototype),
    globals: parts.globals === false ? [] : keysOf(globalThis),
    env: parts.env === false ? [] : Object.keys(process.env),
    intrinsics: intrinsics(),
  };
}

export function resetCanaries(): void {
  delete g[PWNED_KEY];
  delete process.env.EK_ATTACK_PWNED;
}

/** The host world is exactly as it was: no escape ran, nothing was polluted or replaced. */
export function expectHostIntact(before: HostSnapshot, opts: { globals?: boolean; env?: boolean } = {}): void {
  // Each value read once, and handed to `expect` (a few microseconds each, twenty times an attack) only
  // when it is not what it must be.
  const probe: Record<string, unknown> = {};
  const canaries: [unknown, string][] = [
    [g[PWNED_KEY], 'host global __pwned was set: escape'],
    [process.env.EK_ATTACK_PWNED, 'host process.env was written: escape'],
    [probe.polluted, 'host Object.prototype polluted'],
    [probe.then, 'host Object.prototype.then polluted'],
    [([] as unknown as Record<string, unknown>).polluted, 'host Array.prototype polluted'],
  ];
  for (const [value, message] of canaries) if (value !== undefined) expect(value, message).toBeUndefined();
  const after = hostSnapshot(opts);
  // Vitest's deep equality costs milliseconds on lists this long, and runAttack checks three times per
  // attack: compare plainly first, and let `expect` report (with its diff) only what differs, as sets.
  for (const key of ['objectProto', 'arrayProto', 'functionProto', 'promiseProto', 'stringProto', 'errorProto'] as const) {
    if (!sameKeys(after[key], before[key])) expect(after[key].toSorted()).toEqual(before[key].toSorted());
  }
  if (opts.globals !== false && !sameList(after.globals, before.globals)) {
    const had = new Set(before.globals);
    const added = after.globals.filter((k) => !had.has(k));
    if (added.length > 0) expect(added, 'new host globals appeared').toEqual([]);
  }
  if (opts.env !== false && !sameKeys(after.env, before.env)) expect(after.env.toSorted()).toEqual(before.env.toSorted());
  after.intrinsics.forEach((fn, i) => {
    if (fn !== before.intrinsics[i]) expect(fn === before.intrinsics[i], `host intrinsic #${i} was replaced`).toBe(true);
  });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The same keys, in any order: the same list as it came (almost always), else the same sorted. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  return sameList(a, b) || (a.length === b.length && sameList(a.toSorted(), b.toSorted()));
}

/**
 * With the worker_threads adapter an escape would land in the worker, not in this thread: each worker
 * compares its own globals and intrinsics after every run and reports a change, which the pool counts.
 */
export function expectWorkerIntact(enclave: Enclave): void {
  const workers = enclave.stats().workers;
  if (workers) expect(workers.tampered, 'a run changed its worker\'s own globals: escape').toBe(0);
}

/** The escape canaries beyond runAttack's own: a file and a host function an escaped payload reaches. */
export interface EscapeCanaries {
  /** The file the payload writes through `process.getBuiltinModule('fs')`. */
  file: string;
  /**
   * What an escaped `Function` runs: it sets a host global and process.env (runAttack's canaries),
   * writes `file`, and calls a host function. A realm `Function` cannot even compile it.
   */
  payload: string;
  /** How often the payload called the host function (it never should, except in a control). */
  hostCalls(): number;
  /** Forgets the control's calls and file. */
  reset(): void;
}

/**
 * Call at a test file's top level: installs the host function the payload calls, and after every test
 * asserts that the file was not written and the function was not called (an escape into a worker thread
 * reaches the machine's files through the builtin loader every Node process has, not this thread's globals).
 */
export function escapeCanaries(tag: string): EscapeCanaries {
  // Not named by the pid alone: a file an escape left (its test failed before removing it) waited for
  // the next process given that pid, on a machine whose pids wrap every quarter of an hour or so.
  const file = path.join(os.tmpdir(), `ek-${tag}-${process.pid}-${randomUUID()}.pwned`);
  const hostFn = `__ekHostCanary_${tag.replaceAll(/\W/g, '_')}`;
  let calls = 0;
  const payload = [
    `globalThis.${PWNED_KEY} = 1;`,
    "if (typeof process === 'object') {",
    "  process.env.EK_ATTACK_PWNED = '1';",
    `  try { process.getBuiltinModule('fs').writeFileSync(${JSON.stringify(file)}, 'pwned'); } catch {}`,
    '}',
    `if (typeof globalThis.${hostFn} === 'function') globalThis.${hostFn}();`,
    'return 1;',
  ].join(' ');
  beforeAll(() => {
    g[hostFn] = () => {
      calls++;
    };
  });
  const expectNoEscape = () => {
    expect(existsSync(file), `the payload wrote ${file}: escape`).toBe(false);
    expect(calls, 'the payload called a host function: escape').toBe(0);
  };
  afterAll(async () => {
    // The last attacks' detached work may still write the file or call the function: watch it out first.
    await closeAttackWindows(true);
    try {
      expectNoEscape();
    } finally {
      delete g[hostFn];
      rmSync(file, { force: true });
    }
  });
  afterEach(expectNoEscape);
  return {
    file,
    payload,
    hostCalls: () => calls,
    reset() {
      calls = 0;
      rmSync(file, { force: true });
    },
  };
}

// ---- leak detection -----------------------------------------------------------------------------

/** Text that only the host knows: paths, internal file names, host stack frames. */
export const LEAK_PATTERNS: readonly RegExp[] = [
  /\/work\//,
  /node_modules/,
  /file:\/\//,
  /node:internal/,
  /\(node:/,
  /evalmachine/,
  /enclave:(?:runtime|bootstrap|pump|start|codec|supervisor)/,
  // A stack frame that is not the user's own script.
  /\bat [^\n]*\((?!agentscript\.js:)[^)\n]*:\d+:\d+\)/,
  /\bat \/[^\n]*:\d+:\d+/,
  /hunter2/i,
];

/** Every string in a value, keys included, cycles and shared references visited once. */
export function collectStrings(value: unknown, out: string[] = [], seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') {
    out.push(value);
    return out;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return out;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      collectStrings(k, out, seen);
      collectStrings(v, out, seen);
    }
    return out;
  }
  if (value instanceof Set) {
    for (const v of value) collectStrings(v, out, seen);
    return out;
  }
  if (value instanceof Error) {
    out.push(String(value.name), String(value.message), String(value.stack));
  }
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === 'string') out.push(key);
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (d && 'value' in d) collectStrings(d.value, out, seen);
  }
  return out;
}

/** No host path, host frame, tool-internal error text or secret anywhere in the result. */
export function expectNoLeak(result: unknown, secrets: readonly string[] = []): void {
  const strings = collectStrings(result);
  const cwd = process.cwd();
  // The same checks in the same order, with `expect` called only for the first string that fails one: a
  // call per string and pattern made this the costliest step of an attack (about 10 ms per result).
  for (const s of strings) {
    const pattern = LEAK_PATTERNS.find((p) => p.test(s));
    if (pattern) expect(pattern.test(s), `leak ${pattern} in ${JSON.stringify(s.slice(0, 300))}`).toBe(false);
    if (s.includes(cwd)) expect(s.includes(cwd), `host cwd leaked in ${JSON.stringify(s.slice(0, 300))}`).toBe(false);
    if ([SECRET, ...secrets].some((secret) => s.includes(secret))) expect(true, `secret leaked in ${JSON.stringify(s.slice(0, 300))}`).toBe(false);
  }
}

const CODES = new Set<string>(Object.values(ErrorCode));

/** Every outcome is an ExecutionResult with a known code and sane stats. */
export function expectWellFormed(result: ExecutionResult): void {
  expect(result).toBeTypeOf('object');
  expect(typeof result.success).toBe('boolean');
  expect(result.stats).toBeTypeOf('object');
  expect(Number.isFinite(result.stats.duration)).toBe(true);
  expect(Number.isInteger(result.stats.toolCallCount)).toBe(true);
  expect(Number.isFinite(result.stats.iterationCount)).toBe(true);
  if (!result.success) {
    expect(result.error, 'a failed run carries an error').toBeTypeOf('object');
    expect(CODES.has(result.error.code), `unknown code ${String(result.error.code)}`).toBe(true);
    expect(typeof result.error.message).toBe('string');
    expect(typeof result.error.name).toBe('string');
  } else {
    expect(result.error).toBeUndefined();
  }
}

export type Outcome = ErrorCode | 'OK';

export function outcomeOf(result: ExecutionResult): Outcome {
  return result.success ? 'OK' : result.error.code;
}

export function describeResult(result: ExecutionResult): string {
  // Results may be cyclic or DAGs of shared references: print each container once, and stop early.
  const seen = new Set<unknown>();
  let budget = 2000;
  const replacer = (_k: string, v: unknown) => {
    if (--budget < 0) return '[...]';
    if (typeof v === 'bigint') return `${v}n`;
    if (v !== null && typeof v === 'object') {
      if (seen.has(v)) return '[ref]';
      seen.add(v);
      if (v instanceof Map) return { Map: [...v.entries()] };
      if (v instanceof Set) return { Set: [...v.values()] };
    }
    return v;
  };
  return JSON.stringify({ outcome: outcomeOf(result), value: result.value, error: result.error }, replacer).slice(0, 600);
}

// ---- spy tools ------------------------------------------------------------------------------------

export interface ToolCall {
  name: string;
  args: unknown;
  /** Whether run() had already resolved when the tool was called. */
  afterSettled: boolean;
}

export interface ToolKit {
  tools: ToolSet;
  calls: ToolCall[];
  /** Tool signals that were aborted, by call index. */
  aborted: number[];
  /** Host-side counters an attack must not be able to move. */
  counters: { getterReads: number; proxyTraps: number };
  /** Host objects handed to the script as tool results or input: checked for mutation afterwards. */
  hostObject: { nested: { flag: string }; list: number[] };
  settled(): void;
  /** When `settled()` was called (performance.now()), 0 before. */
  readonly settledAt: number;
  /**
   * Asserts that no tool was called after run() resolved, once `ms` have passed since then (it waits
   * only for what is left of that window), long enough for any detached work to show up.
   */
  expectNoLateCalls(ms?: number): Promise<void>;
  /** Asserts that no tool was called after run() resolved so far, without waiting. */
  expectNoLateCallsYet(): void;
}

class HostWidget {
  secret = SECRET;
  constructor(public label: string) {}
  method(): string {
    return SECRET;
  }
}

export function makeToolKit(): ToolKit {
  const calls: ToolCall[] = [];
  const aborted: number[] = [];
  let isSettled = false;
  let settledAt = 0;
  const counters = { getterReads: 0, proxyTraps: 0 };
  const hostObject = { nested: { flag: 'original' }, list: [1, 2, 3] };
  const record = (name: string, args: unknown, ctx: ToolContext) => {
    calls.push({ name, args, afterSettled: isSettled });
    ctx.signal.addEventListener('abort', () => aborted.push(ctx.callIndex), { once: true });
  };
  const secretError = () => {
    const e = new Error(`connect ECONNREFUSED password=${SECRET} at ${SECRET_PATH}`);
    e.stack = `Error: ${SECRET}\n    at Client.connect (${SECRET_PATH}:10:5)\n    at async query (file:///work/app/db.mjs:3:1)`;
    (e as unknown as Record<string, unknown>).code = 'ECONNREFUSED';
    (e as unknown as Record<string, unknown>).config = { password: SECRET };
    return e;
  };
  const tools: ToolSet = {
    echo: async (args, ctx) => {
      record('echo', args, ctx);
      return args;
    },
    count: (args, ctx) => {
      record('count', args, ctx);
      return calls.length;
    },
    slow: (args, ctx) => {
      record('slow', args, ctx);
      const ms = typeof (args as { ms?: unknown })?.ms === 'number' ? (args as { ms: number }).ms : 50;
      return new Promise((resolve) => setTimeout(() => resolve({ waited: ms }), ms));
    },
    hang: (args, ctx) => {
      record('hang', args, ctx);
      return new Promise(() => {});
    },
    secret: async (args, ctx) => {
      record('secret', args, ctx);
      throw secretError();
    },
    secretSync: (args, ctx) => {
      record('secretSync', args, ctx);
      throw secretError();
    },
    secretString: (args, ctx) => {
      record('secretString', args, ctx);
      return Promise.reject(`${SECRET} ${SECRET_PATH}`);
    },
    secretObject: (args, ctx) => {
      record('secretObject', args, ctx);
      throw { message: SECRET, stack: SECRET_PATH, toString: () => SECRET };
    },
    secretCause: (args, ctx) => {
      record('secretCause', args, ctx);
      throw new ToolError('Not allowed.', { code: 'FORBIDDEN', status: 403, cause: secretError() });
    },
    publicError: (args, ctx) => {
      record('publicError', args, ctx);
      throw new ToolError('Order 42 not found.', { code: 'NOT_FOUND', status: 404 });
    },
    hostObject: (args, ctx) => {
      record('hostObject', args, ctx);
      const getterBox = {};
      Object.defineProperty(getterBox, 'viaGetter', {
        enumerable: true,
        get: () => {
          counters.getterReads++;
          return 'got';
        },
      });
      Object.defineProperty(getterBox, 'throwingGetter', {
        enumerable: true,
        get: () => {
          throw secretError();
        },
      });
      const proxy = new Proxy(
        { a: 1, b: { c: 2 } },
        {
          get(t, k, r) {
            counters.proxyTraps++;
            return Reflect.get(t, k, r);
          },
          ownKeys(t) {
            counters.proxyTraps++;
            return Reflect.ownKeys(t);
          },
        },
      );
      return {
        fn: () => SECRET,
        widget: new HostWidget('w'),
        when: new Date(0),
        map: new Map<unknown, unknown>([['k', { v: 1 }]]),
        set: new Set([1, 2]),
        err: secretError(),
        buf: Buffer.from('hi'),
        typed: new Uint8Array([1, 2]),
        promise: Promise.resolve(SECRET),
        sym: Symbol(SECRET),
        big: 10n,
        getterBox,
        proxy,
        shared: hostObject,
        again: hostObject,
        regex: /x/g,
        nothing: undefined,
        nan: Number.NaN,
        negZero: -0,
      };
    },
    thenable: (args, ctx) => {
      record('thenable', args, ctx);
      // A host thenable: the host must await it itself and hand the script only data.
      const thenable: Record<string, unknown> = {};
      thenable[THEN] = (resolve: (v: unknown) => void) => resolve({ fromThenable: true });
      return thenable;
    },
    cyclic: (args, ctx) => {
      record('cyclic', args, ctx);
      const a: Record<string, unknown> = { name: 'a' };
      a.self = a;
      a.list = [a, { back: a }];
      return a;
    },
    huge: (args, ctx) => {
      record('huge', args, ctx);
      return 'x'.repeat(8 * 1024 * 1024);
    },
    deep: (args, ctx) => {
      record('deep', args, ctx);
      let v: unknown = 0;
      for (let i = 0; i < 5000; i++) v = [v];
      return v;
    },
  };
  return {
    tools,
    calls,
    aborted,
    counters,
    hostObject,
    settled() {
      isSettled = true;
      settledAt = performance.now();
    },
    get settledAt() {
      return settledAt;
    },
    async expectNoLateCalls(ms = 60) {
      await sleep(Math.max(0, settledAt + ms - performance.now()));
      this.expectNoLateCallsYet();
    },
    expectNoLateCallsYet() {
      const late = calls.filter((c) => c.afterSettled);
      expect(late, `tools were called after run() resolved: ${JSON.stringify(late).slice(0, 300)}`).toEqual([]);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A deadline that must fire at a given point of a script (while a tool is pending, after an await)
 * races the machine: on a loaded one the run can reach its deadline before the script gets there
 * (a worker or a realm still starting), which tests nothing, and a test that expects the tool call then
 * fails for no fault of the engine. This runs `attempt` with deadlines growing fourfold from `first` until
 * `reached` (observed on the host, e.g. the tool was entered) says the script got there, and returns that
 * attempt. No duration is asserted: a slow machine only takes more attempts.
 */
export async function untilReached<R>(attempt: (timeout: number) => Promise<R>, reached: (r: R) => boolean, first = 60, tries = 6): Promise<R> {
  let timeout = first;
  let r = await attempt(timeout);
  for (let i = 1; i < tries && !reached(r); i++) {
    timeout *= 4;
    r = await attempt(timeout);
  }
  return r;
}

/** Waits until `condition()` holds, however long that takes: the test's own timeout reports a never. */
export async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(10);
}

/** The host event loop still turns: an immediate and a timer both fire. */
export async function expectEventLoopAlive(): Promise<void> {
  const fired: string[] = [];
  await new Promise<void>((resolve) => setImmediate(() => (fired.push('immediate'), resolve())));
  await new Promise<void>((resolve) => setTimeout(() => (fired.push('timeout'), resolve()), 1));
  expect(fired).toEqual(['immediate', 'timeout']);
}

// ---- the next tenant ------------------------------------------------------------------------------

/**
 * What a harmless tenant runs after an attack, on the same Enclave. Valid at every level. It uses the
 * intrinsics attacks try to tamper with (prototypes, JSON, Array methods, Promise, console, callTool).
 */
export function nextTenantCode(withConsole: boolean): string {
  return [
    "const t = await callTool('echo', { n: 1, s: 'x' });",
    withConsole ? "console.log('tenant', t.n);" : '',
    'const o = {};',
    'const a = [3, 1, 2];',
    "return ['polluted' in o, 'polluted' in a, typeof o.then, typeof a.then, Object.keys(o).length, JSON.stringify({ a: [1, \"x\"] }),",
    "  a.map((x) => x * 2).join(','), a.slice().sort().join(','), String(Math.max(1, 2)), 'ab'.toUpperCase(),",
    "  typeof input, JSON.parse('{\"k\":1}').k, [1, 2].includes(2), Object.entries({ q: 1 }).length, t.n + t.s, String([1, [2]])];",
  ].join('\n');
}

export const NEXT_TENANT_VALUE = [false, false, 'undefined', 'undefined', 0, '{"a":[1,"x"]}', '6,2,4', '1,2,3', '2', 'AB', 'undefined', 1, true, 1, '1x', '1,2'];

/** A harmless tenant on the same Enclave (same realm, when it was judged clean) sees a pristine world. */
export async function expectNextTenantClean(enclave: Enclave): Promise<void> {
  // A worker the attack got terminated is replaced first: the tenant's deadline (the attack's, when it
  // set a short one) is for the run, not for starting a worker on a busy machine.
  await enclave.ready();
  const withConsole = enclave.securityLevel === 'STANDARD' || enclave.securityLevel === 'PERMISSIVE';
  let kit = makeToolKit();
  let result = await enclave.run(nextTenantCode(withConsole), { tools: kit.tools, timeout: 5000 });
  // Under an attack's own deadline of a few dozen ms, a loaded machine can time the harmless tenant out.
  // Two more tries tell that from a realm the attack left hanging, which times out every time.
  for (let tries = 1; tries < 3 && result.error?.code === 'TIMEOUT' && enclave.limits.timeout < 1000; tries++) {
    kit = makeToolKit();
    result = await enclave.run(nextTenantCode(withConsole), { tools: kit.tools, timeout: 5000 });
  }
  kit.settled();
  expect(result.error, describeResult(result)).toBeUndefined();
  expect(result.value).toEqual(NEXT_TENANT_VALUE);
  if (withConsole) expect(result.logs?.map((l) => l.message)).toEqual(['tenant 1']);
  expect(kit.calls.map((c) => c.name)).toEqual(['echo']);
}

// ---- table-driven attacks -------------------------------------------------------------------------

export interface AttackContext {
  adapter: Adapter;
  kit: ToolKit;
  enclave: Enclave;
}

export interface Attack {
  name: string;
  code: string;
  /** Acceptable outcomes once the code reaches the runtime. With a validating row, VALIDATION_ERROR is always acceptable unless `validation: 'accept'`. */
  expect: readonly Outcome[];
  /** 'reject': a validating row must refuse the code. 'accept': a validating row must let it run. */
  validation?: 'reject' | 'accept';
  /** Options merged over the row's Enclave options. */
  enclave?: CreateEnclaveOptions;
  /** Run options; tools default to the spy kit's tools. */
  run?: (kit: ToolKit) => RunOptions;
  /** Extra host-side assertions. */
  check?: (result: ExecutionResult, ctx: AttackContext) => void | Promise<void>;
  /** More strings that must not appear anywhere in the result. */
  secrets?: readonly string[];
  /** Skip the follow-up tenant (for attacks that dispose the Enclave themselves). */
  noNextTenant?: boolean;
  /**
   * A confirmed engine bug: the test is registered with `it.fails` on the listed rows (validated/runtime
   * rows by their `validates` flag). Keep the note in sync with the report.
   */
  bug?: { rows: readonly ('validated' | 'runtime-only')[]; note: string };
}

/**
 * Runs one attack on one row and applies every host-side canary. Returns the result for extra checks.
 * The attack gets an Enclave of its own, or `shared` (the row's, left open) when it brings no options;
 * given the row's getter itself (rowEnclave), also the row's pool for the options it brings.
 */
/** How long after an attack's run settled its detached work is watched for (tool calls, host changes). */
const LATE_WINDOW_MS = 20;

/** An attack whose late window is open: what it is checked against, and its own Enclave to dispose after. */
interface OpenWindow {
  name: string;
  kit: ToolKit;
  before: HostSnapshot;
  dispose: (() => void) | undefined;
}
const openWindows: OpenWindow[] = [];

/**
 * Checks every attack whose late window is open: no canary set, no host prototype, intrinsic or
 * environment changed since its snapshot, no tool called after its run settled. Windows that have run
 * their LATE_WINDOW_MS are closed (their own Enclave disposed); with `wait`, all of them, after waiting
 * out what is left of the newest. A failure names the attack it belongs to, whichever test finds it.
 *
 * runAttack leaves its window open instead of sleeping it out: the next attack checks it before it
 * resets the canaries, and the row's or the file's end waits out the last one. Each window still lasts
 * at least LATE_WINDOW_MS (most last a whole attack longer), and the fixed sleep that was half of an
 * attack file's wall time is gone.
 */
export async function closeAttackWindows(wait: boolean): Promise<void> {
  const newest = openWindows.at(-1);
  if (newest === undefined) return;
  if (wait) await sleep(Math.max(0, newest.kit.settledAt + LATE_WINDOW_MS - performance.now()));
  const now = performance.now();
  const failures: string[] = [];
  const open: OpenWindow[] = [];
  for (const w of openWindows) {
    try {
      // Globals and environment variables may come and go between tests (a describe block's own canaries
      // and secrets): the attack's own checks covered those; the canaries themselves (`__pwned`,
      // EK_ATTACK_PWNED), prototypes and intrinsics, which no test changes, are checked here.
      expectHostIntact(w.before, { globals: false, env: false });
      w.kit.expectNoLateCallsYet();
    } catch (e) {
      failures.push(`${w.name}: ${(e as Error).message}`);
    }
    if (wait || now - w.kit.settledAt >= LATE_WINDOW_MS) w.dispose?.();
    else open.push(w);
  }
  openWindows.splice(0, openWindows.length, ...open);
  if (failures.length > 0) throw new Error(`after the attack's run had settled:\n${failures.join('\n')}`);
}

afterAll(() => closeAttackWindows(true));

export async function runAttack(adapter: Adapter, attack: Attack, shared?: Enclave | RowEnclaves): Promise<ExecutionResult> {
  await closeAttackWindows(false);
  resetCanaries();
  const kit = makeToolKit();
  const extra = attack.run?.(kit) ?? {};
  // A run that brings its own toolHandler or tools replaces the spy kit's tools.
  const options: RunOptions = extra.toolHandler !== undefined || extra.tools !== undefined ? extra : { tools: kit.tools, ...extra };
  const before = hostSnapshot();
  const pooled = attack.noNextTenant === true ? undefined : typeof shared === 'function' ? shared(attack.enclave) : attack.enclave === undefined ? shared : undefined;
  const own = pooled === undefined;
  const enclave = pooled ?? makeEnclave(adapter, attack.enclave);
  let disposeHere = true;
  try {
    await enclave.ready();
    const result = await enclave.run(attack.code, options);
    kit.settled();
    expectWellFormed(result);
    expectHostIntact(before);
    expectNoLeak(result, attack.secrets);
    const outcome = outcomeOf(result);
    const detail = `${attack.name}: ${describeResult(result)}`;
    if (process.env.EK_ATTACK_DEBUG) process.stdout.write(`[attack] ${adapter.name} | ${detail}\n`);
    if (adapter.validates && attack.validation === 'reject') expect(outcome, detail).toBe('VALIDATION_ERROR');
    else if (adapter.validates && attack.validation === 'accept') expect(attack.expect, detail).toContain(outcome);
    else if (!(adapter.validates && outcome === 'VALIDATION_ERROR')) expect(attack.expect, detail).toContain(outcome);
    // Code a validating row refused never ran: there is nothing more to check about it.
    const refused = adapter.validates && outcome === 'VALIDATION_ERROR';
    if (!refused) await attack.check?.(result, { adapter, kit, enclave });
    expectHostIntact(before);
    expectWorkerIntact(enclave);
    await expectEventLoopAlive();
    if (!attack.noNextTenant) await expectNextTenantClean(enclave);
    expectHostIntact(before);
    kit.expectNoLateCallsYet();
    expect(enclave.stats().activeRuns).toBe(0);
    // Detached work of the attack has the next tenant's run, and at least LATE_WINDOW_MS, to call a tool
    // or touch the host: the window stays open past this test (see closeAttackWindows). Code a validating
    // row refused never ran, so it left no work behind to watch.
    if (!refused) {
      openWindows.push({ name: `${adapter.name} | ${attack.name}`, kit, before, dispose: own ? () => enclave.dispose() : undefined });
      disposeHere = false;
    }
    return result;
  } finally {
    if (own && disposeHere) enclave.dispose();
    resetCanaries();
  }
}

/**
 * An attack whose host-side wall clock, from run() to its result, must stay within `timeout` + 2 s: in
 * vm mode that includes any time a native step blocked the host's event loop. The bound is generous (a
 * regression blocks for seconds), so that a loaded machine does not make it flaky.
 */
export function timedAttack(attack: Omit<Attack, 'run' | 'check'> & { timeout: number; check?: Attack['check'] }): Attack {
  let startedAt = 0;
  return {
    ...attack,
    run: () => {
      startedAt = performance.now();
      return { timeout: attack.timeout };
    },
    check: async (r, ctx) => {
      const elapsed = performance.now() - startedAt;
      expect(elapsed, `run() took ${Math.round(elapsed)} ms against a deadline of ${attack.timeout} ms`).toBeLessThan(attack.timeout + 2000);
      await attack.check?.(r, ctx);
    },
  };
}

/**
 * `it.fails` for a confirmed engine bug, `it` otherwise. Set EK_ATTACK_SHOW_BUGS=1 to register known
 * bugs as ordinary tests and see them fail (or notice that they were fixed).
 */
export function itBug(bug: boolean | undefined): typeof it | typeof it.fails {
  return bug && !process.env.EK_ATTACK_SHOW_BUGS ? it.fails : it;
}

/** Whether an attack is a confirmed bug on this row. */
export function isBugRow(attack: Attack, adapter: Adapter): boolean {
  if (!attack.bug) return false;
  return attack.bug.rows.includes(adapter.validates ? 'validated' : 'runtime-only');
}

// ---- child processes --------------------------------------------------------------------------------

const here = path.dirname(fileURLToPath(import.meta.url));
const engineRoot = path.resolve(here, '..');
const repoRoot = path.resolve(engineRoot, '../..');
const cacheRoot = path.join(engineRoot, 'node_modules/.cache/enclave-attacks');

function sourceHash(): string {
  const h = createHash('sha1');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
        h.update(p);
        h.update(readFileSync(p));
      }
    }
  };
  walk(path.join(engineRoot, 'src'));
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds the engine once per source version into a private directory (node_modules/.cache, so module
 * resolution still finds the engine's dependencies) and returns the URL of its index.js. Child
 * processes cannot import TypeScript on Node 20. Concurrent builders write to their own directory and
 * rename it into place; a loser simply uses the winner's output.
 */
export function buildEngineForChildren(): string {
  const target = path.join(cacheRoot, `dist-${sourceHash()}`);
  const index = path.join(target, 'index.js');
  if (!existsSync(index)) {
    mkdirSync(cacheRoot, { recursive: true });
    const tmp = path.join(cacheRoot, `tmp-${process.pid}-${Date.now()}`);
    // The package's build config lists only the public entries; the worker's entry is loaded by path,
    // so no import reaches it: name it too, or the worker_threads adapter finds no worker-main.js.
    const config = `${tmp}.tsconfig.json`;
    const build = path.join(engineRoot, 'tsconfig.build.json');
    const { files } = JSON.parse(readFileSync(build, 'utf8')) as { files: string[] };
    const entries = [...files, 'src/sandbox/worker-main.ts'].map((f) => path.join(engineRoot, f));
    writeFileSync(config, JSON.stringify({ extends: build, files: entries }));
    try {
      execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', config, '--outDir', tmp, '--declaration', 'false'], { stdio: 'pipe', timeout: 120_000 });
    } finally {
      rmSync(config, { force: true });
    }
    try {
      renameSync(tmp, target);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
    // Old builds of earlier source versions: remove those nobody has touched for a while.
    for (const name of readdirSync(cacheRoot)) {
      const p = path.join(cacheRoot, name);
      // Another file's build may rename or remove its folder between the listing and this look at it.
      const touched = statSync(p, { throwIfNoEntry: false })?.mtimeMs;
      if (p !== target && touched !== undefined && Date.now() - touched > 30 * 60_000) rmSync(p, { recursive: true, force: true });
    }
  }
  if (!existsSync(index)) throw new Error(`engine build missing: ${index}`);
  return `file://${index}`;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because it did not finish in time (a hang). */
  timedOut: boolean;
}

/** How long `runChild` lets a child run when the caller names no bound. */
const DEFAULT_KILL_MS = 15_000;

/** What a child may take to start Node and import the engine before its first run, on a loaded machine. */
const CHILD_START_MS = 30_000;

/**
 * The kill bound (`killAfterMs`) of a child that hosts `runs` runs, one after the other, each ended by
 * a deadline of `runMs`: past all of them, so a kill means a run that its deadline did not end (a
 * hang). A bound below that sum let a loaded machine kill a child whose runs were all on time, and
 * every run after the kill failed for want of a result.
 */
export function hostsRuns(runs: number, runMs: number): number {
  return CHILD_START_MS + runs * runMs;
}

/**
 * Runs an ES module in a fresh `node` process. `source` may use `ENGINE` (the engine's module URL) and
 * top-level await. The child is killed after `killAfterMs` (a hang is reported, never waited out).
 */
export function runChild(engineUrl: string, source: string, opts: { killAfterMs?: number; nodeArgs?: readonly string[] } = {}): Promise<ChildResult> {
  const prelude = `const ENGINE = ${JSON.stringify(engineUrl)};\nconst { Enclave, ToolError } = await import(ENGINE);\n`;
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--input-type=module', '-e', prelude + source], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.killAfterMs ?? DEFAULT_KILL_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * Parses the last `RESULT <json>` line a child printed, or with `key` the last `RESULT:<key> <json>`
 * line (children that run several cases print one line per case).
 */
export function childResult(child: ChildResult, key?: string): unknown {
  const prefix = key === undefined ? 'RESULT ' : `RESULT:${key} `;
  const line = child.stdout
    .split('\n')
    .toReversed()
    .find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : JSON.parse(line.slice(prefix.length));
}

export function describeChild(child: ChildResult): string {
  const fatal = child.stderr.split('\n').find((l) => /FATAL|Fatal|Error/.test(l)) ?? '';
  return `exit=${String(child.code)} signal=${String(child.signal)} timedOut=${child.timedOut}\nfirst error line: ${fatal.slice(0, 300)}\nstdout: ${child.stdout.slice(-600)}\nstderr: ${child.stderr.slice(-600)}`;
}

/**
 * A child program that runs each script once, in order, on one Enclave built from `options` (source
 * text), and prints `RESULT {"out": {name: 'OK' or the error code}, ...report}`. `setup` runs first,
 * `settle` after the last run, and `report` is an expression whose fields join the result. `limits`
 * lowers a script's own limits (run options) by its name. `timeout` is each run's deadline, and the
 * Enclave's unless `options` names one: a run's timeout only lowers the instance's, so a STRICT instance
 * (5 s) or a STANDARD one (30 s) silently cut the generous deadlines these children ask for, and loaded
 * machines then saw TIMEOUT where a budget was meant to end the run. With `readyEachRun`, each run waits
 * for the pool's workers first (a worker the run before got terminated is replaced), so a short deadline
 * is the run's own, not also a new worker's start.
 */
export function scriptsChild(
  options: string,
  scripts: Record<string, string>,
  opts: { timeout: number; setup?: string; settle?: string; report?: string; limits?: Record<string, Record<string, number>>; readyEachRun?: boolean },
): string {
  return `
${opts.setup ?? ''}
const enclave = new Enclave({ timeout: ${opts.timeout}, ...(${options}) });
await enclave.ready();
const out = {};
const limits = ${JSON.stringify(opts.limits ?? {})};
for (const [name, code] of Object.entries(${JSON.stringify(scripts)})) {
${opts.readyEachRun === true ? '  await enclave.ready();' : ''}
  const r = await enclave.run(code, { timeout: ${opts.timeout}, ...limits[name] });
  out[name] = r.success ? 'OK' : r.error.code;
}
${opts.settle ?? ''}
const report = ${opts.report ?? '{}'};
enclave.dispose();
console.log('RESULT ' + JSON.stringify({ out, ...report }));
`;
}

/**
 * Child processes started together, in the background, as soon as `start()` is called (from a file's
 * top-level beforeAll): their CPU overlaps with the in-process tests, and each test awaits only its own
 * child. At most `limit` children run at once.
 */
export class ChildBatch {
  readonly #specs = new Map<string, { source: string; opts: { killAfterMs?: number; nodeArgs?: readonly string[] } }>();
  readonly #results = new Map<string, Promise<ChildResult>>();
  constructor(readonly limit = 4) {}

  add(key: string, source: string, opts: { killAfterMs?: number; nodeArgs?: readonly string[] } = {}): string {
    this.#specs.set(key, { source, opts });
    return key;
  }

  has(key: string): boolean {
    return this.#specs.has(key);
  }

  start(): void {
    const engine = buildEngineForChildren();
    let running = 0;
    const waiting: (() => void)[] = [];
    const slot = async () => {
      if (running >= this.limit) await new Promise<void>((resolve) => waiting.push(resolve));
      running++;
    };
    const free = () => {
      running--;
      waiting.shift()?.();
    };
    for (const [key, { source, opts }] of this.#specs) {
      this.#results.set(
        key,
        slot().then(async () => {
          try {
            return await runChild(engine, source, opts);
          } finally {
            free();
          }
        }),
      );
    }
  }

  result(key: string): Promise<ChildResult> {
    const r = this.#results.get(key);
    if (!r) throw new Error(`child ${key} was not started`);
    return r;
  }

  /**
   * The longest a test may wait for one of these children: every child killed at its bound, `limit` at a
   * time, the last one started last. A test timeout below it fails a test whose child was on time but
   * queued behind others on a loaded machine.
   */
  worstWaitMs(): number {
    const kills = [...this.#specs.values()].map(({ opts }) => opts.killAfterMs ?? DEFAULT_KILL_MS);
    return Math.ceil(kills.length / this.limit) * Math.max(0, ...kills) + 10_000;
  }
}
