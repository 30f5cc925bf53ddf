/**
 * The worker_threads adapter: what it adds over vm mode (a hard halt, a real heap cap, a bounded queue,
 * worker replacement, message limits) and the pool's life cycle. The attack and program suites run on
 * this adapter too (see test/helpers.ts ADAPTERS and test/programs).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Enclave, EnclaveConfigError, LEVEL_CONFIGS, ToolError, WORKER_POOL_PRESETS } from '../src/index.js';
import { WorkerPool, readEntry } from '../src/sandbox/worker-pool.js';
import { checkMessage } from '../src/sandbox/worker-protocol.js';
import type { EntryEnd, EntryOutput } from '../src/sandbox/isolation.js';
import { prepareAgentScript } from '../src/pipeline.js';
import type { CreateEnclaveOptions, ExecutionResult, ToolSet, WorkerPoolConfig, WorkerPoolStats } from '../src/index.js';
import { untilReached } from './helpers.js';

const opened: Enclave[] = [];
function workerEnclave(options: CreateEnclaveOptions = {}): Enclave {
  const e = new Enclave({ adapter: 'worker_threads', ...options, workerPoolConfig: { minWorkers: 1, maxWorkers: 2, ...options.workerPoolConfig } });
  opened.push(e);
  return e;
}
afterEach(() => {
  for (const e of opened.splice(0)) e.dispose();
});

const codeOf = (r: ExecutionResult) => (r.success ? 'OK' : r.error?.code);
const tools: ToolSet = {
  echo: async (args) => args,
  wait: (args: { ms: number }) => new Promise((resolve) => setTimeout(() => resolve(args.ms), args.ms)),
  hang: () => new Promise(() => {}),
  fail: async () => {
    throw new Error('connect ECONNREFUSED 10.0.0.7:5432 password=hunter2');
  },
  forbidden: async () => {
    throw new ToolError('Not your order.', { code: 'FORBIDDEN', status: 403 });
  },
};

/** Waits until the pool reports what `ok` wants (worker start and exit are asynchronous). */
/** Workers started and not stopped: busy, idle or starting. */
const live = (s: WorkerPoolStats) => s.busyWorkers + s.idleWorkers + s.startingWorkers;

async function until(enclave: Enclave, ok: (s: NonNullable<ReturnType<Enclave['stats']>['workers']>) => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const s = enclave.stats().workers;
    if (s && ok(s)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pool never reached the expected state: ${JSON.stringify(enclave.stats().workers)}`);
}

/** A pool whose workers run a test fixture (a worker that misbehaves on purpose) instead of the engine's. */
function fixturePool(file: string, config: WorkerPoolConfig, maxMessageBytes: number): WorkerPool {
  return new WorkerPool(config, {
    realms: { maxIdle: 1, prewarm: 0, maxRunsPerRealm: 10, maxRealms: 4, intl: false, proxy: false },
    maxMessageBytes,
    entry: new URL(`./fixtures/${file}`, import.meta.url),
  });
}

describe('worker_threads: the same engine in a worker', () => {
  it('runs scripts with tools, logs, rich values and user-line locations', async () => {
    const e = workerEnclave();
    const ok = await e.run(
      `const r = await callTool('echo', { n: 2, when: new Date(5) });\nconsole.log('got', r.n);\nreturn { n: r.n * 21, when: r.when, m: new Map([['k', 1n]]), s: new Set([1]), u: undefined };`,
      { tools },
    );
    expect(ok.error).toBeUndefined();
    // Tool results arrive rich (a Date is a Date in the realm); the result leaves as JSON data.
    expect(ok.value).toEqual({ n: 42, when: '1970-01-01T00:00:00.005Z', m: [['k', '1']], s: [1] });
    expect(ok.logs?.map((l) => [l.level, l.message])).toEqual([['log', 'got 2']]);
    expect(ok.stats.toolCallCount).toBe(1);

    const thrown = await e.run('const a = 1;\n\nthrow new RangeError("bad " + a);');
    expect(thrown.error).toMatchObject({ code: 'RUNTIME_ERROR', name: 'RangeError', message: 'bad 1', location: { line: 3, column: 7 } });
  });

  it('a script, its input, its globals and its tool replies cross intact, whatever characters they hold', async () => {
    // The script, input, globals and each reply travel after the message's first newline (and cross the
    // realm's bridge the same way, in both isolations): text with newlines, line separators, quotes and
    // what looks like another message must not end or extend a head, and lengths must count alike.
    const tricky = 'a\nb\r\n\u2028\u2029"quote" \\ back\\slash\n["reply",1,1,1]\n\u0000 \ud83d\ude00 end';
    const script = `const fromTool = await callTool('echo', { s: input.s, big: input.s.repeat(5000), g: g.s, h: h.s });
const fromFail = await callTool('forbidden', {}).then(() => '', (err) => err.message);
return {
  same: fromTool.s === input.s && fromTool.big === input.s.repeat(5000) && fromTool.g === input.s && fromTool.h === input.s,
  lines: \`line one
line two\`.split('\\n').length,
  fromFail,
  s: fromTool.s,
};`;
    const options = { tools, input: { s: tricky }, globals: { h: { s: tricky } } };
    const expected = { same: true, lines: 2, fromFail: 'Not your order.', s: tricky };
    const inWorker = await workerEnclave({ globals: { g: { s: tricky } } }).run(script, options);
    expect(inWorker.error).toBeUndefined();
    expect(inWorker.value).toEqual(expected);
    const local = new Enclave({ globals: { g: { s: tricky } } });
    opened.push(local);
    const inVm = await local.run(script, options);
    expect(inVm.error).toBeUndefined();
    expect(inVm.value).toEqual(expected);
  });

  it('parallel tool calls work, tool errors are redacted and public ToolErrors pass', async () => {
    const e = workerEnclave();
    const r = await e.run(`const xs = await Promise.all([1, 2, 3, 4].map((n) => callTool('echo', { n })));
let caught = '';
try { await callTool('fail', {}); } catch (err) { caught = err.message; }
return { sum: xs.reduce((s, x) => s + x.n, 0), caught };`, { tools });
    expect(r.value).toEqual({ sum: 10, caught: 'Tool "fail" failed.' });
    const pub = await e.run(`return await callTool('forbidden', {});`, { tools });
    expect(pub.error?.code).toBe('TOOL_ERROR');
    expect(pub.error?.message).toBe('Not your order.');
    expect(JSON.stringify(pub)).not.toContain('hunter2');
    const unknown = await e.run(`return await callTool('ecko', {});`, { tools });
    expect(unknown.error?.message).toContain('Did you mean "echo"');
  });

  it('nothing of the worker is reachable from the realm', async () => {
    const e = workerEnclave({ validate: false });
    const r = await e.run(`return [typeof parentPort, typeof workerData, typeof require, typeof process, typeof globalThis, typeof postMessage, typeof self, typeof module, typeof SharedArrayBuffer, typeof Atomics];`);
    expect(r.value).toEqual(Array.from({ length: 10 }, () => 'undefined'));
  });
});

describe('worker_threads: hard halt', () => {
  it('a busy loop after an await ends as TIMEOUT, the worker is replaced, the next run succeeds', async () => {
    const e = workerEnclave({ validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    await until(e, (s) => s.idleWorkers === 1);
    // The deadline must find the script spinning. On a loaded machine it can come while the echo is
    // still pending instead (such a run keeps its worker: another test's case), so a run that ended
    // without a halt is tried again with a longer deadline. Were there no hard halt, the spinning worker
    // would never come back, the next tries would time out in the queue, and the last check fails.
    const r = await untilReached(
      async (timeout) => {
        const terminated = e.stats().workers?.terminated ?? 0;
        const result = await e.run(`await callTool('echo', {}); for (;;) {}`, { tools, timeout });
        return { result, terminated: (e.stats().workers?.terminated ?? 0) - terminated };
      },
      (a) => a.terminated > 0,
      300,
      3,
    );
    expect(codeOf(r.result)).toBe('TIMEOUT');
    // Without a hard halt the run would never have ended; with it, the worker is gone and replaced.
    expect(r.terminated).toBe(1);
    const next = await e.run('return 1 + 1');
    expect(next.value).toBe(2);
    expect(e.stats().workers?.workersStarted).toBe(1 + (e.stats().workers?.terminated ?? 0));
  }, 60_000);

  it('a run waiting on a tool that never settles ends as TIMEOUT and keeps its worker', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    const r = await e.run(`return await callTool('hang', {});`, { tools, timeout: 200 });
    expect(codeOf(r)).toBe('TIMEOUT');
    const next = await e.run('return 3');
    expect(next.value).toBe(3);
    await until(e, (s) => s.idleWorkers === 1);
    expect(e.stats().workers).toMatchObject({ workersStarted: 1, terminated: 0, crashed: 0 });
  });

  it("the caller's signal aborts a spinning run", async () => {
    const e = workerEnclave({ validate: false, transform: false });
    const controller = new AbortController();
    const pending = e.run('for (;;) {}', { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const r = await pending;
    expect(codeOf(r)).toBe('ABORTED');
    expect((await e.run('return 4')).value).toBe(4);
  });
});

describe('worker_threads: heap cap', () => {
  it('a memory bomb past the worker heap ends as MEMORY_LIMIT_EXCEEDED; concurrent runs on other workers succeed', async () => {
    // transform: false and a run budget of 1 GB: the worker's own heap ceiling (its checkpoints are
    // written whatever transform says) has to stop this run, long before V8's limit.
    const e = workerEnclave({
      validate: false,
      transform: false,
      memoryLimit: 2 ** 30,
      workerPoolConfig: { minWorkers: 2, maxWorkers: 2, memoryLimitPerWorker: 32 * 1024 * 1024 },
    });
    await until(e, (s) => s.idleWorkers === 2);
    const bomb = e.run('const a = []; for (let i = 0; ; i++) a.push({ i, s: "x" + i, t: [i, i] });', { timeout: 20_000 });
    const others = Array.from({ length: 6 }, (_, i) => e.run(`await callTool('wait', { ms: 20 }); return ${i};`, { tools, timeout: 20_000 }));
    const r = await bomb;
    expect(codeOf(r)).toBe('MEMORY_LIMIT_EXCEEDED');
    expect((await Promise.all(others)).map((o) => o.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await e.run('return "alive"')).value).toBe('alive');
    // The worker's heap is still full of the run's garbage: it is replaced, not kept, and none crashed.
    await until(e, (s) => s.recycled >= 1 && s.idleWorkers === 2);
    expect(e.stats().workers?.crashed).toBe(0);
  });

  it('guarded allocations end as MEMORY_LIMIT_EXCEEDED before the heap cap and keep the worker', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    const r = await e.run(`return 'x'.repeat(2 ** 29).length;`);
    expect(codeOf(r)).toBe('MEMORY_LIMIT_EXCEEDED');
    expect((await e.run('return 5')).value).toBe(5);
    expect(e.stats().workers?.crashed).toBe(0);
  });
});

describe('worker_threads: pool', () => {
  it('200 concurrent runs on 2 workers all complete', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 2, maxWorkers: 2 } });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => e.run(`const r = await callTool('echo', { i: ${i} }); return r.i * 2;`, { tools })),
    );
    expect(results.map((r) => r.value)).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
    const s = e.stats().workers;
    expect(s?.workersStarted).toBe(2);
    expect(s?.queued).toBe(0);
  });

  it('a full queue answers QUEUE_FULL at once', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxQueueSize: 1 } });
    // Runs that arrive while the only worker is still starting wait in the queue too.
    await until(e, (s) => s.idleWorkers === 1);
    const running = e.run(`return await callTool('hang', {});`, { tools, timeout: 500 });
    const queued = e.run('return 1', { timeout: 5000 });
    const refused = await e.run('return 2');
    expect(codeOf(refused)).toBe('QUEUE_FULL');
    expect(e.stats().workers?.queued).toBe(1);
    expect(codeOf(await running)).toBe('TIMEOUT');
    expect((await queued).value).toBe(1);
  });

  it('a run that waits in the queue past its deadline ends as TIMEOUT without running', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    const seen: number[] = [];
    const spy: ToolSet = { mark: async (a: { n: number }) => seen.push(a.n) };
    const first = e.run(`return await callTool('hang', {});`, { tools, timeout: 400 });
    const late = await e.run(`await callTool('mark', { n: 1 }); return 1;`, { tools: spy, timeout: 100 });
    expect(codeOf(late)).toBe('TIMEOUT');
    await first;
    expect(seen).toEqual([]);
  });

  it('workers are recycled after maxExecutionsPerWorker runs', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxExecutionsPerWorker: 2 } });
    for (let i = 0; i < 5; i++) expect((await e.run(`return ${i}`)).value).toBe(i);
    expect(e.stats().workers?.recycled).toBe(2);
    expect(e.stats().workers?.workersStarted).toBe(3);
  });

  it('a worker’s successor starts during its last runs, and takes its place once ready; no worker does more than maxExecutionsPerWorker', async () => {
    // 4 runs a worker: its successor starts with its third run (a quarter of its runs before the end).
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxExecutionsPerWorker: 4 } });
    const stats = () => e.stats().workers as WorkerPoolStats;
    const run = async (i: number) => expect((await e.run(`return ${i}`)).value).toBe(i);
    await run(0);
    await run(1);
    expect(stats()).toMatchObject({ workersStarted: 1, recycled: 0 });
    await run(2);
    // The successor started with that run; once it is ready, the idle worker goes at once.
    expect(stats().workersStarted).toBe(2);
    await until(e, (s) => s.recycled === 1 && s.startingWorkers === 0);
    expect(live(stats())).toBe(1);
    // The successor's own first two runs, then its successor.
    await run(3);
    await run(4);
    expect(stats()).toMatchObject({ workersStarted: 2, recycled: 1 });
    await run(5);
    expect(stats().workersStarted).toBe(3);
    await until(e, (s) => s.recycled === 2 && s.startingWorkers === 0);
    expect(live(stats())).toBe(1);
  });

  it('a worker whose successor is not ready by its last run goes when that run ends, and never runs one more', async () => {
    // 4 runs a worker, back to back: its successor, started with the third, may or may not be ready
    // before the fourth; either way the worker is gone once that run has ended.
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxExecutionsPerWorker: 4 } });
    const recycled: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect((await e.run(`return ${i}`)).value).toBe(i);
      recycled.push((e.stats().workers as WorkerPoolStats).recycled);
    }
    // Recycled as its 4th run ended, at the latest (earlier if its successor was ready before).
    expect(recycled[3]).toBe(1);
    expect((await e.run('return 4')).value).toBe(4);
    expect((e.stats().workers as WorkerPoolStats).workersStarted).toBe(2);
  });

  it('one successor starts at a time: the pool is never more than one worker over maxWorkers', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 2, maxWorkers: 2, maxExecutionsPerWorker: 4 } });
    await e.ready();
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, live(e.stats().workers as WorkerPoolStats));
    }, 1);
    try {
      for (let round = 0; round < 6; round++) {
        // Two runs at once: one on each worker while both are idle.
        const results = await Promise.all([0, 1].map((k) => e.run(`await callTool('wait', { ms: 5 }); return ${k}`, { tools })));
        expect(results.map((r) => r.value)).toEqual([0, 1]);
        most = Math.max(most, live(e.stats().workers as WorkerPoolStats));
      }
    } finally {
      clearInterval(watch);
    }
    // Both workers reach their last runs together; the second waits for the first's handover.
    expect(most).toBe(3);
    expect((e.stats().workers as WorkerPoolStats).recycled).toBeGreaterThanOrEqual(2);
  });

  it('workers above minWorkers stop after idleTimeoutMs', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 3, idleTimeoutMs: 50 } });
    await Promise.all(Array.from({ length: 3 }, () => e.run(`await callTool('wait', { ms: 50 }); return 1;`, { tools })));
    expect(e.stats().workers?.workersStarted).toBe(3);
    await until(e, (s) => s.workers === 1);
  });

  it('dispose() settles running and queued runs as ABORTED and stops every worker', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    const running = e.run(`return await callTool('hang', {});`, { tools });
    const queued = e.run('return 1');
    await new Promise((r) => setTimeout(r, 50));
    e.dispose();
    expect([codeOf(await running), codeOf(await queued)]).toEqual(['ABORTED', 'ABORTED']);
    expect(codeOf(await e.run('return 1'))).toBe('ABORTED');
    await until(e, (s) => s.workers === 0);
  });

  it('answers to the host are not a flood: a run whose 40 tool replies come apart passes at maxMessagesPerSecond 5', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 1, maxWorkers: 1, maxMessagesPerSecond: 5 } });
    // A worker sends one message per realm entry, and replies that arrive apart are delivered in entries
    // of their own: 40 replies 3 ms apart make about 40 messages in 120 ms, each answering a reply.
    const r = await e.run(`return (await Promise.all(Array.from({ length: 40 }, (_, i) => callTool('wait', { ms: 3 * i })))).length;`, { tools });
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(40);
    // Many short runs in a row: at the STANDARD rate, about 250 agent runs a second used to stall a worker.
    for (let i = 0; i < 30; i++) expect((await e.run(`return await callTool('echo', { i: ${i} });`, { tools })).value).toEqual({ i });
  });

  it('a worker that sends messages nobody asked for, faster than maxMessagesPerSecond, is stopped and replaced', async () => {
    const config = { ...WORKER_POOL_PRESETS.STANDARD, minWorkers: 1, maxWorkers: 1, maxMessagesPerSecond: 5, maxExecutionsPerWorker: 10, maxQueueSize: 1, idleTimeoutMs: 30_000 };
    const pool = fixturePool('flooding-worker.mjs', config, 1 << 20);
    try {
      await pool.ready();
      const failed = new Promise<[string, string]>((resolve) => {
        pool.run(
          { source: 'x', limits: LEVEL_CONFIGS.STANDARD.limits, inputText: null, globalsText: null, globalNames: [], functionNames: [], deadline: performance.now() + 10_000 },
          { entry: () => {}, failed: (code, name) => resolve([code, name]) },
        );
      });
      expect(await failed).toEqual(['RUNTIME_ERROR', 'MessageFloodError']);
      expect(pool.stats().terminated).toBe(1);
    } finally {
      pool.dispose();
    }
  });

  it('a worker handed realm-runtime code V8 refuses compiles the runtime itself and runs as usual', async () => {
    const config = { ...WORKER_POOL_PRESETS.STANDARD, minWorkers: 1, maxWorkers: 1, maxExecutionsPerWorker: 10, maxQueueSize: 1, idleTimeoutMs: 30_000 };
    const pool = new WorkerPool(config, {
      realms: { maxIdle: 1, prewarm: 0, maxRunsPerRealm: 10, maxRealms: 4, intl: false, proxy: false },
      maxMessageBytes: 1 << 20,
      entry: new URL('./fixtures/refused-code-worker.mjs', import.meta.url),
    });
    const prepared = prepareAgentScript('return [1, 2, 3].map((x) => x * 7).join("-");');
    if (!prepared.ok) throw new Error('the script was refused');
    try {
      await pool.ready();
      const end = await new Promise<EntryEnd | string>((resolve) => {
        const job = { source: prepared.compiled.source, limits: LEVEL_CONFIGS.STANDARD.limits, inputText: null, globalsText: null, globalNames: [], functionNames: [] };
        pool.run({ ...job, deadline: performance.now() + 10_000 }, { entry: (out) => out.end && resolve(out.end), failed: (code) => resolve(code) });
      });
      expect(end).toMatchObject({ kind: 'report' });
      expect((end as { value: string }).value).toContain('7-14-21');
      expect(pool.stats()).toMatchObject({ crashed: 0, terminated: 0 });
    } finally {
      pool.dispose();
    }
  });

  describe('a worker that lies in its messages is not believed (a real worker thread, hostile-worker.mjs)', () => {
    // Small caps, so that each lie is well past them and well within the byte cap of a message.
    const limits = { ...LEVEL_CONFIGS.STANDARD.limits, maxOutputBytes: 1000, maxToolArgsBytes: 1000, maxToolCalls: 3, maxLogEntries: 10, maxLogBytes: 1000 };
    const config = { ...WORKER_POOL_PRESETS.STANDARD, minWorkers: 1, maxWorkers: 1, maxExecutionsPerWorker: 100, maxQueueSize: 10, idleTimeoutMs: 30_000 };

    /** Runs a job whose script names the lie; what reached the host (the canary) and how the run failed. */
    async function lie(name: string): Promise<{ entries: EntryOutput[]; failed: [string, string] | 'never' }> {
      const pool = fixturePool('hostile-worker.mjs', config, 8 << 20);
      try {
        await pool.ready();
        const entries: EntryOutput[] = [];
        const failed = await new Promise<[string, string] | 'never'>((resolve) => {
          // Only so that a pool that believes the lie ends the test instead of hanging it.
          const timer = setTimeout(() => resolve('never'), 10_000);
          pool.run(
            { source: name, limits, inputText: null, globalsText: null, globalNames: [], functionNames: [], deadline: performance.now() + 60_000 },
            {
              entry: (output) => entries.push(output),
              failed: (code, n) => {
                clearTimeout(timer);
                resolve([code, n]);
              },
            },
          );
        });
        return { entries, failed };
      } finally {
        await pool.dispose();
      }
    }

    it.each([
      ['300,000 console lines in one head (many values, few bytes)', 'values'],
      ['400,000 empty arrays after the fields (one value each)', 'empties'],
      ['a result far longer than maxOutputBytes', 'value'],
      ['a tool call whose arguments are longer than maxToolArgsBytes', 'args'],
      ['more tool calls in one entry than the run may make', 'calls'],
      ['tool error data that no reply of the host held', 'toolData'],
    ])('%s: the run fails as INTERNAL_ERROR and nothing of it reaches the host', async (_name, name) => {
      const { entries, failed } = await lie(name);
      expect(failed).toEqual(['INTERNAL_ERROR', 'InternalError']);
      expect(entries).toEqual([]);
    });

    it('more entries than the run’s start and replies account for: the ones past it never reach the host', async () => {
      const { entries, failed } = await lie('entries');
      expect(failed).toEqual(['INTERNAL_ERROR', 'InternalError']);
      // The start, one per tool call (none was made) and a cancel, with room: never the 20 sent.
      expect(entries.length).toBeLessThanOrEqual(limits.maxToolCalls + 3);
    });

    it.each(['notArray', 'notText', 'badEnd'])('a message of a shape no worker writes (%s): INTERNAL_ERROR', async (name) => {
      expect((await lie(name)).failed).toEqual(['INTERNAL_ERROR', 'InternalError']);
    });
  });

  it('stats() reports the pool', async () => {
    const e = workerEnclave({ workerPoolConfig: { minWorkers: 2, maxWorkers: 4 } });
    await until(e, (s) => s.idleWorkers === 2);
    expect(e.stats().workers).toEqual({
      workers: 2,
      busyWorkers: 0,
      idleWorkers: 2,
      startingWorkers: 0,
      queued: 0,
      workersStarted: 2,
      recycled: 0,
      terminated: 0,
      crashed: 0,
      tampered: 0,
    });
  });
});

describe('worker_threads: an entry message as the host reads it', () => {
  const head = (calls: unknown[], end: unknown = null) => ['entry', 7, calls, [], end, false, false];
  const report = { kind: 'report', report: '{"kind":"ok"}' };

  it('takes each call’s argument text from after the newline by its length, and the value from the rest', () => {
    const entry = readEntry(head([[1, 'a', 9], [2, 'b', 0], [3, 'c', 7]], report), '{"x":"\n"}{"y":1}"value"');
    expect(entry?.calls).toEqual([[1, 'a', '{"x":"\n"}'], [2, 'b', ''], [3, 'c', '{"y":1}']]);
    expect(entry?.end).toEqual({ kind: 'report', report: '{"kind":"ok"}', value: '"value"' });
  });

  it('still reads argument texts inside the calls, as runtime nodes send them', () => {
    const entry = readEntry(head([[1, 'a', '{"n":1}']], report), '"v"');
    expect(entry?.calls).toEqual([[1, 'a', '{"n":1}']]);
    expect(entry?.end).toMatchObject({ value: '"v"' });
  });

  it.each([
    ['a length past the tail', [[1, 'a', 4]], 'abc'],
    ['lengths that add up past the tail', [[1, 'a', 2], [2, 'b', 2]], 'abc'],
    ['a negative length', [[1, 'a', -1]], 'abc'],
    ['a fractional length', [[1, 'a', 1.5]], 'abc'],
    ['an argument that is neither text nor a length', [[1, 'a', { length: 1 }]], 'abc'],
    ['a call that is not a tuple', [{ 0: 1, 1: 'a', 2: 1 }], 'abc'],
  ])('refuses %s (the worker is not trusted)', (_what, calls, tail) => {
    expect(readEntry(head(calls), tail)).toBeUndefined();
  });

  it('checkMessage with a cap on values measures the tuple before it is parsed, not the text after the newline', () => {
    const tuple = JSON.stringify(['entry', 7, [[1, 'a', 2]], [], null]);
    // 1 for the text, 5 elements, the call and its 3: 10 values.
    expect(checkMessage(`${tuple}\n[{},{},{},{}]`, 1000, 10).message).toEqual(['entry', 7, [[1, 'a', 2]], [], null]);
    expect(() => checkMessage(tuple, 1000, 9)).toThrow(RangeError);
    expect(() => checkMessage(`["entry",7,[${'{},'.repeat(1000)}{}]]`, 1_000_000, 100)).toThrow(RangeError);
    // Commas and brackets inside strings are text, and nesting deeper than the host reads is refused.
    expect(checkMessage(JSON.stringify(['log', ',,,[[[{{{', 'x']), 1000, 4).message).toEqual(['log', ',,,[[[{{{', 'x']);
    expect(() => checkMessage(`[${'['.repeat(600)}${']'.repeat(600)}]`, 10_000, 10_000)).toThrow(RangeError);
    // Without a cap, as workers' messages are read: size only.
    expect(checkMessage(`["entry",7,[${'{},'.repeat(1000)}{}]]`, 1_000_000).message[2]).toHaveLength(1001);
  });
});

describe('worker_threads: options', () => {
  it('presets follow the security level (the seed table of DESIGN.md section 4) and explicit fields win', async () => {
    const MB = 1024 * 1024;
    expect(WORKER_POOL_PRESETS.STRICT).toMatchObject({ minWorkers: 2, maxWorkers: 4, memoryLimitPerWorker: 64 * MB, maxMessagesPerSecond: 100 });
    expect(WORKER_POOL_PRESETS.SECURE).toMatchObject({ minWorkers: 2, maxWorkers: 8, memoryLimitPerWorker: 128 * MB, maxMessagesPerSecond: 500 });
    expect(WORKER_POOL_PRESETS.STANDARD).toMatchObject({ minWorkers: 2, maxWorkers: 16, memoryLimitPerWorker: 256 * MB, maxMessagesPerSecond: 1000 });
    expect(WORKER_POOL_PRESETS.PERMISSIVE).toMatchObject({ minWorkers: 4, maxWorkers: 32, memoryLimitPerWorker: 512 * MB, maxMessagesPerSecond: 5000 });
    // STRICT starts 2 warm workers; an explicit minWorkers wins over the preset, the rest of it stays.
    const enclave = new Enclave({ securityLevel: 'STRICT', adapter: 'worker_threads', workerPoolConfig: { minWorkers: 3 } });
    await enclave.ready();
    expect(enclave.stats().workers?.workers).toBe(3);
    enclave.dispose();
  });

  it.each([
    [{ workerPoolConfig: { minWorkers: 1 } }, /only used with adapter: "worker_threads"/],
    [{ adapter: 'worker_threads', workerPoolConfig: { maxWorkers: 0 } }, /maxWorkers must be a positive integer/],
    [{ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 3, maxWorkers: 2 } }, /minWorkers \(3\) is larger than maxWorkers \(2\)/],
    [{ adapter: 'worker_threads', workerPoolConfig: { memoryLimitPerWorker: 64 } }, /in bytes and must be at least 16 MiB/],
    [{ adapter: 'worker_threads', workerPoolConfig: { maxWorker: 2 } }, /unknown option "maxWorker"/],
    [{ adapter: 'worker_threads', workerPoolConfig: 'big' }, /workerPoolConfig must be an object/],
    [{ adapter: 'isolated-vm' }, /adapter must be "vm" \(the default\) or "worker_threads"/],
  ])('rejects %j', (options, message) => {
    expect(() => new Enclave(options as CreateEnclaveOptions)).toThrow(EnclaveConfigError);
    expect(() => new Enclave(options as CreateEnclaveOptions)).toThrow(message);
  });
});

describe('worker_threads: the built engine under bundlers', () => {
  it('names its worker entry in no pattern Turbopack would read as a reference to every file', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const bundle = new URL('../dist/bundle/', import.meta.url);
    const files = readdirSync(bundle).filter((f) => f.endsWith('.js'));
    expect(files).toContain('index.js');
    const built = files.map((f) => readFileSync(new URL(f, bundle), 'utf8')).join('\n');
    // `new Worker(<dynamic>)` and `new URL(<variable>, import.meta.url)` make Turbopack bundle a whole
    // Next.js project around the route (and fail its build on any unresolvable file in it).
    expect(built).not.toMatch(/new Worker\(/);
    expect(built).not.toMatch(/new URL\([^'"`)][^)]*import\.meta\.url\)/);
    // The bundle is minified: the constructor's local name is whatever the minifier chose.
    expect(built).toMatch(/Reflect\.construct\([\w$]+,/);
  });
});
