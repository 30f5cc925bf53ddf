/**
 * The realm runtime (src/sandbox/realm-runtime/) is typed, linted source bundled into the string every
 * realm evaluates. These tests keep it that way: the checked-in and the built strings are what the
 * sources build to; `tsc` and the lint refuse what would break the runtime's discipline (a Node global,
 * a built-in taken after lockdown, a captured intrinsic nobody uses); and each module works in a fresh
 * context of its own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { parseSync } from 'oxc-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { REALM_RUNTIME_HASH, REALM_RUNTIME_SOURCE } from '../src/sandbox/realm-runtime.generated.js';
import { loadInFreshContext } from './realm-context.js';
import { repeatRun } from './repeat-run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const runtimeDir = path.join(root, 'packages/engine/src/sandbox/realm-runtime');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const oxlint = path.join(root, 'node_modules/oxlint/bin/oxlint');
const modules = readdirSync(runtimeDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ek-realm-runtime-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Node {
  type: string;
  start: number;
  [key: string]: unknown;
}
function walk(node: unknown, visit: (n: Node, parent: Node | null) => void, parent: Node | null = null): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit, parent);
    return;
  }
  if (node === null || typeof node !== 'object' || typeof (node as Node).type !== 'string') return;
  visit(node as Node, parent);
  for (const [key, value] of Object.entries(node)) if (key !== 'type') walk(value, visit, node as Node);
}
function parseModule(file: string): { text: string; program: unknown } {
  const text = readFileSync(path.join(runtimeDir, file), 'utf8');
  return { text, program: parseSync(file, text, { sourceType: 'module', lang: 'ts' }).program };
}

describe('the bundled string', () => {
  it.skipIf(repeatRun)('the checked-in src/sandbox/realm-runtime.generated.ts is what the sources build to (run `pnpm build` after editing them)', async () => {
    const { buildRealmRuntimeSource, realmRuntimeHash } = (await import(path.join(root, 'scripts/build-realm-runtime.mjs'))) as {
      buildRealmRuntimeSource: () => Promise<string>;
      realmRuntimeHash: (source: string) => string;
    };
    expect(REALM_RUNTIME_SOURCE === (await buildRealmRuntimeSource()), 'realm-runtime.generated.ts is stale').toBe(true);
    expect(REALM_RUNTIME_HASH).toBe(realmRuntimeHash(REALM_RUNTIME_SOURCE));
  });

  it.skipIf(repeatRun)('the built dist carries the same string', () => {
    const dist = path.join(root, 'packages/engine/dist/bundle');
    // CI builds before it tests; a working tree that was never built has nothing to compare.
    if (!existsSync(dist)) return;
    const fingerprint = /^\/\/ enclave-kit realm runtime [0-9a-f]{16}/.exec(REALM_RUNTIME_SOURCE)?.[0];
    expect(fingerprint).toBeDefined();
    const built = readdirSync(dist).filter((f) => f.endsWith('.js') && readFileSync(path.join(dist, f), 'utf8').includes(fingerprint as string));
    expect(built, 'dist/ holds a stale realm runtime: run `pnpm build`').toEqual(['runtime.js']);
  });

  it('evaluates to the install function and declares only the entry bindings', () => {
    const ctx = vm.createContext(vm.constants.DONT_CONTEXTIFY);
    const install = vm.runInContext(REALM_RUNTIME_SOURCE, ctx) as unknown;
    expect(typeof install).toBe('function');
    expect(vm.runInContext('[typeof __ek_start, typeof __ek_pump, typeof __ek_register]', ctx)).toEqual(['undefined', 'undefined', 'undefined']);
  });
});

// Source text, tsc and oxlint (native binaries): the same answer on every Node, so once per CI.
describe.skipIf(repeatRun)('the compiler and the lint refuse what breaks the runtime', () => {
  it('a Node global does not compile under the runtime tsconfig', () => {
    const dir = path.join(scratch, 'types');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'stray.ts'), 'export function stop(): void {\n  process.exit(1);\n}\n');
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(runtimeDir, 'tsconfig.json'), include: ['./*.ts'] }));
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      output = String((e as { stdout?: unknown }).stdout);
    }
    expect(output).toMatch(/stray\.ts\(2,3\): error TS\d+: Cannot find name 'process'/);
  });

  it('the runtime itself compiles under it', () => {
    expect(() => execFileSync(process.execPath, [tsc, '-p', path.join(runtimeDir, 'tsconfig.json')], { stdio: 'pipe' })).not.toThrow();
  });

  it('the lint refuses a global, a prototype method and an unused capture in a runtime module', () => {
    // The override's glob is `**/sandbox/realm-runtime/*.ts`: a fixture in a folder of that name is linted as the runtime is.
    const dir = path.join(scratch, 'lint/sandbox/realm-runtime');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'bad.ts'),
      ["import { apply, arrayPush } from './primordials.js';", 'export function f(a: number[]): number {', '  a.push(1);', '  return Object.keys(a).length + apply.length;', '}', ''].join('\n'),
    );
    writeFileSync(path.join(dir, 'primordials.ts'), 'export const apply = Reflect.apply;\nexport const arrayPush = Array.prototype.push;\n');
    let output = '';
    try {
      execFileSync(process.execPath, [oxlint, '-c', path.join(root, '.oxlintrc.json'), '--deny-warnings', path.join(dir, 'bad.ts')], { encoding: 'utf8', stdio: 'pipe', cwd: path.join(scratch, 'lint') });
    } catch (e) {
      output = String((e as { stdout?: unknown }).stdout);
    }
    expect(output).toMatch(/no-restricted-globals.*'Object'/);
    expect(output).toMatch(/no-restricted-properties.*'push'/);
    expect(output).toMatch(/no-unused-vars.*arrayPush/);
  });

  it('the lint passes the runtime itself', () => {
    expect(() => execFileSync(process.execPath, [oxlint, '-c', path.join(root, '.oxlintrc.json'), '--deny-warnings', runtimeDir], { stdio: 'pipe', cwd: root })).not.toThrow();
  });

  it('every intrinsic primordials.ts captures is used by another runtime module', () => {
    const { program } = parseModule('primordials.ts');
    const exported: string[] = [];
    walk(program, (n) => {
      if (n.type !== 'ExportNamedDeclaration') return;
      walk(n.declaration, (d) => {
        if (d.type !== 'VariableDeclarator') return;
        const id = d.id as Node;
        // `const a = X` exports a; `const { a: b } = X` exports b.
        if (id.type === 'Identifier') exported.push(id.name as string);
        else for (const p of id.properties as Node[]) exported.push((p.value as Node).name as string);
      });
    });
    expect(exported.length).toBeGreaterThan(40);
    const imported = new Set<string>();
    for (const file of modules.filter((f) => f !== 'primordials.ts')) {
      walk(parseModule(file).program, (n) => {
        if (n.type === 'ImportDeclaration' && String((n.source as Node).value).endsWith('/primordials.js')) {
          for (const s of n.specifiers as Node[]) imported.add((s.imported as Node).name as string);
        }
      });
    }
    expect(exported.filter((name) => !imported.has(name))).toEqual([]);
  });

  it('runtime code never goes through the array iterator (spread, array destructuring, for-of)', () => {
    // Lockdown bounds the array iterator for scripts, and refuses it once their run is over: the
    // runtime's own code must not depend on it. for-of stays only where it walks the script's own
    // iterable on purpose, marked so.
    const found: string[] = [];
    for (const file of modules) {
      const { text, program } = parseModule(file);
      const at = (n: Node) => `${file}:${text.slice(0, n.start).split('\n').length}`;
      walk(program, (n, parent) => {
        if (n.type === 'ArrayPattern') found.push(`${at(n)} array destructuring`);
        if (n.type === 'SpreadElement' && parent !== null && parent.type !== 'ObjectExpression') found.push(`${at(n)} spread`);
        if (n.type === 'ForOfStatement') {
          const before = text.slice(0, n.start).trimEnd().split('\n').at(-1) ?? '';
          if (!before.includes("iterates the script's own iterable")) found.push(`${at(n)} for-of`);
        }
      });
    }
    expect(found).toEqual([]);
  });
});

describe('each module in a fresh context', () => {
  it('primordials: captures the intrinsics of the context it runs in', async () => {
    const { ctx, exports } = await loadInFreshContext<Record<string, unknown>>('primordials.ts');
    expect(exports.ObjectCtor).toBe(vm.runInContext('Object', ctx));
    expect(exports.ObjectCtor).not.toBe(Object);
    expect(exports.arrayPush).toBe(vm.runInContext('Array.prototype.push', ctx));
  });

  it('host: a bridge function that throws never throws into the realm', async () => {
    const { exports } = await loadInFreshContext<{ connect: (b: object) => void; hostLog: (...a: unknown[]) => unknown; hostTake: (id: number) => unknown }>('host.ts');
    const calls: unknown[] = [];
    exports.connect({
      begin: () => undefined,
      tool: () => 0,
      take: () => {
        throw new Error('host error');
      },
      done: () => {},
      log: (...args: unknown[]) => calls.push(args),
      heap: () => 0,
    });
    expect(exports.hostTake(1)).toBeUndefined();
    exports.hostLog(1, 'log', 'line');
    expect(calls).toEqual([[1, 'log', 'line', undefined]]);
  });

  it('budgets: a budget error is frozen, reported once, and every later check rethrows it', async () => {
    const { exports } = await loadInFreshContext<{
      newRun: (id: number, limits: object) => { fatal: unknown };
      setCurrent: (r: unknown) => void;
      chargeChars: (n: number) => void;
      checkAlive: (r: unknown) => void;
    }>('budgets.ts');
    const limits = { maxIterations: 10, maxCallDepth: 5, maxToolCalls: 1, memoryLimit: 1024, maxOutputBytes: 1, maxToolArgsBytes: 1, maxLogBytes: 1, maxLogEntries: 1 };
    const run = exports.newRun(1, limits);
    exports.setCurrent(run);
    expect(() => exports.chargeChars(100)).not.toThrow();
    let first: unknown;
    try {
      exports.chargeChars(10_000);
    } catch (e) {
      first = e;
    }
    expect((first as Error).name).toBe('MemoryLimitError');
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => exports.checkAlive(run)).toThrow(first as Error);
  });

  it('nondeterminism: a run’s own generator is xoshiro128** (the reference vector for the seed 1, 2, 3, 4)', async () => {
    const { exports } = await loadInFreshContext<{ next32: (s: number[]) => number }>('nondeterminism.ts');
    const state = [1, 2, 3, 4];
    expect(Array.from({ length: 6 }, () => exports.next32(state))).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('errors: stacks keep only the script’s frames, and names are read without running accessors', async () => {
    const { ctx, exports } = await loadInFreshContext<{ prepareStackTrace: (e: unknown, f: unknown[]) => string; readErrorField: (e: unknown, k: string) => unknown }>('errors.ts');
    const frame = (file: string, line: number, fn: string) => ({ getFileName: () => file, getLineNumber: () => line, getColumnNumber: () => 3, getFunctionName: () => fn });
    const err = vm.runInContext('new TypeError("bad")', ctx);
    const stack = exports.prepareStackTrace(err, [frame('/srv/app/node_modules/x.js', 9, 'host'), frame('agentscript.js', 2, 'mine'), frame('agentscript.js', 4, '__ek_wrapper')]);
    expect(stack).toBe('TypeError: bad\n    at mine (agentscript.js:2:3)\n    at <anonymous> (agentscript.js:4:3)');
    let reads = 0;
    const sneaky = vm.runInContext('({})', ctx) as object;
    Object.defineProperty(sneaky, 'message', { get: () => ++reads });
    expect(exports.readErrorField(sneaky, 'message')).toBeUndefined();
    expect(reads).toBe(0);
  });

  it('errors: a value of another realm is told from the realm’s own, without running any of its code', async () => {
    const { ctx, exports } = await loadInFreshContext<{ foreign: (v: unknown) => boolean }>('errors.ts');
    const own = (code: string) => vm.runInContext(code, ctx) as unknown;
    // Another realm's (here the test's): what host code throws on the realm's stack, and what it holds.
    for (const v of [new RangeError('Maximum call stack size exceeded'), () => 1, {}, [], Object.create(new Error('x'))]) expect(exports.foreign(v), String(v)).toBe(true);
    // A native SuppressedError carries what was thrown in its `error` and `suppressed`, at any nesting.
    expect(exports.foreign((own('(h) => ({ error: h, suppressed: 1 })') as (h: unknown) => unknown)(new RangeError('r')))).toBe(true);
    expect(exports.foreign((own('(h) => ({ error: { suppressed: h } })') as (h: unknown) => unknown)(new RangeError('r')))).toBe(true);
    // Six disposers that throw as a `using` scope exits leave the host's error six SuppressedErrors down
    // (red9: the look stopped at four), and disposers' own SuppressedErrors branch off through `error`.
    const wrap = own('(h, n, key) => { let v = h; for (let i = 0; i < n; i++) v = { error: 0, suppressed: 0, [key]: v }; return v; }') as (h: unknown, n: number, key: string) => unknown;
    for (const n of [5, 6, 40, 200]) for (const key of ['error', 'suppressed']) expect(exports.foreign(wrap(new RangeError('r'), n, key)), `${n} ${key}`).toBe(true);
    expect(exports.foreign(wrap(wrap(new RangeError('r'), 7, 'error'), 7, 'suppressed'))).toBe(true);
    // Past 256 objects, or a cycle, nothing more is looked at: the value counts as another realm's.
    expect(exports.foreign(wrap(1, 300, 'suppressed'))).toBe(true);
    expect(exports.foreign(own('const c = { error: 1 }; c.suppressed = c; c'))).toBe(true);
    expect(exports.foreign(wrap(new (own('RangeError') as typeof RangeError)('r'), 200, 'suppressed'))).toBe(false);
    // The realm's own, however odd: errors, classes, functions, objects with no prototype or a prototype
    // with none, and primitives.
    for (const code of ['new RangeError("x")', '(class E extends Error {}, new (class E extends Error {})())', '() => 1', 'Object.create(null)', 'Object.create(Object.create(null))', '({ error: new Error("e") })', '[1, {}]', '"s"', '1', 'null', 'undefined']) {
      expect(exports.foreign(own(code)), code).toBe(false);
    }
    // Nothing of the value's code runs: not a getter of its own, not one on the way up its prototypes.
    let runs = 0;
    const trap = Object.create(Object.defineProperty({}, 'constructor', { get: () => ++runs }), { error: { get: () => ++runs } });
    expect(exports.foreign(trap)).toBe(true);
    expect(runs).toBe(0);
  });

  it('promises: marking a promise handled runs none of the script’s code', async () => {
    const { ctx, exports } = await loadInFreshContext<{ markHandled: <P>(p: P) => P }>('promises.ts');
    const species = vm.runInContext('globalThis.speciesReads = 0; class P extends Promise { static get [Symbol.species]() { globalThis.speciesReads++; return Promise; } }; new P(() => {})', ctx);
    exports.markHandled(species);
    expect(vm.runInContext('speciesReads', ctx)).toBe(0);
  });

  it('builtins: bulk allocations are charged before they happen', async () => {
    const { ctx, exports } = await loadInFreshContext<{ wrapBulkBuiltins: () => void; __budgets?: never }>('builtins.ts');
    exports.wrapBulkBuiltins();
    // No run is current in this context: wrapped builtins behave as the originals.
    expect(vm.runInContext("'ab'.repeat(3) + [1, 2].join('-') + Array.from('xy').length", ctx)).toBe('ababab1-22');
    expect(vm.runInContext('Array.prototype.join.name + String.prototype.repeat.length', ctx)).toBe('join1');
  });

  it('lockdown: the global object and the intrinsics are frozen, code generation and the removed globals are gone', async () => {
    const { ctx, exports } = await loadInFreshContext<{ lockdown: (o: object, codec: object) => number }>('lockdown.ts');
    const { exports: codecModule } = await loadInFreshContext<{ createCodec: () => object }>('codec.ts');
    exports.lockdown({ intl: false, proxy: false }, codecModule.createCodec());
    expect(vm.runInContext('[Object.isFrozen(this), typeof globalThis, Object.isFrozen(Array.prototype), typeof eval, typeof Function, typeof Proxy, typeof SharedArrayBuffer]', ctx)).toEqual([
      true,
      'undefined',
      true,
      'undefined',
      'undefined',
      'undefined',
      'undefined',
    ]);
  });

  it('run: a run gets its guards, its tool calls cross the bridge, and the outcome is reported once', async () => {
    type Installed = { register: (f: unknown) => number; start: () => void; pump: () => void };
    const { ctx, exports } = await loadInFreshContext<{ install: (bridge: object, options: string) => Installed }>('index.ts');
    const reports: unknown[][] = [];
    const calls: unknown[][] = [];
    let config = '';
    let mailbox = '';
    const installed = exports.install(
      {
        begin: () => config,
        tool: (...a: unknown[]) => (calls.push(a), 1),
        take: () => mailbox,
        done: (...a: unknown[]) => reports.push(a),
        log: () => undefined,
        heap: () => 0,
      },
      JSON.stringify({ intl: false, proxy: false }),
    );
    const factory = vm.runInContext(
      `(function (rt, callTool) {
        let n = 0;
        rt.bind(() => n, () => {}, () => 0);
        return async function () {
          let refused;
          try { rt.m({ toString: () => 'constructor' }); } catch (e) { refused = e.name; }
          const got = await callTool('lookup', { id: 7 });
          return { refused, got };
        };
      })`,
      ctx,
    );
    const limits = { maxIterations: 100, maxCallDepth: 10, maxToolCalls: 5, memoryLimit: 1 << 20, maxOutputBytes: 1000, maxToolArgsBytes: 1000, maxLogBytes: 1000, maxLogEntries: 10 };
    config = `${JSON.stringify({ id: 9, factory: installed.register(factory), limits, input: -1, globals: -1, names: [], fnNames: [] })}\n`;
    installed.start();
    await new Promise((resolve) => setImmediate(resolve));
    // The bridge is called with a fixed arity (see host.ts): the unused trailing argument is undefined.
    expect(calls).toEqual([[9, 1, 'lookup', '{"id":7}']]);
    // The head gives each reply's length; the payloads follow the newline, unescaped.
    mailbox = `${JSON.stringify([[1, 1, 16]])}\n{"name":"seven"}`;
    installed.pump();
    await new Promise((resolve) => setImmediate(resolve));
    expect(reports).toEqual([[9, JSON.stringify({ kind: 'ok', iterations: 0, toolCalls: 1 }), '{"refused":"TypeError","got":{"name":"seven"}}', undefined]]);
  });

  it('index: install locks the realm and returns the host’s controls', async () => {
    const { ctx, exports } = await loadInFreshContext<{ install: (bridge: object, options: string) => { control: { clean: () => boolean; end: () => void } } }>('index.ts');
    const noop = () => undefined;
    const installed = exports.install({ begin: noop, tool: () => 0, take: () => '', done: noop, log: noop, heap: () => 0 }, JSON.stringify({ intl: false, proxy: false }));
    expect(installed.control.clean()).toBe(true);
    expect(vm.runInContext('Object.isFrozen(this)', ctx)).toBe(true);
  });
});
