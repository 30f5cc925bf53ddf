import { describe, expect, expectTypeOf, it } from 'vitest';
import { Enclave, EnclaveConfigError, ErrorCode, LEVEL_CONFIGS, SecurityLevel, checkAgentScript } from '../src/index.js';
import { EARLY_ERRORS, V8_ONLY_REGEX } from './early-errors.js';
import type { CompiledScript, CreateEnclaveOptions, ExecutionError, ExecutionResult, ExecutionStats, RunOptions, WorkerPoolConfig } from '../src/index.js';

describe('new Enclave(options)', () => {
  it('applies the level defaults and lets explicit options win', () => {
    expect(new Enclave().limits).toEqual(LEVEL_CONFIGS.STANDARD.limits);
    const strict = new Enclave({ securityLevel: SecurityLevel.STRICT, timeout: 1234 });
    expect(strict.securityLevel).toBe('STRICT');
    expect(strict.limits.timeout).toBe(1234);
    expect(strict.limits.maxToolCalls).toBe(LEVEL_CONFIGS.STRICT.limits.maxToolCalls);
  });

  it.each([
    [{ timeout: 0 }, /timeout must be a positive integer/],
    [{ timeout: undefined, maxIterations: -1 }, /maxIterations must be a positive integer/],
    [{ memoryLimit: 1.5 }, /memoryLimit must be a positive integer/],
    [{ securityLevel: 'LOOSE' }, /securityLevel must be "STRICT", "SECURE", "STANDARD" \(the default\) or "PERMISSIVE", got "LOOSE"/],
    [{ timeot: 100 }, /unknown option "timeot"\. Did you mean "timeout"\?/],
    [{ adapter: 'isolated-vm' }, /adapter must be "vm" \(the default\) or "worker_threads"/],
    [{ tools: { a: async () => 1 }, toolHandler: async () => 1 }, /either tools or toolHandler/],
    [{ tools: { a: 1 } }, /tools\["a"\] must be a function/],
    [{ globals: { process: 1 } }, /"process" cannot be used as a global name/],
    [{ globals: { callTool: 1 } }, /"callTool" cannot be used/],
    [{ globals: { fmt: () => 1 } }, /allowFunctionsInGlobals/],
    [{ validate: 'yes' }, /validate must be a boolean/],
    [{ realmPool: { maxIdle: -1 } }, /maxIdle must be a positive integer/],
    [{ realmPool: { maxRealms: 0 } }, /maxRealms must be a positive integer/],
    [{ realmPool: { maxRealms: 2.5 } }, /maxRealms must be a positive integer/],
  ])('rejects %o at construction, naming the option', (options, message) => {
    expect(() => new Enclave(options as never)).toThrow(EnclaveConfigError);
    expect(() => new Enclave(options as never)).toThrow(message);
  });

  it('accepts timeout: undefined as "use the default" (upstream broke every run with it)', async () => {
    const e = new Enclave({ timeout: undefined });
    expect(e.limits.timeout).toBe(LEVEL_CONFIGS.STANDARD.limits.timeout);
    expect((await e.run('return 1')).value).toBe(1);
  });
});

describe('run(code, runOptions)', () => {
  const enclave = new Enclave();

  it('never throws for bad arguments', async () => {
    expect((await enclave.run(42 as never)).error?.code).toBe('VALIDATION_ERROR');
    expect((await enclave.run('return 1', { nope: 1 } as never)).error?.message).toMatch(/unknown option "nope"/);
    expect((await enclave.run('return 1', { timeout: -5 })).error?.code).toBe('VALIDATION_ERROR');
    expect((await enclave.run('return 1', 5 as never)).error?.code).toBe('VALIDATION_ERROR');
    // `runOptions?` (DESIGN.md section 3): null is no options, as undefined is.
    expect((await enclave.run('return 1', null)).value).toBe(1);
  });

  it('lets per-run limits lower the instance limits but never raise them', async () => {
    const loop = 'let n = 0; for (let i = 0; i < 5000; i++) n++; return n;';
    expect((await enclave.run(loop, { maxIterations: 100 })).error?.code).toBe('MAX_ITERATIONS');
    const small = new Enclave({ maxIterations: 100 });
    expect((await small.run(loop, { maxIterations: 1e9 })).error?.code).toBe('MAX_ITERATIONS');
  });

  it('copies input and globals in, so nothing a script does to them survives', async () => {
    const config = { tenant: 'acme', list: [1, 2] };
    const e = new Enclave({ globals: { config } });
    const r = await e.run(`config.tenant = 'HACKED'; config.list.push(99); input.x = 2; return [config.tenant, input.x];`, { input: { x: 1 } });
    expect(r.value).toEqual(['HACKED', 2]);
    expect(config).toEqual({ tenant: 'acme', list: [1, 2] });
    expect((await e.run('return [config.tenant, config.list.length]')).value).toEqual(['acme', 2]);
  });

  it('exposes function globals as async functions called through the bridge', async () => {
    const e = new Enclave({ allowFunctionsInGlobals: true, globals: { add: (a: number, b: number) => a + b, rate: 0.5 } });
    const r = await e.run('const s = await add(2, 3); return s * rate;');
    expect(r).toMatchObject({ success: true, value: 2.5, stats: { toolCallCount: 1 } });
  });

  it('rejects input larger than maxInputBytes before walking all of it', async () => {
    const big = { items: Array.from({ length: 200_000 }, (_, i) => ({ i, s: 'x'.repeat(50) })) };
    const r = await enclave.run('return 1', { input: big, maxInputBytes: 10_000 });
    expect(r.error).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(/input is larger than 10000 bytes/) });
  });

  it('ends a run as ABORTED when the caller aborts, and aborts the tools', async () => {
    const controller = new AbortController();
    let toolSignal: AbortSignal | undefined;
    const tools = {
      // The caller aborts once the tool is entered: a timer could fire before a run on a loaded
      // machine gets that far, and then there would be no tool signal to look at.
      wait: (_: unknown, ctx: { signal: AbortSignal }) => {
        toolSignal = ctx.signal;
        setImmediate(() => controller.abort());
        return new Promise(() => {});
      },
    };
    const r = await enclave.run(`await callTool('wait', {}); return 1;`, { tools, signal: controller.signal });
    expect(r.error?.code).toBe('ABORTED');
    expect(toolSignal?.aborted).toBe(true);
    expect((await enclave.run('return 1', { signal: AbortSignal.abort() })).error?.code).toBe('ABORTED');
  });

  it('dispose() ends in-flight runs as ABORTED and refuses new ones', async () => {
    const e = new Enclave();
    const tools = { never: () => new Promise(() => {}) };
    const pending = e.run(`await callTool('never', {});`, { tools });
    await new Promise((r) => setTimeout(r, 20));
    e.dispose();
    expect((await pending).error?.code).toBe('ABORTED');
    expect((await e.run('return 1')).error?.code).toBe('ABORTED');
  });

  it('uses the instance toolHandler, and passes the per-run context to it', async () => {
    const e = new Enclave({ toolHandler: (name, args, ctx) => ({ name, args, user: (ctx.context as { user: string }).user, index: ctx.callIndex }) });
    const r = await e.run(`return await callTool('whoami', { q: 1 });`, { context: { user: 'ada' } });
    expect(r.value).toEqual({ name: 'whoami', args: { q: 1 }, user: 'ada', index: 1 });
  });

  it('with transform: false keeps the deadline and the tool-call budget', async () => {
    const e = new Enclave({ transform: false, validate: false });
    expect((await e.run('for (;;) {}', { timeout: 200 })).error?.code).toBe('TIMEOUT');
    const tools = { t: async () => 1 };
    expect((await e.run(`for (let i = 0; i < 5; i++) await callTool('t', {});`, { tools, maxToolCalls: 3 })).error?.code).toBe('MAX_TOOL_CALLS');
  });
});

describe('checkAgentScript', () => {
  it('reports every problem with a location and a hint, without running anything', () => {
    const r = checkAgentScript(`const a = eval('1');\nwhile (true) {}\nreturn process.env;`, { securityLevel: 'STRICT' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => [i.ruleId, i.line])).toEqual(
      expect.arrayContaining([
        ['no-eval', 1],
        ['no-while', 2],
        ['no-blocked-identifier', 3],
      ]),
    );
    for (const i of r.issues) expect(i.hint).toBeTruthy();
  });

  it('accepts what run() accepts', () => {
    expect(checkAgentScript(`const u = await callTool('users:list', {}); return u.length;`).ok).toBe(true);
  });

  // The check pre-parses the rewritten script where a run compiles it (sandbox/compile.ts): the two must
  // still agree on every script, including what only V8 refuses (ES2025 regular expressions oxc parses).
  it('refuses exactly what run() refuses, with the same message, with and without validation and guards', async () => {
    const scripts = [...EARLY_ERRORS.flatMap((s) => [s, `const f = () => { ${s} };`]), ...V8_ONLY_REGEX, 'return 1 + 1;'];
    for (const flags of [{}, { validate: false, transform: false }]) {
      const e = new Enclave({ securityLevel: 'PERMISSIVE', timeout: 2000, ...flags });
      try {
        let refused = 0;
        for (const code of scripts) {
          const check = checkAgentScript(code, { securityLevel: 'PERMISSIVE', ...flags });
          const run = await e.run(code);
          const runRefused = !run.success && run.error.code === 'VALIDATION_ERROR';
          expect(runRefused, code).toBe(!check.ok);
          if (!check.ok && !run.success) {
            expect(run.error.message, code).toContain(check.issues[0]?.message);
            refused++;
          }
        }
        // Not vacuous: most of these are refused, and some are not.
        expect(refused).toBeGreaterThan(EARLY_ERRORS.length);
        expect(refused).toBeLessThan(scripts.length);
      } finally {
        e.dispose();
      }
    }
  });

  it('hands back an opaque compiled script: no vm.Script in the public types', () => {
    const r = checkAgentScript('return 1');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expectTypeOf(r.compiled).toEqualTypeOf<CompiledScript>();
    expectTypeOf<keyof CompiledScript>().toEqualTypeOf<'key'>();
  });
});

describe('ExecutionResult', () => {
  it('is a union on success: value only on success, error only on failure', async () => {
    const e = new Enclave();
    const ok: ExecutionResult<number> = await e.run<number>('return 1 + 1');
    const failed = await e.run('throw new Error("no")');
    expect(ok).toMatchObject({ success: true, value: 2 });
    expect(ok).not.toHaveProperty('error');
    expect(failed).toMatchObject({ success: false, error: { code: 'RUNTIME_ERROR', message: 'no' } });
    expect(failed).not.toHaveProperty('value');
    if (ok.success) expectTypeOf(ok.value).toEqualTypeOf<number>();
    if (!failed.success) expectTypeOf(failed.error).toEqualTypeOf<ExecutionError>();
    expectTypeOf<Extract<ExecutionResult, { success: true }>['error']>().toEqualTypeOf<undefined>();
    expectTypeOf<Extract<ExecutionResult, { success: false }>['value']>().toEqualTypeOf<undefined>();
    e.dispose();
  });
});

/**
 * DESIGN.md section 3 names the API users already know from Enclave; teams write their suites from those
 * names alone. These checks fail at typecheck (the type assertions) or at run time if one is renamed.
 */
describe('the names DESIGN.md promises', () => {
  it('CreateEnclaveOptions, RunOptions, WorkerPoolConfig and ExecutionResult use the documented names', () => {
    for (const name of ['timeout', 'maxToolCalls', 'maxIterations', 'memoryLimit', 'securityLevel', 'validate', 'transform', 'toolHandler', 'globals', 'allowFunctionsInGlobals', 'sidecar', 'adapter', 'workerPoolConfig', 'scoringGate'] as const) {
      expectTypeOf<CreateEnclaveOptions>().toHaveProperty(name);
    }
    expectTypeOf<NonNullable<CreateEnclaveOptions['securityLevel']>>().toEqualTypeOf<'STRICT' | 'SECURE' | 'STANDARD' | 'PERMISSIVE'>();
    expectTypeOf<'vm' | 'worker_threads'>().toExtend<NonNullable<CreateEnclaveOptions['adapter']>>();
    expectTypeOf<keyof WorkerPoolConfig>().toEqualTypeOf<'minWorkers' | 'maxWorkers' | 'memoryLimitPerWorker' | 'maxMessagesPerSecond' | 'maxExecutionsPerWorker' | 'maxQueueSize' | 'idleTimeoutMs'>();
    expectTypeOf<NonNullable<CreateEnclaveOptions['workerPoolConfig']>>().toEqualTypeOf<Partial<WorkerPoolConfig>>();
    for (const name of ['tools', 'toolHandler', 'globals', 'signal', 'timeout', 'maxToolCalls', 'maxIterations'] as const) expectTypeOf<RunOptions>().toHaveProperty(name);
    expectTypeOf<keyof ExecutionStats>().toEqualTypeOf<'duration' | 'toolCallCount' | 'iterationCount'>();
    expectTypeOf<ExecutionError['location']>().toEqualTypeOf<{ line: number; column: number } | undefined>();
    expectTypeOf<ExecutionError['data']>().toEqualTypeOf<Record<string, unknown> | undefined>();
    expectTypeOf<ExecutionResult['logs']>().toEqualTypeOf<{ level: 'log' | 'info' | 'warn' | 'error' | 'debug'; message: string; time: number }[] | undefined>();
    expect(SecurityLevel).toMatchObject({ STRICT: 'STRICT', SECURE: 'SECURE', STANDARD: 'STANDARD', PERMISSIVE: 'PERMISSIVE' });
    // Every option name above is one the constructor takes (an unknown one throws, naming it).
    expect(() => new Enclave({ timeout: 1000, maxToolCalls: 5, maxIterations: 1000, memoryLimit: 32 * 1024 * 1024, securityLevel: SecurityLevel.SECURE, validate: true, transform: true, toolHandler: () => 1, globals: { a: 1 }, allowFunctionsInGlobals: false, sidecar: false, adapter: 'vm', scoringGate: false }).dispose()).not.toThrow();
  });

  it('every code of the table is an ErrorCode, spelled as its value', () => {
    const table = ['VALIDATION_ERROR', 'RUNTIME_ERROR', 'TIMEOUT', 'MAX_ITERATIONS', 'MAX_TOOL_CALLS', 'MEMORY_LIMIT_EXCEEDED', 'TOOL_ERROR', 'SCORING_BLOCKED', 'ABORTED', 'OUTPUT_LIMIT_EXCEEDED', 'QUEUE_FULL', 'INTERNAL_ERROR'] as const;
    for (const code of table) expect(ErrorCode[code]).toBe(code);
    expectTypeOf<(typeof table)[number]>().toExtend<ExecutionError['code']>();
  });

  it('every failure carries stats and a code, and a location in the user\'s own lines', async () => {
    const e = new Enclave();
    const failures = [await e.run('const a = 1;\n\nreturn eval("a")'), await e.run('const a = 1;\nthrow new Error("second line")'), await e.run(42 as never)];
    for (const r of failures) {
      expect(r.success).toBe(false);
      expect(Object.keys(r.stats).sort()).toEqual(['duration', 'iterationCount', 'toolCallCount']);
      expect(typeof r.error?.code).toBe('string');
      expect(() => JSON.stringify(r)).not.toThrow();
    }
    expect(failures[0]?.error).toMatchObject({ code: 'VALIDATION_ERROR', location: { line: 3 } });
    expect(failures[1]?.error).toMatchObject({ code: 'RUNTIME_ERROR', location: { line: 2 } });
    e.dispose();
  });

  it('`using` and `await using` dispose the Enclave at the end of the block; `await using` waits for its workers to exit', async () => {
    let outer: Enclave | undefined;
    {
      using enclave = new Enclave();
      outer = enclave;
      expect((await enclave.run('return 1')).value).toBe(1);
    }
    expect((await outer.run('return 1')).error?.code).toBe('ABORTED');
    expectTypeOf<Enclave>().toExtend<AsyncDisposable & Disposable>();
    {
      await using enclave = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 2, maxWorkers: 2 } });
      outer = enclave;
      expect((await enclave.run('return 1')).value).toBe(1);
      expect(enclave.stats().workers?.workers).toBe(2);
    }
    expect(outer.stats().workers?.workers).toBe(0);
    expect((await outer.run('return 1')).error?.code).toBe('ABORTED');
  });
});
