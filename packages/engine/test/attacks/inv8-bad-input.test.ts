/**
 * Invariant 8: bad input never crashes or hangs the host. Every failure is an ExecutionResult with a
 * code; run() never throws; construction-time mistakes throw EnclaveConfigError naming the option.
 * Hostile source text (NUL, BiDi, homoglyphs, wrapper escapes, nesting bombs), hostile options and
 * inputs, misbehaving tools, dispose() and aborts in flight, and process-level crashes (in a child).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Enclave, EnclaveConfigError, ToolError } from '../../src/index.js';
import type { CreateEnclaveOptions, ExecutionResult, RunOptions } from '../../src/index.js';
import type { Attack } from '../helpers.js';
import { ADAPTERS, ChildBatch, childResult, describeChild, describeResult, expectEventLoopAlive, expectNextTenantClean, expectNoLeak, expectWellFormed, isBugRow, itBug, LEVEL_ADAPTERS, makeEnclave, makeToolKit, rowEnclave, runAttack, waitUntil } from '../helpers.js';

const REJECTED = ['VALIDATION_ERROR'] as const;

export const ATTACKS: readonly Attack[] = [
  { name: 'NUL byte in the source', code: "const a = 'x\u0000y'; return a;\u0000", expect: REJECTED },
  { name: 'Trojan Source: BiDi override hides code in a comment', code: "const isAdmin = false;\n/*\u202E } \u2066if (isAdmin)\u2069 \u2066 begin admins only */\nreturn isAdmin;", expect: REJECTED },
  { name: 'BiDi isolate inside a string literal that changes how code reads', code: "const access = 'user\u2067 // check if admin\u2066';\nreturn access;", expect: REJECTED },
  { name: 'zero-width characters inside an identifier', code: 'const call\u200BTool = () => 1; return call\u200BTool();', expect: REJECTED },
  { name: 'homoglyph identifier (Cyrillic а in callTool)', code: "const c\u0430llTool = async () => 'fake'; return await c\u0430llTool('echo', {});", expect: REJECTED },
  { name: 'invisible tag characters', code: 'const x = 1;\uDB40\uDC41\uDB40\uDC42 return x;', expect: REJECTED },
  {
    name: 'unicode escapes spelling `constructor` in identifiers',
    code: `const c = ({}).\\u0063onstructor; return typeof c;`,
    expect: ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR'],
    validation: 'reject',
  },
  {
    name: 'unicode escapes spelling reserved runtime names (__ek_*)',
    code: 'return typeof \\u005f_ek_rt;',
    expect: REJECTED,
  },
  { name: 'lone surrogates in literals', code: "return ['\\uD800', '\\uDFFF'].map((s) => s.length);", expect: ['OK', 'VALIDATION_ERROR'] },
  { name: 'raw lone surrogate in the source text', code: "return '\uD800'.length;", expect: ['OK', 'VALIDATION_ERROR'] },
  { name: 'bracket nesting bomb (100k)', code: `return ${'('.repeat(100_000)}1${')'.repeat(100_000)};`, expect: REJECTED },
  { name: 'array nesting bomb (20k)', code: `return ${'['.repeat(20_000)}${']'.repeat(20_000)};`, expect: REJECTED },
  { name: 'unary operator chain bomb (100k `!`)', code: `return ${'!'.repeat(100_000)}0;`, expect: ['OK', 'VALIDATION_ERROR'] },
  { name: 'a very long line', code: `return '${'x'.repeat(200_000)}'.length;`, expect: REJECTED },
  { name: 'huge code (3 MB)', code: `const a = 1;\n${'// filler filler filler filler filler filler filler filler\n'.repeat(50_000)}return a;`, expect: REJECTED },
  { name: 'very many statements', code: `${'x++;'.repeat(60_000)}`, expect: ['VALIDATION_ERROR', 'RUNTIME_ERROR'] },
  { name: 'closing the wrapper early: `}); __ek_register(...)`', code: "return 1; }); __ek_register(function () { return async function () { return 'escaped'; }; }); (function () {", expect: REJECTED },
  { name: 'closing the wrapper early: `}; (() => {...})(); function x() {`', code: "}; (() => { globalThis.__pwned = 1; })(); function x() {", expect: REJECTED },
  { name: 'an unbalanced template literal and comment', code: 'return `${1}; /* ', expect: REJECTED },
  { name: 'HTML open comment `<!--` (a comment to V8 scripts, code to the module parser)', code: 'let b = 1;\nlet a = 2 <!-- b;\nreturn [a, b];', expect: ['OK', 'VALIDATION_ERROR'] },
  { name: 'HTML close comment `-->` at the start of a line', code: 'let x = 3;\nlet i = 0;\nfor (;;) x\n--> 0;\nreturn x;', expect: ['OK', 'VALIDATION_ERROR', 'MAX_ITERATIONS', 'RUNTIME_ERROR'] },
  { name: 'a hashbang in the middle of the code', code: 'const a = 1;\n#!/usr/bin/env node\nreturn a;', expect: REJECTED },
  { name: 'module syntax: import / export declarations', code: "import fs from 'node:fs';\nexport const x = 1;", expect: REJECTED },
  { name: 'line and paragraph separators in code', code: 'const a = 1;\u2028const b = 2;\u2029return a + b;', expect: ['OK', 'VALIDATION_ERROR'] },
  { name: 'an empty script and a comment-only script', code: '   // nothing here\n/* or here */\n', expect: ['OK'], validation: 'accept', check: (r) => expect(r.value).toBeUndefined() },
  {
    name: 'a flood of ~10k validation violations: bounded report, no blow-up',
    code: 'eval(1); Function(2);\n'.repeat(4_900),
    expect: ['VALIDATION_ERROR', 'RUNTIME_ERROR'],
    check: (r) => {
      expect((r.error?.data?.issues as unknown[] | undefined)?.length ?? 0).toBeLessThanOrEqual(100);
      expect(r.error?.message.length).toBeLessThan(20_000);
    },
  },
  { name: 'debugger statement', code: 'debugger; return 1;', expect: ['OK', 'VALIDATION_ERROR'], validation: 'reject' },
  { name: 'regex with a huge quantifier', code: "return /a{99999999}/.test('a');", expect: ['OK', 'VALIDATION_ERROR', 'TIMEOUT', 'RUNTIME_ERROR'] },
  {
    name: 'input: cyclic object works and stays cyclic',
    code: 'return input.self === input;',
    expect: ['OK'],
    validation: 'accept',
    run: () => {
      const o: Record<string, unknown> = {};
      o.self = o;
      return { input: o };
    },
    check: (r) => expect(r.value).toBe(true),
  },
  { name: 'input: 100 MB string is refused before the walk', code: 'return input.length;', expect: REJECTED, run: () => ({ input: 'x'.repeat(100 * 1024 * 1024) }) },
  { name: 'input: sparse array of length 1e9 is refused at once', code: 'return input.length;', expect: REJECTED, run: () => ({ input: Object.assign([], { length: 1e9 }) }) },
  {
    name: 'input: object with 1e5 keys (over maxInputBytes) is refused',
    code: 'return Object.keys(input).length;',
    expect: REJECTED,
    enclave: { maxInputBytes: 256 * 1024 },
    run: () => {
      const o: Record<string, number> = {};
      for (let i = 0; i < 1e5; i++) o[`k${i}`] = i;
      return { input: o };
    },
  },
  {
    name: 'input: nesting 10k deep is refused (no stack overflow)',
    code: 'return typeof input;',
    expect: REJECTED,
    run: () => {
      let v: unknown = 0;
      for (let i = 0; i < 10_000; i++) v = { v };
      return { input: v };
    },
  },
  {
    name: 'input: a Proxy whose every trap throws',
    code: 'return typeof input;',
    expect: ['OK', 'VALIDATION_ERROR'],
    run: () => ({
      input: new Proxy(
        {},
        {
          get() {
            throw new Error('trap');
          },
          ownKeys() {
            throw new Error('trap');
          },
          getPrototypeOf() {
            throw new Error('trap');
          },
          getOwnPropertyDescriptor() {
            throw new Error('trap');
          },
        },
      ),
    }),
  },
  {
    name: 'input: throwing getters, throwing toJSON, BigInt, Symbol and functions',
    code: 'return [typeof input.big, input.sym, input.fn, input.ok, typeof input.viaJSON];',
    expect: ['OK', 'VALIDATION_ERROR'],
    run: () => ({
      input: {
        get boom() {
          throw new Error('getter');
        },
        viaJSON: {
          toJSON() {
            throw new Error('toJSON');
          },
        },
        big: 10n,
        sym: Symbol('s'),
        fn: () => 1,
        ok: 1,
      },
    }),
  },
  { name: 'input: a toJSON that returns a 100 MB string', code: 'return typeof input;', expect: REJECTED, run: () => ({ input: { toJSON: () => 'x'.repeat(100 * 1024 * 1024) } }) },
  { name: 'globals: invalid names per run (reserved, runtime, blocked)', code: 'return 1;', expect: REJECTED, run: () => ({ globals: { __ek_rt: 1 } }) },
  { name: 'globals: a name that shadows callTool', code: 'return 1;', expect: REJECTED, run: () => ({ globals: { callTool: 1 } }) },
  { name: 'globals: a name that is a keyword', code: 'return 1;', expect: REJECTED, run: () => ({ globals: { return: 1 } }) },
  { name: 'run options: unknown option', code: 'return 1;', expect: REJECTED, run: () => ({ mystery: true }) as unknown as RunOptions },
  { name: 'run options: negative timeout', code: 'return 1;', expect: REJECTED, run: () => ({ timeout: -1 }) },
  { name: 'run options: NaN / Infinity limits', code: 'return 1;', expect: REJECTED, run: () => ({ maxIterations: Number.NaN, timeout: Number.POSITIVE_INFINITY }) },
  { name: 'run options: string limit', code: 'return 1;', expect: REJECTED, run: () => ({ timeout: '100' }) as unknown as RunOptions },
  { name: 'run options: tools is not an object of functions', code: 'return 1;', expect: REJECTED, run: () => ({ tools: { a: 1 } }) as unknown as RunOptions },
  { name: 'run options: both tools and toolHandler', code: 'return 1;', expect: REJECTED, run: () => ({ tools: {}, toolHandler: () => 1 }) },
  {
    name: 'tool misbehaviour: returns functions, symbols, undefined, cycles, rejects with null, throws undefined',
    code: `const out = [];
for (const name of ['fn', 'sym', 'undef', 'cyc', 'rejNull', 'throwUndef', 'weird']) {
  try { const r = await callTool(name, {}); out.push([name, r === undefined ? 'undefined' : typeof r]); } catch (e) { out.push([name, 'error', e.code]); }
}
return out;`,
    expect: ['OK'],
    validation: 'accept',
    run: () => ({
      tools: {
        fn: () => () => 1,
        sym: () => Symbol('x'),
        undef: () => undefined,
        cyc: () => {
          const a: unknown[] = [];
          a.push(a);
          return a;
        },
        rejNull: () => Promise.reject(null),
        throwUndef: () => {
          throw undefined;
        },
        weird: () => Object.create(null, { x: { get: () => 1, enumerable: true } }),
      },
    }),
  },
  {
    // A thrown value is read to tell a ToolError from anything else: a revoked Proxy throws on every
    // trap, `instanceof` included, and that second throw became an unhandled rejection that ended the
    // host process (found by red-team review).
    name: 'tool misbehaviour: throws or rejects with a revoked Proxy, a Proxy whose traps throw, a ToolError whose getters throw',
    code: `const out = [];
for (const name of ['revokedThrow', 'revokedReject', 'trapThrow', 'getterToolError', 'proxyThenable']) {
  try { await callTool(name, {}); out.push([name, 'ok']); } catch (e) { out.push([name, e.code]); }
}
return out;`,
    expect: ['OK'],
    validation: 'accept',
    run: () => {
      const revoked = () => {
        const { proxy, revoke } = Proxy.revocable({}, {});
        revoke();
        return proxy;
      };
      const trapsThrow = new Proxy({}, { getPrototypeOf: () => { throw new Error('trap'); }, get: () => { throw new Error('trap'); } });
      const getterToolError = new ToolError('public text', { code: 'X' });
      Object.defineProperty(getterToolError, 'message', { get: () => { throw new Error('getter'); } });
      return {
        tools: {
          revokedThrow: () => {
            throw revoked();
          },
          revokedReject: () => Promise.reject(revoked()),
          trapThrow: () => {
            throw trapsThrow;
          },
          getterToolError: () => {
            throw getterToolError;
          },
          proxyThenable: () => revoked(),
        },
      };
    },
    check: (r) => expect(r.value).toEqual([['revokedThrow', 'TOOL_FAILED'], ['revokedReject', 'TOOL_FAILED'], ['trapThrow', 'TOOL_FAILED'], ['getterToolError', 'TOOL_FAILED'], ['proxyThenable', 'TOOL_FAILED']]),
  },
];

describe.each(ADAPTERS)('invariant 8, bad input never crashes or hangs [$name]', (adapter) => {
  // vm rows share the row's Enclave too, as a long-lived server does: each attack meets the realm the
  // previous tenant left when it was judged clean, instead of a new realm (about 5 ms of CPU each).
  // What is judged here is the host's answer to hostile input: with the input cap taken out, the same
  // 12 tests fail shared or not.
  const shared = rowEnclave(adapter, { shareVm: true });
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack, shared());
    });
  }

  // The next two and the nested run share the row's Enclave (a new one started a worker each in the
  // worker_threads rows): what they judge is run()'s answer, then a next tenant, on any Enclave.
  it('non-string code of every kind returns VALIDATION_ERROR and never throws', async () => {
    const enclave = shared() as Enclave;
    for (const code of [undefined, null, 42, {}, [], Object('return 1'), Symbol('x'), () => 'return 1', 10n, true]) {
      const r = await enclave.run(code as unknown as string);
      expectWellFormed(r);
      expect(r.error?.code, describeResult(r)).toBe('VALIDATION_ERROR');
    }
    await expectNextTenantClean(enclave);
  });

  it('non-object run options return VALIDATION_ERROR and never throw (null is no options: `runOptions?`)', async () => {
    const enclave = shared() as Enclave;
    for (const options of [5, 'x', true]) {
      const r = await enclave.run('return 1;', options as unknown as RunOptions);
      expectWellFormed(r);
      expect(r.error?.code).toBe('VALIDATION_ERROR');
    }
    const none = await enclave.run('return 1;', null);
    expectWellFormed(none);
    expect(none.value).toBe(1);
    await expectNextTenantClean(enclave);
  });

  it('dispose() while runs are in flight: every run settles as ABORTED and tool signals abort', async () => {
    const enclave = makeEnclave(adapter);
    await enclave.ready();
    const kit = makeToolKit();
    const runs = [
      enclave.run("await callTool('hang', {}); return 1;", { tools: kit.tools }),
      enclave.run("await callTool('slow', { ms: 5000 }); return 1;", { tools: kit.tools }),
      enclave.run("for (let i = 0; i < 3; i++) await callTool('hang', { i }); return 1;", { tools: kit.tools }),
    ];
    // Every run is inside its tool (with the worker adapter, extra workers start first).
    await waitUntil(() => kit.calls.length === 3);
    enclave.dispose();
    enclave.dispose();
    const results = await Promise.all(runs);
    kit.settled();
    for (const r of results) {
      expectWellFormed(r);
      expect(r.error?.code, describeResult(r)).toBe('ABORTED');
      expectNoLeak(r);
    }
    expect(kit.aborted.length).toBe(3);
    const after = await enclave.run('return 1;');
    expectWellFormed(after);
    expect(after.success).toBe(false);
    await kit.expectNoLateCalls();
    await expectEventLoopAlive();
  });

  it('a tool that re-enters the Enclave (a nested run inside a tool) works', async () => {
    const enclave = shared() as Enclave;
    const r = await enclave.run("return await callTool('nested', {});", {
      tools: { nested: async () => (await enclave.run('return 6 * 7;')).value },
    });
    expect(r.value, describeResult(r)).toBe(42);
  });

  it('a tool that disposes the Enclave mid-run ends its own run as ABORTED', async () => {
    const enclave = makeEnclave(adapter);
    const r = await enclave.run("await callTool('killer', {}); await callTool('killer', {}); return 'survived';", {
      tools: {
        killer: () => {
          enclave.dispose();
          return 1;
        },
      },
    });
    expectWellFormed(r);
    expect(r.error?.code).toBe('ABORTED');
  });

  it('`using` disposes the Enclave', async () => {
    let kept: Enclave | undefined;
    {
      using enclave = makeEnclave(adapter);
      kept = enclave;
      expect((await enclave.run('return 1;')).value).toBe(1);
    }
    const r = await kept.run('return 1;');
    expect(r.success).toBe(false);
  });

  it('AbortSignal: already aborted, aborted while a tool hangs, aborted after the run: ABORTED and no late tools', async () => {
    const enclave = makeEnclave(adapter);
    try {
      await enclave.ready();
      const kit = makeToolKit();
      const pre = await enclave.run('return 1;', { signal: AbortSignal.abort(), tools: kit.tools });
      expect(pre.error?.code).toBe('ABORTED');
      const c = new AbortController();
      const pending = enclave.run("await callTool('hang', {}); await callTool('echo', { late: true }); return 1;", { signal: c.signal, tools: kit.tools });
      // The client goes away while the tool hangs.
      await waitUntil(() => kit.calls.length > 0);
      c.abort(new Error('client went away /work/secret'));
      const during = await pending;
      kit.settled();
      expect(during.error?.code).toBe('ABORTED');
      expectNoLeak(during);
      expect(kit.aborted).toEqual([1]);
      const c2 = new AbortController();
      const done = await enclave.run('return 2;', { signal: c2.signal });
      c2.abort();
      expect(done.value).toBe(2);
      await kit.expectNoLateCalls();
      await expectNextTenantClean(enclave);
    } finally {
      enclave.dispose();
    }
  });

  it('AbortSignal fired while the script is busy: the run still ends (ABORTED or TIMEOUT), never hangs', async () => {
    const enclave = makeEnclave(adapter, { maxIterations: 1e15 });
    try {
      const c = new AbortController();
      setTimeout(() => c.abort(), 10);
      const r = await enclave.run("await callTool('echo', {}); let i = 0; for (; i < 1e15; i++) {} return i;", { signal: c.signal, timeout: 150, tools: makeToolKit().tools });
      expect(['ABORTED', 'TIMEOUT']).toContain(r.error?.code);
      await expectEventLoopAlive();
    } finally {
      enclave.dispose();
    }
  });

  it('a mixed storm of 40 concurrent hostile runs all settle with a code', async () => {
    const enclave = makeEnclave(adapter, { maxIterations: 200_000 });
    try {
      const kit = makeToolKit();
      const codes = [
        'let i = 0; while (i >= 0) { i++; }',
        "await callTool('hang', {});",
        "return 'x'.repeat(2 ** 28);",
        'const k = "constr" + "uctor"; return ({})[k];',
        "try { await callTool('secret', {}); } catch (e) { return e.message; }",
        'function f() { return f(); } return f();',
        'const a = {}; a.a = a; return a;',
        'return input;',
        '}); oops',
        "for (let i = 0; i < 50; i++) await callTool('count', {});",
      ];
      const results: ExecutionResult[] = await Promise.all(
        Array.from({ length: 40 }, (_, i) => enclave.run(codes[i % codes.length] as string, { tools: kit.tools, timeout: 300, input: { i } })),
      );
      kit.settled();
      for (const r of results) {
        expectWellFormed(r);
        expectNoLeak(r);
      }
      expect(enclave.stats().activeRuns).toBe(0);
      await kit.expectNoLateCalls();
      await expectNextTenantClean(enclave);
    } finally {
      enclave.dispose();
    }
  });
});

const LEVEL_SUBSET = ATTACKS.filter((a) => /NUL byte|Trojan Source|closing the wrapper early: `}\)/.test(a.name));

describe.each(LEVEL_ADAPTERS)('invariant 8 at other levels [$name]', (adapter) => {
  for (const attack of LEVEL_SUBSET) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, { ...attack, validation: undefined });
    });
  }
});

describe('invariant 8: invalid options at construction throw EnclaveConfigError naming the option', () => {
  const cases: [string, unknown, RegExp][] = [
    ['timeout: -5', { timeout: -5 }, /timeout/],
    ['timeout: 1.5', { timeout: 1.5 }, /timeout/],
    ['memoryLimit: NaN', { memoryLimit: Number.NaN }, /memoryLimit/],
    ['maxToolCalls: "10"', { maxToolCalls: '10' }, /maxToolCalls/],
    ['maxIterations: Infinity', { maxIterations: Number.POSITIVE_INFINITY }, /maxIterations/],
    ['securityLevel: "NOPE"', { securityLevel: 'NOPE' }, /securityLevel/],
    ['unknown option', { timeOut: 100 }, /timeOut/],
    ['adapter: "process"', { adapter: 'process' }, /adapter/],
    ['validate: "yes"', { validate: 'yes' }, /validate/],
    ['transform: 0', { transform: 0 }, /transform/],
    ['tools: 5', { tools: 5 }, /tools/],
    ['tools with a non-function', { tools: { a: 'b' } }, /tools/],
    ['tools and toolHandler together', { tools: {}, toolHandler: () => 1 }, /toolHandler|tools/],
    ['toolHandler: "x"', { toolHandler: 'x' }, /toolHandler/],
    ['globals: array', { globals: [1] }, /globals/],
    ['globals: callTool', { globals: { callTool: 1 } }, /callTool/],
    ['globals: eval', { globals: { eval: 1 } }, /eval/],
    ['globals: __ek_x', { globals: { __ek_x: 1 } }, /__ek_x/],
    ['globals: function without allowFunctionsInGlobals', { globals: { f: () => 1 } }, /allowFunctionsInGlobals/],
    ['realmPool: { maxIdle: -1 }', { realmPool: { maxIdle: -1 } }, /maxIdle/],
    ['realmPool: { bogus: 1 }', { realmPool: { bogus: 1 } }, /bogus/],
    ['options: null', null, /options/],
    ['options: "STRICT"', 'STRICT', /options/],
  ];
  for (const [label, options, names] of cases) {
    it(label, () => {
      let thrown: unknown;
      try {
        const made = new Enclave(options as CreateEnclaveOptions);
        made.dispose();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as Error).message).toMatch(names);
      expectNoLeak({ message: (thrown as Error).message });
    });
  }
});

/**
 * A child still running after this long is hung: the kill only reports a hang, it never judges speed
 * (starting Node and loading the engine alone took seconds on a loaded 2-core machine).
 */
const HANG_MS = 60_000;
const CHILD_TEST_MS = HANG_MS + 30_000;

const realmRejections = `
const enclave = new Enclave({ validate: false });
const codes = [
  "Promise.reject(new Error('unhandled in realm')); return 1;",
  "(async () => { throw new Error('async unhandled'); })(); return 2;",
  "callTool('missing', {}); return 3;",
  "Promise.reject(null); Promise.reject({ then() { throw 1; } }); return 4;",
  "const p = Promise.reject(new Error('late handled')); await null; await null; p.catch(() => {}); return 5;",
  "new Promise((_, rej) => rej(new Error('x'))).then(() => 1); return 6;",
  "let i = 0; (async () => { await null; throw new Error('after return'); })(); return 7;",
  // A subclass's species getter runs while a promise is being marked handled: what it rejects must be marked too.
  "class P extends Promise { static get [Symbol.species]() { Promise.reject(1); (async () => { throw 2; })(); return Promise; } } new P((r) => r(1)).then(() => 1); return 8;",
];
const out = [];
// The level's deadline (30 s): these runs must finish, and 500 ms was not always enough on a loaded machine.
for (const code of codes) { const r = await enclave.run(code); out.push(r.success ? r.value : r.error.code); }
await new Promise((r) => setTimeout(r, 50));
console.log('RESULT ' + JSON.stringify(out));
`;

/**
 * The children start with the file (see ChildBatch), so their CPU overlaps with the in-process tests
 * above, which spend much of their time waiting; each test below awaits only its own child.
 */
const children = new ChildBatch(2);
const REJECTIONS_DEFAULT = children.add('realm rejections, default flags', realmRejections, { killAfterMs: HANG_MS });
const REJECTIONS_STRICT = children.add('realm rejections, strict', realmRejections, { nodeArgs: ['--unhandled-rejections=strict'], killAfterMs: HANG_MS });
const HOST_REJECTION = children.add(
  'host rejection',
  `const enclave = new Enclave();
await enclave.run('return 1;');
console.log('RESULT "before"');
Promise.reject(new Error('host bug'));
await new Promise((r) => setTimeout(r, 200));
console.log('RESULT "survived"');`,
  { killAfterMs: HANG_MS },
);
const LEFT_BEHIND = children.add(
  'left behind',
  `const enclave = new Enclave({ realmPool: { maxIdle: 4, prewarm: 4 } });
const tools = { hang: () => new Promise(() => {}) };
const rs = await Promise.all([
  enclave.run("await callTool('hang', {});", { tools, timeout: 100 }),
  enclave.run('let i = 0; while (i >= 0) { i++; }', { timeout: 100 }),
  enclave.run("(async () => { for (let i = 0; i < 1e9; i++) await null; })(); return 1;", { timeout: 100 }),
]);
console.log('RESULT ' + JSON.stringify(rs.map((r) => (r.success ? 'OK' : r.error.code))));`,
  { killAfterMs: HANG_MS },
);
const HUGE_SORT = children.add(
  'sort of length 2^32-1',
  `const enclave = new Enclave({ securityLevel: 'STRICT' });
const r = await enclave.run('[].sort.call({ length: 2 ** 32 - 1 }); return 1;', { timeout: 300 });
console.log('RESULT ' + JSON.stringify(r.success ? 'OK' : r.error.code));`,
  { killAfterMs: HANG_MS },
);
beforeAll(() => children.start(), 120_000);

describe('invariant 8 in a child process: the host process survives', () => {
  it('unhandled rejections inside the realm do not crash the host (default --unhandled-rejections=throw)', async () => {
    const child = await children.result(REJECTIONS_DEFAULT);
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, CHILD_TEST_MS);

  it('unhandled rejections inside the realm do not crash the host (--unhandled-rejections=strict)', async () => {
    const child = await children.result(REJECTIONS_STRICT);
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  }, CHILD_TEST_MS);

  it("the host's own unhandled rejections still crash the host as Node would (behaviour unchanged)", async () => {
    const child = await children.result(HOST_REJECTION);
    expect(child.code, describeChild(child)).not.toBe(0);
    expect(childResult(child)).toBe('before');
    expect(child.stderr).toContain('host bug');
  }, CHILD_TEST_MS);

  it('nothing the runtime leaves behind keeps the host process alive (hung tools, timeouts, no dispose)', async () => {
    const child = await children.result(LEFT_BEHIND);
    expect(child.timedOut, describeChild(child)).toBe(false);
    expect(child.code, describeChild(child)).toBe(0);
    const codes = childResult(child) as string[];
    expect(codes[0]).toBe('TIMEOUT');
  }, CHILD_TEST_MS);

  // V8 aborted the process ("FATAL ERROR: invalid array length Allocation failed") inside the unwrapped
  // Array.prototype.sort; the script passes validation even at STRICT. Fixed: regression test.
  it('Array.prototype.sort on an array-like of length 2^32-1 must not abort the host (STRICT, validated)', async () => {
    const child = await children.result(HUGE_SORT);
    expect(child.code, describeChild(child)).toBe(0);
    expect(['MEMORY_LIMIT_EXCEEDED', 'TIMEOUT', 'RUNTIME_ERROR', 'MAX_ITERATIONS']).toContain(childResult(child));
  }, CHILD_TEST_MS);
});
