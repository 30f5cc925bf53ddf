/**
 * DESIGN.md section 3's options as a peer team's black-box suite reads them, where earlier passes left
 * a gap: `runOptions` limits given as an object (the HTTP body's shape) may only lower the instance's,
 * and `workerPoolConfig.maxQueueSize` counts runs waiting for a busy worker, not runs a worker the pool
 * is starting (or may still start, up to `maxWorkers`) will take. Public API only.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, EnclaveConfigError, MemoryLeaseStore, MemoryRateLimitStore, checkAgentScript, describeDialect, jsonLinesAudit, scoreAgentScript } from '../src/index.js';
import type { ExecutionResult, ToolSet } from '../src/index.js';

const codeOf = (r: ExecutionResult) => (r.success ? 'OK' : r.error.code);

/** What `call` threw (undefined if it returned). */
function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('run(code, { limits }): the limits as an object, as the HTTP body gives them', () => {
  let calls = 0;
  const enclave = new Enclave({ maxToolCalls: 5, maxIterations: 1_000, tools: { tick: async () => ++calls } });
  afterAll(() => enclave.dispose());
  const fourCalls = 'for (let i = 0; i < 4; i++) await callTool("tick", {}); return "done"';

  it('lower the instance’s limits for that run only', async () => {
    calls = 0;
    const lowered = await enclave.run(fourCalls, { limits: { maxToolCalls: 2 } });
    // The host's own count: the third call never reached the tool.
    expect([codeOf(lowered), calls]).toEqual(['MAX_TOOL_CALLS', 2]);
    const next = await enclave.run(fourCalls);
    expect([codeOf(next), next.value]).toEqual(['OK', 'done']);
  });

  it('cannot raise them: a larger one leaves the instance’s in force', async () => {
    calls = 0;
    const raised = await enclave.run('for (let i = 0; i < 7; i++) await callTool("tick", {}); return 1', { limits: { maxToolCalls: 1_000 } });
    expect([codeOf(raised), calls]).toEqual(['MAX_TOOL_CALLS', 5]);
    const loop = await enclave.run('let n = 0; for (let i = 0; i < 5_000; i++) n++; return n', { limits: { maxIterations: 1_000_000 } });
    expect(codeOf(loop)).toBe('MAX_ITERATIONS');
  });

  it('given both flat and as an object, the lower one holds', async () => {
    const counts: number[] = [];
    for (const options of [{ maxToolCalls: 1, limits: { maxToolCalls: 3 } }, { maxToolCalls: 3, limits: { maxToolCalls: 1 } }]) {
      calls = 0;
      expect(codeOf(await enclave.run(fourCalls, options))).toBe('MAX_TOOL_CALLS');
      counts.push(calls);
    }
    expect(counts).toEqual([1, 1]);
  });

  it('a timeout among them ends the run as TIMEOUT at the lowered deadline', async () => {
    const r = await enclave.run('await new Promise(() => {})', { limits: { timeout: 50 } });
    expect(codeOf(r)).toBe('TIMEOUT');
  });

  it('an unknown or malformed limit is refused with a code, never thrown', async () => {
    const cases: [unknown, RegExp][] = [
      [{ maxToolCall: 2 }, /limits: unknown option "maxToolCall"\. Did you mean "maxToolCalls"\?/],
      [{ timeout: -1 }, /limits\.timeout must be a positive integer/],
      [{ maxIterations: 'ten' }, /limits\.maxIterations must be a positive integer/],
      ['fast', /limits must be an object/],
      [null, /limits must be an object/],
    ];
    for (const [limits, message] of cases) {
      const r = await enclave.run('return 1', { limits } as never);
      expect(r.success).toBe(false);
      expect(r.error?.message).toMatch(message);
    }
  });
});

describe('workerPoolConfig.maxQueueSize counts runs that wait for a busy worker', () => {
  it('maxQueueSize 0: runs that come while the pool starts, or while it may grow, run; only one beyond maxWorkers is QUEUE_FULL', async () => {
    let entered = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tools: ToolSet = { hold: async () => (entered++, held.then(() => 'released')) };
    await using enclave = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2, maxQueueSize: 0 }, tools });
    // No ready(): the only worker is still starting, and the pool may start a second one.
    const runs = [enclave.run('return await callTool("hold")'), enclave.run('return await callTool("hold")')];
    // Both reach their tool, each on its own worker (a refused run would never enter it).
    await expect.poll(() => entered, { timeout: 10_000 }).toBe(2);
    expect(enclave.stats().workers).toMatchObject({ busyWorkers: 2, queued: 0 });
    // Both workers busy, the pool at maxWorkers, no room to wait: refused at once.
    const refused = await enclave.run('return 3');
    expect(codeOf(refused)).toBe('QUEUE_FULL');
    release();
    expect((await Promise.all(runs)).map((r) => r.value)).toEqual(['released', 'released']);
  });
});

describe('signal and dispose() take effect from the moment run() returns', () => {
  const script = 'await callTool("mark"); return "ran"';

  for (const adapter of ['vm', 'worker_threads'] as const) {
    it(`${adapter}: an abort right after run() (nothing awaited in between) ends the run as ABORTED, and no tool starts`, async () => {
      let marked = 0;
      await using enclave = new Enclave({ adapter, tools: { mark: async () => ++marked }, ...(adapter === 'worker_threads' ? { workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } : {}) });
      const controller = new AbortController();
      const pending = enclave.run(script, { signal: controller.signal });
      controller.abort();
      const r = await pending;
      expect([codeOf(r), marked]).toEqual(['ABORTED', 0]);
      // The Enclave goes on: the next run, not aborted, runs.
      expect((await enclave.run(script)).value).toBe('ran');
    });
  }

  it('dispose() right after run() ends that run as ABORTED before it calls a tool (vm)', async () => {
    let marked = 0;
    const enclave = new Enclave({ tools: { mark: async () => ++marked } });
    const pending = enclave.run(script);
    enclave.dispose();
    const r = await pending;
    expect([codeOf(r), r.error?.message, marked]).toEqual(['ABORTED', 'This Enclave has been disposed.', 0]);
  });
});

describe('a signal that is not an AbortSignal is the caller’s input, refused like any other option', () => {
  for (const adapter of ['vm', 'worker_threads'] as const) {
    it(`${adapter}: VALIDATION_ERROR naming signal; nothing is left running, and dispose() afterwards does not throw`, async () => {
      const enclave = new Enclave({ adapter, ...(adapter === 'worker_threads' ? { workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } : {}) });
      for (const signal of [5, {}, { aborted: false }, { aborted: false, addEventListener() {} }]) {
        const r = await enclave.run('return 1', { signal } as never);
        expect([codeOf(r), r.error?.message]).toEqual(['VALIDATION_ERROR', 'run(code, options): signal must be an AbortSignal.']);
      }
      expect(enclave.stats().activeRuns).toBe(0);
      expect(() => enclave.dispose()).not.toThrow();
    });
  }
});

describe('runOptions is optional (DESIGN.md: `run(code, runOptions?)`): null is no options, as undefined is', () => {
  const enclave = new Enclave({ tools: { two: async () => 2 } });
  afterAll(() => enclave.dispose());
  const code = 'return (await callTool("two", {})) + 1';

  it('run() runs with the instance’s settings', async () => {
    const r = await enclave.run(code, null);
    expect([codeOf(r), r.value]).toEqual(['OK', 3]);
  });

  it('stream() streams the run, and its result is the run’s', async () => {
    const run = enclave.stream(code, null);
    const types: string[] = [];
    for await (const event of run) types.push(event.type);
    expect([types[0], types.at(-1), (await run.result).value]).toEqual(['session_init', 'final', 3]);
  });

  it('check() and checkAgentScript() check as with no options', () => {
    expect(enclave.check('return eval("1")', null)).toEqual(enclave.check('return eval("1")'));
    expect(enclave.check(code, null).ok).toBe(true);
    expect(checkAgentScript('return eval("1")', null)).toEqual(checkAgentScript('return eval("1")'));
  });

  it('options that are not an object are still refused, naming them', async () => {
    const r = await enclave.run(code, 5 as never);
    expect([codeOf(r), r.error?.message]).toEqual(['VALIDATION_ERROR', 'run(code, options): options must be an object.']);
    expect(() => enclave.check(code, [] as never)).toThrow('check(code, options): options must be an object.');
  });
});

describe('checkAgentScript(code, options) checks its options as new Enclave() does (README: an unknown or malformed option is an EnclaveConfigError naming it)', () => {
  it('a level that is not one, an unknown option, and malformed ones throw EnclaveConfigError with CONFIG_ERROR, never a TypeError from inside', () => {
    const cases: [unknown, string][] = [
      [{ securityLevel: 'X' }, 'securityLevel must be "STRICT", "SECURE", "STANDARD" (the default) or "PERMISSIVE", got "X".'],
      [{ securityLevel: 'strict' }, 'securityLevel must be "STRICT", "SECURE", "STANDARD" (the default) or "PERMISSIVE", got "strict".'],
      [{ level: 'STRICT' }, 'unknown option "level". Known options: securityLevel, globals, validate, transform.'],
      [{ globals: 'a,b' }, 'globals must be an array of names (strings).'],
      [{ validate: 'no' }, 'validate must be a boolean.'],
      [5, 'options must be an object.'],
    ];
    for (const [options, message] of cases) {
      const thrown = thrownBy(() => checkAgentScript('return 1', options as never));
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect(thrown).toMatchObject({ code: 'CONFIG_ERROR', message: `checkAgentScript(code, options): ${message}` });
    }
  });

  it('valid options still check as before: the level and the globals count', () => {
    expect(checkAgentScript('return a', { securityLevel: 'STRICT', globals: ['a'], validate: true, transform: true }).ok).toBe(true);
    expect(checkAgentScript('return a', { securityLevel: 'STRICT' }).ok).toBe(false);
  });
});

describe('scoreAgentScript(code, options) checks its options as the scoringGate option of new Enclave() is checked', () => {
  it('an unknown level or option, malformed thresholds and code that is not a string throw EnclaveConfigError naming them', () => {
    const cases: [unknown, unknown, RegExp][] = [
      ['return 1', { securityLevel: 'X' }, /: securityLevel must be "STRICT", "SECURE", "STANDARD" \(the default\) or "PERMISSIVE", got "X"\.$/],
      ['return 1', { bogus: 1 }, /: unknown option "bogus"\. Known options: securityLevel, thresholds, tools, trustedDomains\.$/],
      ['return 1', { thresholds: { block: 200 } }, /thresholds\.block must be a number from 0 to 100, got 200\.$/],
      ['return 1', { thresholds: { warn: 90, block: 10 } }, /thresholds\.warn \(90\) must not be above .*thresholds\.block \(10\)\.$/],
      [5, {}, /: code must be a string, got number\.$/],
    ];
    for (const [code, options, message] of cases) {
      const thrown = thrownBy(() => scoreAgentScript(code as string, options as never));
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as EnclaveConfigError).message).toMatch(/^scoreAgentScript\(code, options\): /);
      expect((thrown as EnclaveConfigError).message).toMatch(message);
    }
  });

  it('no options, null, or valid ones score as the gate does; code that does not parse is undefined', () => {
    expect(scoreAgentScript('return 1')).toMatchObject({ score: 0, decision: 'allow' });
    expect(scoreAgentScript('return 1', null)).toEqual(scoreAgentScript('return 1'));
    expect(scoreAgentScript('return 1', { securityLevel: 'STRICT', thresholds: { warn: 10, block: 20 } })).toMatchObject({ decision: 'allow' });
    expect(scoreAgentScript('x = ;')).toBeUndefined();
  });
});

describe('describeDialect(level, { limits?, globals? }): the README’s options, checked, limits given in part', () => {
  it('limits given in part describe those over the level’s others, as an Enclave with that one option would', () => {
    const text = describeDialect('STRICT', { limits: { timeout: 1_234 } });
    const enclave = new Enclave({ securityLevel: 'STRICT', timeout: 1_234 });
    try {
      expect(text).toBe(enclave.describe().dialect);
    } finally {
      enclave.dispose();
    }
    expect(describeDialect('STRICT', null)).toBe(describeDialect('STRICT'));
  });

  it('an unknown or malformed option throws an EnclaveConfigError naming it', () => {
    const cases: [unknown, string][] = [
      [{ limit: { timeout: 1 } }, 'describeDialect: unknown option "limit".'],
      [{ limits: { timeot: 1 } }, 'describeDialect: limits: unknown option "timeot". Did you mean "timeout"?'],
      [{ limits: { timeout: -1 } }, 'describeDialect: limits.timeout must be a positive integer, got -1.'],
      [{ globals: 'tenant' }, 'describeDialect: globals must be an array of names (strings).'],
      [5, 'describeDialect: options must be an object.'],
    ];
    for (const [options, message] of cases) {
      const thrown = thrownBy(() => describeDialect('STRICT', options as never));
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as Error).message.startsWith(message)).toBe(true);
    }
  });
});

describe('jsonLinesAudit(stream, { context? }) refuses at once what could only lose the audit lines later (a hook’s failures are ignored)', () => {
  it('a stream without write(), an unknown option, a context that is not a function: EnclaveConfigError naming it', () => {
    const stream = { write: () => true };
    const cases: [() => unknown, string][] = [
      [() => jsonLinesAudit(undefined as never), 'jsonLinesAudit(stream, options): stream is required.'],
      [() => jsonLinesAudit('tools.log' as never), 'jsonLinesAudit(stream, options): stream must be an object with a write(chunk) method'],
      [() => jsonLinesAudit(stream, { contxt: (c: unknown) => c } as never), 'jsonLinesAudit(stream, options): unknown option "contxt". Did you mean "context"?'],
      [() => jsonLinesAudit(stream, { context: ['userId'] } as never), 'jsonLinesAudit(stream, options): context must be a function'],
    ];
    for (const [call, message] of cases) {
      const thrown = thrownBy(call);
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as Error).message.startsWith(message)).toBe(true);
    }
  });

  it('a right one writes a line per call, with only the context fields picked', async () => {
    const lines: string[] = [];
    const enclave = new Enclave({ tools: { t: async () => 1 }, onToolCall: jsonLinesAudit({ write: (line: string) => lines.push(line) }, { context: (c: { userId: string }) => ({ userId: c.userId }) }) });
    try {
      await enclave.run('return await callTool("t", {})', { context: { userId: 'u1', token: 'secret' } });
    } finally {
      enclave.dispose();
    }
    await expect.poll(() => lines.length).toBe(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ type: 'tool_call', tool: 't', outcome: 'ok', context: { userId: 'u1' } });
    expect(lines[0]).not.toContain('secret');
  });
});

describe('MemoryRateLimitStore({ now?, maxKeys? }) and MemoryLeaseStore({ now? }) check their options', () => {
  it('a maxKeys that is not a positive integer, a now that is not a function, an unknown option: EnclaveConfigError naming it', () => {
    const cases: [() => unknown, string][] = [
      [() => new MemoryRateLimitStore({ maxKeys: 0 }), 'new MemoryRateLimitStore(options): maxKeys must be a positive integer, got 0.'],
      [() => new MemoryRateLimitStore({ maxKeys: '100' as never }), 'new MemoryRateLimitStore(options): maxKeys must be a positive integer, got string.'],
      [() => new MemoryRateLimitStore({ now: 5 as never }), 'new MemoryRateLimitStore(options): now must be a function'],
      [() => new MemoryRateLimitStore({ clock: () => 1 } as never), 'new MemoryRateLimitStore(options): unknown option "clock".'],
      [() => new MemoryLeaseStore({ now: Date.now() } as never), 'new MemoryLeaseStore(options): now must be a function'],
      [() => new MemoryLeaseStore({ ttlMs: 1 } as never), 'new MemoryLeaseStore(options): unknown option "ttlMs".'],
    ];
    for (const [call, message] of cases) {
      const thrown = thrownBy(call);
      expect(thrown).toBeInstanceOf(EnclaveConfigError);
      expect((thrown as Error).message.startsWith(message)).toBe(true);
    }
  });

  it('the ones the README shows still drive them: a test clock counts windows by it', () => {
    let now = 1_000;
    const store = new MemoryRateLimitStore({ now: () => now, maxKeys: 2 });
    expect([store.hit('a', 100), store.hit('a', 100)]).toEqual([{ count: 1, resetInMs: 100 }, { count: 2, resetInMs: 100 }]);
    now += 100;
    expect(store.hit('a', 100)).toEqual({ count: 1, resetInMs: 100 });
    expect(new MemoryRateLimitStore(null).hit('k', 1_000).count).toBe(1);
    expect(new MemoryLeaseStore({ now: () => now })).toBeInstanceOf(MemoryLeaseStore);
  });
});
