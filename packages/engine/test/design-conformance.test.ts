/**
 * DESIGN.md section 3 and 5.2 read as a peer team's black-box suite would read them: only the public
 * API, odd but legal inputs, and the promises the contract makes in so many words (`run()` never
 * throws, every failure has a code of the table, locations are the user's own lines, results are JSON).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, EnclaveConfigError, ErrorCode, SecurityLevel, WORKER_POOL_PRESETS } from '../src/index.js';
import type { ExecutionResult } from '../src/index.js';

const TABLE_CODES = [
  'VALIDATION_ERROR',
  'RUNTIME_ERROR',
  'TIMEOUT',
  'MAX_ITERATIONS',
  'MAX_TOOL_CALLS',
  'MEMORY_LIMIT_EXCEEDED',
  'TOOL_ERROR',
  'SCORING_BLOCKED',
  'ABORTED',
  'OUTPUT_LIMIT_EXCEEDED',
  'QUEUE_FULL',
  'INTERNAL_ERROR',
];

/** The shape section 3 gives, checked field by field, and a JSON round trip that changes nothing. */
function expectResultShape(r: ExecutionResult): void {
  expect(typeof r.success).toBe('boolean');
  expect(Object.keys(r.stats).sort()).toEqual(['duration', 'iterationCount', 'toolCallCount']);
  for (const n of Object.values(r.stats)) expect(Number.isFinite(n) && n >= 0).toBe(true);
  if (r.success) expect(r.error).toBeUndefined();
  else {
    expect(typeof r.error.name).toBe('string');
    expect(typeof r.error.message).toBe('string');
    expect(TABLE_CODES).toContain(r.error.code);
  }
  expect(JSON.parse(JSON.stringify(r))).toEqual(JSON.parse(JSON.stringify(r)));
}

describe('the names DESIGN.md keeps', () => {
  it('exports every error code of the table and the four levels, and the worker presets of the seed table', () => {
    for (const code of TABLE_CODES) expect(ErrorCode[code as keyof typeof ErrorCode]).toBe(code);
    expect(SecurityLevel).toMatchObject({ STRICT: 'STRICT', SECURE: 'SECURE', STANDARD: 'STANDARD', PERMISSIVE: 'PERMISSIVE' });
    const MB = 1024 * 1024;
    expect(WORKER_POOL_PRESETS).toEqual({
      STRICT: { minWorkers: 2, maxWorkers: 4, memoryLimitPerWorker: 64 * MB, maxMessagesPerSecond: 100 },
      SECURE: { minWorkers: 2, maxWorkers: 8, memoryLimitPerWorker: 128 * MB, maxMessagesPerSecond: 500 },
      STANDARD: { minWorkers: 2, maxWorkers: 16, memoryLimitPerWorker: 256 * MB, maxMessagesPerSecond: 1000 },
      PERMISSIVE: { minWorkers: 4, maxWorkers: 32, memoryLimitPerWorker: 512 * MB, maxMessagesPerSecond: 5000 },
    });
  });

  it('explicit workerPoolConfig fields win over the level’s preset: maxWorkers alone lowers its minWorkers, minWorkers alone raises its maxWorkers', async () => {
    await using one = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { maxWorkers: 1 } });
    await one.ready();
    expect([one.stats().workers?.workers, (await one.run('return 1')).value]).toEqual([1, 1]);
    // STRICT's preset is 2-4 workers.
    await using five = new Enclave({ securityLevel: 'STRICT', adapter: 'worker_threads', workerPoolConfig: { minWorkers: 5 } });
    await five.ready();
    expect(five.stats().workers?.workers).toBe(5);
    // Two given fields that contradict each other are still refused.
    expect(() => new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 3, maxWorkers: 2 } })).toThrow(EnclaveConfigError);
  });

  it('takes every option section 3 names at once', async () => {
    await using e = new Enclave({
      timeout: 5_000,
      maxToolCalls: 3,
      maxIterations: 1_000,
      memoryLimit: 32 * 1024 * 1024,
      securityLevel: SecurityLevel.SECURE,
      validate: true,
      transform: true,
      toolHandler: async (name, args) => ({ name, args }),
      globals: { tenant: 'acme', double: (n: number) => n * 2 },
      allowFunctionsInGlobals: true,
      sidecar: true,
      adapter: 'worker_threads',
      workerPoolConfig: { minWorkers: 1, maxWorkers: 2, memoryLimitPerWorker: 64 * 1024 * 1024, maxMessagesPerSecond: 100, maxExecutionsPerWorker: 10, maxQueueSize: 5, idleTimeoutMs: 1_000 },
      scoringGate: {},
    });
    const r = await e.run('const d = await double(21); const t = await callTool("echo", { d }); return [tenant, t]');
    expect(r).toMatchObject({ success: true, value: ['acme', { name: 'echo', args: { d: 42 } }] });
  });
});

describe('run() never throws for anything the script or its input does', () => {
  const enclave = new Enclave({ tools: { echo: async (args: unknown) => args } });
  afterAll(() => enclave.dispose());

  it.each([
    ['an empty script', ''],
    ['only whitespace and comments', '  \n// nothing\n/* here */\n'],
    ['a script that only logs', 'console.log("hello")'],
  ])('%s succeeds with no value', async (_name, code) => {
    const r = await enclave.run(code);
    expectResultShape(r);
    expect(r.success).toBe(true);
    expect(r.value).toBeUndefined();
  });

  it.each([null, 0, -1.5, 1e308, '', 'text', true, false, [], {}, [1, [2, [3]]], { a: { b: [null, 'x'] } }])('input %j comes back as it went in', async (input) => {
    const r = await enclave.run('return input', { input });
    expect(r).toMatchObject({ success: true, value: input });
  });

  it('unicode in code, input, logs and result survives the round trip', async () => {
    const text = 'héllo wörld, 日本語, emoji 🌍👩‍💻, line\u2028separator';
    const r = await enclave.run('const grüße = "🌍"; console.log(grüße, input); return { grüße, echo: input, len: [...input].length }', { input: text });
    expect(r).toMatchObject({ success: true, value: { grüße: '🌍', echo: text, len: [...text].length } });
    expect(r.logs?.[0]?.message).toBe(`🌍 ${text}`);
  });

  it.each([
    ['a non-string code', 42],
    ['undefined code', undefined],
    ['an object as code', { code: 'return 1' }],
  ])('%s is a VALIDATION_ERROR result', async (_name, code) => {
    const r = await enclave.run(code as never);
    expectResultShape(r);
    expect(r.error?.code).toBe('VALIDATION_ERROR');
  });

  it.each([
    { timeout: 0 },
    { timeout: -1 },
    { timeout: '100' },
    { timeout: Number.NaN },
    { timeout: Number.POSITIVE_INFINITY },
    { maxToolCalls: 1.5 },
    { maxIterations: -10 },
    { maxIterations: '10' },
  ])('run limits %o that are no limit are refused as a result, not thrown', async (limits) => {
    const r = await enclave.run('return 1', limits as never);
    expectResultShape(r);
    expect(r.error?.code).toBe('VALIDATION_ERROR');
  });

  it('a huge instance timeout is no deadline in practice, not an immediate TIMEOUT (Node timers overflow past 2^31-1 ms)', async () => {
    for (const timeout of [2 ** 31, 1e12, Number.MAX_SAFE_INTEGER]) {
      const e = new Enclave({ timeout, tools: { later: () => new Promise((resolve) => setTimeout(() => resolve('done'), 20)) } });
      const r = await e.run('const v = await callTool("later"); return v;');
      expect([timeout, r.success, r.value]).toEqual([timeout, true, 'done']);
      e.dispose();
    }
  });

  it('a huge run limit is no error: it cannot raise the instance limit', async () => {
    const small = new Enclave({ maxToolCalls: 1, tools: { t: () => 1 } });
    const r = await small.run('await callTool("t"); await callTool("t"); return 1', { timeout: 1e12, maxToolCalls: Number.MAX_SAFE_INTEGER, maxIterations: 1e15 });
    expect(r.error?.code).toBe('MAX_TOOL_CALLS');
    // Integers past what a double counts exactly, flat or as the HTTP body has them: capped, not refused.
    const past = await small.run('await callTool("t"); await callTool("t"); return 1', { timeout: 1e20, limits: { maxToolCalls: 2 ** 60, maxIterations: 1e300 } });
    expect([past.error?.code, past.error?.message]).toEqual(['MAX_TOOL_CALLS', 'Tool-call limit of 1 exceeded.']);
    small.dispose();
  });

  it('200 runs at once on one Enclave: each gets its own input, tools and result', async () => {
    const runs = Array.from({ length: 200 }, (_, i) =>
      enclave.run('const r = await callTool("me", {}); return { i: input, r, n: [1, 2, 3].map((x) => x * input).reduce((a, b) => a + b, 0) }', {
        input: i,
        tools: { me: async () => `user-${i}` },
      }),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => r.value)).toEqual(Array.from({ length: 200 }, (_, i) => ({ i, r: `user-${i}`, n: 6 * i })));
  });

  it.each([
    ['a string', 'throw "boom"'],
    ['null', 'throw null'],
    ['undefined', 'throw undefined'],
    ['a plain object', 'throw { reason: 1 }'],
  ])('throwing %s is a RUNTIME_ERROR', async (_name, code) => {
    const r = await enclave.run(code);
    expectResultShape(r);
    expect(r.error?.code).toBe('RUNTIME_ERROR');
  });
});

describe('locations point into the user’s own source (line 1 = the first line the user wrote)', () => {
  const enclave = new Enclave({ tools: { fail: async () => Promise.reject(new Error('down')), ok: async () => 1 } });
  afterAll(() => enclave.dispose());

  it.each([
    ['a runtime error on line 3', 'const a = 1;\nconst b = 2;\nnull.x;', { line: 3, column: 6 }],
    ['Windows line endings', 'const a = 1;\r\nconst b = 2;\r\nnull.x;', { line: 3, column: 6 }],
    ['old Mac line endings (\\r alone)', 'const a = 1;\rconst b = 2;\rnull.x;', { line: 3, column: 6 }],
    ['after a template with a line separator in it', 'const s = `a\u2028b`;\n  null.x;', { line: 3, column: 8 }],
    ['after comments', '// one\n/* two\n three */\nnull.x;', { line: 4, column: 6 }],
    ['after an await', 'await callTool("ok");\n\nnull.x;', { line: 3, column: 6 }],
    ['in a callback', 'const xs = [1];\nxs.map((x) => {\n  return x.y.z;\n});', { line: 3, column: 14 }],
    ['a thrown Error', 'const a = 1;\n\n  throw new Error("boom");', { line: 3, column: 9 }],
    ['an unhandled tool failure, at its callTool', 'const a = 1;\n  await callTool("fail");', { line: 2, column: 9 }],
    ['a syntax error', '\n\nconst x = ;', { line: 3, column: 11 }],
    ['a blocked construct', 'const a = 1;\n  eval("1");', { line: 2, column: 3 }],
  ])('%s', async (_name, code, location) => {
    const r = await enclave.run(code);
    expect(r.success).toBe(false);
    expect(r.error?.location).toEqual(location);
  });

  it('a runtime error and a validation error on the same line get the same line number, whatever ends the lines', async () => {
    // A line separator inside a template literal (elsewhere the pre-scan refuses it): V8 ends a line there.
    const cases: [end: string, template: string][] = [['\n', '`ab`'], ['\r\n', '`ab`'], ['\r', '`ab`'], ['\n', '`a\u2028b`'], ['\r', '`a\u2029b`']];
    for (const [end, template] of cases) {
      const lines = ['const s = "x";', '// note', `const t = ${template};`, 'PROBLEM;'];
      const code = (problem: string) => lines.join(end).replace('PROBLEM', problem);
      const runtime = await enclave.run(code('  null.x'));
      const validation = await enclave.run(code('  eval("1")'));
      expect([JSON.stringify(end + template), runtime.error?.location]).toEqual([JSON.stringify(end + template), { line: validation.error?.location?.line, column: 8 }]);
    }
  });

  it('a VALIDATION_ERROR carries the rule id and the location of its first problem', async () => {
    const r = await enclave.run('const a = 1;\n  eval("1");\nnew Function("x");');
    expect(r.error).toMatchObject({ code: 'VALIDATION_ERROR', location: { line: 2, column: 3 }, data: { ruleId: expect.any(String) } });
    const issues = r.error?.data?.issues as { ruleId: string; line: number }[];
    expect(issues.length).toBeGreaterThan(1);
    expect(r.error?.data?.ruleId).toBe(issues[0]?.ruleId);
    const syntax = await enclave.run('const = ;');
    expect(syntax.error?.data?.ruleId).toBe('syntax');
  });

  it('a stack trace names the user’s lines, and nothing of the host', async () => {
    const r = await enclave.run('const f = () => null.x;\nconst g = () => f();\ntry { g(); } catch (e) { return e.stack; }');
    const frames = String(r.value).split('\n').slice(1);
    expect(frames.map((f) => /:(\d+):\d+\)$/.exec(f)?.[1])).toEqual(['1', '2', '3']);
    expect(String(r.value)).not.toMatch(/node:|\/work\/|file:|internal/);
  });
});

describe('results are JSON (5.2): whatever the script returns', () => {
  for (const adapter of ['vm', 'worker_threads'] as const) {
    describe(adapter, () => {
      const enclave = new Enclave(adapter === 'vm' ? {} : { adapter, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
      afterAll(() => enclave.dispose());

      it('a result nested deeper than can be copied out is OUTPUT_LIMIT_EXCEEDED: it cannot be returned whole', async () => {
        for (const code of ['let v = 0; for (let i = 0; i < 10000; i++) v = [v]; return v;', 'const o = {}; let c = o; for (let i = 0; i < 1000; i++) { c.a = {}; c = c.a; } return o;']) {
          const r = await enclave.run(code);
          expectResultShape(r);
          expect(r.error).toMatchObject({ code: 'OUTPUT_LIMIT_EXCEEDED', name: 'OutputLimitError' });
        }
      });

      it('a result nested just within the copy-out depth comes back whole', async () => {
        const r = await enclave.run('let v = 0; for (let i = 0; i < 200; i++) v = [v]; return v;');
        expect(r.success).toBe(true);
        expect(JSON.stringify(r.value)).toBe(`${'['.repeat(200)}0${']'.repeat(200)}`);
      });

      it('JSON.stringify(result) never throws, and no own __proto__ key comes out of the realm', async () => {
        const r = await enclave.run(
          'const o = JSON.parse(\'{"__proto__": {"polluted": 1}, "a": {"__proto__": {"x": 1}, "b": 2}}\'); return { o, big: 10n ** 30n, nan: NaN, inf: -Infinity, date: new Date(0), map: new Map([["k", 1]]), fn: () => 1 };',
        );
        const text = JSON.stringify(r);
        expect(text).not.toMatch(/__proto__|polluted/);
        expect(r.value).toEqual({ o: { a: { b: 2 } }, big: '1000000000000000000000000000000', nan: null, inf: null, date: '1970-01-01T00:00:00.000Z', map: [['k', 1]] });
      });
    });
  }
});
