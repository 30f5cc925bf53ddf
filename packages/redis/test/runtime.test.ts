/**
 * Remote runtime nodes, tried with real processes: a real redis-server, `enclave-runtime` processes
 * (the built command), apps in this process and in a child process. Every failure mode ends the run
 * with its code in bounded time: no node, a node killed with SIGKILL mid-run (never retried elsewhere),
 * an app killed mid-run (the node frees the worker), Redis lost and back, and a node or a message that
 * lies. No timing is asserted beyond "it ends": durations are printed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Enclave, ToolError, checkAgentScript, defineTool } from '@enclave-kit/engine';
import type { CreateEnclaveOptions, ExecutionResult, RunJournal, ToolContext } from '@enclave-kit/engine';
import { beforeAll, describe, expect, it } from 'vitest';
import { redisRuntime, startRuntimeNode } from '../src/index.js';
import { killAppMidRun, nodeLoad, startNodeProcess } from './nodes.js';
import type { NodeProcess } from './nodes.js';
import { callerContextCanary } from '../../engine/test/caller-context.js';
import { eventually, gate, largestReply, sleep, useEnclaves, useRedis, useTimings } from './redis.js';

const redis = useRedis();
const timings = useTimings('runtime nodes');
const enclaves = useEnclaves();

/** An Enclave on remote nodes of `prefix`, with short heartbeats so that losses are noticed quickly. */
async function remoteEnclave(prefix: string, options: CreateEnclaveOptions = {}, runtime: { queueTimeoutMs?: number; direct?: false } = {}): Promise<Enclave> {
  const enclave = new Enclave({ adapter: redisRuntime({ redis: redis.client(), prefix, heartbeatMs: 200, queueTimeoutMs: 3000, ...runtime }), ...options });
  enclaves.push(enclave);
  await enclave.ready();
  return enclave;
}

const codeOf = (r: ExecutionResult) => (r.success ? 'OK' : r.error.code);

/** The journal of a paused run as a session store keeps it: JSON text, parsed again. */
function journalOf(r: ExecutionResult): RunJournal {
  if (r.success || r.paused === undefined) throw new Error(`not paused: ${codeOf(r)}`);
  return JSON.parse(JSON.stringify(r.paused.journal)) as RunJournal;
}


describe('options are checked when the adapter or the node is made', () => {
  it('redisRuntime, the Enclave and startRuntimeNode name the option that is wrong', async () => {
    expect(() => redisRuntime({} as never)).toThrow(/redis must be an object with the methods of an ioredis client/);
    expect(() => redisRuntime({ redis: redis.client(), queueTimeoutMs: -1 })).toThrow(/queueTimeoutMs/);
    expect(() => redisRuntime({ redis: redis.client(), queueTimout: 1 } as never)).toThrow(/queueTimout.*queueTimeoutMs/s);
    // Node fires a longer timer after 1 ms: a heartbeat meant to be rare would hit Redis every millisecond.
    expect(() => redisRuntime({ redis: redis.client(), heartbeatMs: 2 ** 31 })).toThrow(/heartbeatMs must be at most 2147483647 ms/);
    expect(() => redisRuntime({ redis: redis.client(), commandTimeoutMs: 2 ** 31 })).toThrow(/commandTimeoutMs must be at most 2147483647 ms/);
    expect(() => redisRuntime({ redis: redis.client(), direct: true } as never)).toThrow(/direct/);
    expect(() => redisRuntime({ redis: redis.client(), direct: { host: '0.0.0.0' } })).toThrow(/direct\.advertise must say which address/);
    expect(() => redisRuntime({ redis: redis.client(), direct: { port: 70_000 } })).toThrow(/direct\.port/);
    expect(() => redisRuntime({ redis: redis.client(), direct: { advertise: 'a b' } })).toThrow(/direct\.advertise/);
    expect(() => redisRuntime({ redis: redis.client(), direct: { hots: 'x' } } as never)).toThrow(/hots/);
    expect(() => new Enclave({ adapter: { createIsolation: () => ({}) } as never })).toThrow(/adapter/);
    expect(() => new Enclave({ adapter: { kind: 'remote', createIsolation: () => ({}) } })).toThrow(/did not return an isolation/);
    expect(() => new Enclave({ adapter: redisRuntime({ redis: redis.client() }), workerPoolConfig: { maxWorkers: 2 } })).toThrow(/workerPoolConfig/);
    await expect(startRuntimeNode({ redis: 'http://127.0.0.1:1' })).rejects.toThrow(/redis must be a redis:\/\/ or rediss:\/\/ URL/);
    await expect(startRuntimeNode({ redis: redis.server.url, concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(startRuntimeNode({ redis: redis.server.url, heartbeatMs: 2 ** 31 })).rejects.toThrow(/heartbeatMs must be at most 2147483647 ms/);
    await expect(startRuntimeNode({ redis: redis.server.url, memoryLimitPerWorker: 1024 })).rejects.toThrow(/memoryLimitPerWorker/);
  });

  it('a node started in this process runs runs and closes cleanly', async () => {
    const prefix = redis.prefix();
    const node = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 1, heartbeatMs: 200 });
    const enclave = await remoteEnclave(prefix);
    expect((await enclave.run('return [1, 2].map((x) => x * 2)')).value).toEqual([2, 4]);
    expect(node.stats()).toMatchObject({ active: 0, concurrency: 1, taken: 1 });
    await node.close();
    expect(await redis.client().exists(`${prefix}{rt}:alive:${node.id}`)).toBe(0);
  });
});

describe('runs on runtime nodes', () => {
  const prefix = redis.prefix();
  let nodes: NodeProcess[];
  let enclave: Enclave;
  beforeAll(async () => {
    nodes = await Promise.all([startNodeProcess(redis.server.url, prefix, ['--concurrency', '2']), startNodeProcess(redis.server.url, prefix, ['--concurrency', '2'])]);
    enclave = await remoteEnclave(prefix);
  }, 30_000);

  it('runs a script with tools, logs and errors as the embedded isolation does', async () => {
    const tools = { 'math:add': async ({ a, b }: { a: number; b: number }) => a + b };
    const code = 'const x = await callTool("math:add", { a: 1, b: 2 });\nconsole.log("x is", x);\nreturn { x, squares: [1, 2, 3].map((v) => v * x) };';
    const remote = await enclave.run(code, { tools });
    const local = new Enclave({ tools });
    const embedded = await local.run(code);
    local.dispose();
    expect(remote).toMatchObject({ success: true, value: { x: 3, squares: [3, 6, 9] }, stats: { toolCallCount: 1 } });
    expect(remote.value).toEqual(embedded.value);
    expect(remote.logs?.map((l) => [l.level, l.message])).toEqual([['log', 'x is 3']]);
    const thrown = await enclave.run('const a = 1;\nthrow new Error("boom " + a);');
    expect(thrown.error).toMatchObject({ code: 'RUNTIME_ERROR', message: 'boom 1', location: { line: 2 } });
    const toolError = await enclave.run('return await callTool("nope:missing", {});', { tools });
    expect(toolError.error?.code).toBe('TOOL_ERROR');
  });

  it('a syntax error only V8 finds is located in the user’s source, as the embedded isolation locates it', async () => {
    // The parser accepts it; the node's compile refuses it, past the guards of the line before.
    const code = "let a = 1;\nlet s = 'x' + a;\n  let a = 2;";
    const remote = await enclave.run(code);
    expect(remote.error).toMatchObject({ code: 'VALIDATION_ERROR', location: { line: 3, column: 7 }, data: { issues: [{ ruleId: 'syntax', line: 3, column: 7 }] } });
  });

  it('a stack the script reads (err.stack) is in the user’s columns, as in the embedded isolation', async () => {
    // The guards around the concatenations shift `boom` in the rewritten text.
    const code = "let s = 'a' + 'b' + 'c'; let t = `${s}${s}`; try { null.boom } catch (e) { return e.stack.split('\\n')[1] }";
    const local = new Enclave();
    const embedded = await local.run(code);
    local.dispose();
    expect(embedded.value).toBe(`    at <anonymous> (agentscript.js:1:${code.indexOf('boom') + 1})`);
    expect((await enclave.run(code)).value).toBe(embedded.value);
  });

  it.each([['a direct connection', {}], ['pub/sub', { direct: false as const }]])(
    "a run's tools run in its caller's async context over %s, not in the one the app's connections were made in",
    async (_label, runtime) => {
      // The app's listeners (its pub/sub connection, its direct listener) are made inside the first
      // user's request; before the fix every remote run's tools read that user's store.
      const canary = callerContextCanary();
      try {
        const remote = await canary.als.run({ user: 'first' }, () => remoteEnclave(prefix, {}, runtime));
        const users = ['alice', 'bob', 'carol'];
        const results = await Promise.all(users.map((user) => canary.runAs(user, (code, options) => remote.run(code, options))));
        expect(results.map(codeOf)).toEqual(['OK', 'OK', 'OK']);
        expect(canary.seen()).toEqual(canary.expected(users));
      } finally {
        canary.als.disable();
      }
    },
  );

  it('per-user tools reach the right user, with runs of many users in flight on both nodes at once', async () => {
    const seen: string[] = [];
    const toolsFor = (user: string) => ({
      'me:get': async (_args: unknown, ctx: ToolContext) => {
        seen.push(`${user}:${String(ctx.context)}`);
        await sleep(20);
        return { user };
      },
    });
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    const results = await Promise.all(users.map((user) => enclave.run('const a = await callTool("me:get", {});\nconst b = await callTool("me:get", {});\nreturn [a.user, b.user];', { tools: toolsFor(user), context: user })));
    expect(results.map((r) => r.value)).toEqual(users.map((u) => [u, u]));
    expect(seen.every((s) => s.split(':')[0] === s.split(':')[1])).toBe(true);
    const loads = await Promise.all(nodes.map((n) => eventually(async () => (await nodeLoad(redis.client(), prefix, n.id)) ?? Promise.reject(new Error('no load')))));
    // The consumer group spread the runs: both nodes took some (the presence carries each node's count).
    for (const load of loads) expect(load.taken).toBeGreaterThan(0);
  });

  it('a tool error with a status, the run’s input and data globals cross like in the embedded isolation', async () => {
    const tools = {
      'orders:get': async ({ id }: { id: string }) => {
        throw new ToolError(`No order ${id}`, { code: 'NOT_FOUND', status: 404 });
      },
    };
    const r = await enclave.run('return await callTool("orders:get", { id: input.id + region });', { tools, input: { id: 'o-' }, globals: { region: 'eu' } });
    expect(r.error).toMatchObject({ code: 'TOOL_ERROR', message: 'No order o-eu', data: { status: 404, toolErrorCode: 'NOT_FOUND' } });
  });

  it('a tool’s result with a string longer than a realm string may be fails the call with RESULT_TOO_LARGE, as embedded, and never reaches the node', async () => {
    // PERMISSIVE lets a result of 64 MB through, capped at the node's 32 MB; one string of 2^24 + 1 characters is within both.
    const permissive = await remoteEnclave(prefix, { securityLevel: 'PERMISSIVE' });
    const seen: unknown[] = [];
    const tools = { 'web:get': () => ({ page: 'a'.repeat(2 ** 24 + 1) }), seen: (args: unknown) => void seen.push(args) };
    const r = await permissive.run("try { const v = await callTool('web:get', {}); await callTool('seen', { got: v.page.length }); } catch (e) { await callTool('seen', { caught: e.code }); } return 1;", { tools });
    expect(r.success, JSON.stringify(r.error)).toBe(true);
    expect(seen).toEqual([{ caught: 'RESULT_TOO_LARGE' }]);
  }, 30_000);

  it('a realm’s own long report (a cycle under a 200,000-character key) ends as it does embedded: OUTPUT_LIMIT_EXCEEDED, not a lie', async () => {
    const code = 'const o = {}; o["k".repeat(200000)] = o; return o;';
    const embedded = new Enclave();
    enclaves.push(embedded);
    const expected = await embedded.run(code);
    expect(expected.error).toMatchObject({ code: 'OUTPUT_LIMIT_EXCEEDED' });
    expect((await enclave.run(code)).error).toEqual(expected.error);
  });

  it('streams events through the driver as it does embedded (session_init says remote)', async () => {
    const types: string[] = [];
    const run = enclave.stream('console.log("a"); const v = await callTool("t", {}); return v;', { tools: { t: async () => 7 } });
    let isolation: unknown;
    for await (const event of run) {
      types.push(event.type);
      if (event.type === 'session_init') isolation = (event.payload as { isolation: unknown }).isolation;
    }
    expect(isolation).toBe('remote');
    expect(types).toEqual(['session_init', 'log', 'tool_call', 'tool_result', 'final']);
    expect((await run.result).value).toBe(7);
  });

  it('the app enforces the deadline while a tool is pending, and the node frees the worker', async () => {
    const g = gate();
    const started = performance.now();
    const r = await enclave.run('return await callTool("wait", {});', { tools: { wait: g.tool }, timeout: 300 });
    expect(codeOf(r)).toBe('TIMEOUT');
    timings.push(`deadline of 300 ms with a pending tool: ended after ${Math.round(performance.now() - started)} ms`);
    expect((await enclave.run('return 1 + 1')).value).toBe(2);
  });

  it('an abort from the caller ends the run as ABORTED', async () => {
    const g = gate();
    const controller = new AbortController();
    const p = enclave.run('return await callTool("wait", {});', { tools: { wait: g.tool }, signal: controller.signal });
    await g.called;
    controller.abort();
    expect(codeOf(await p)).toBe('ABORTED');
  });
});

describe('durable runs on runtime nodes', () => {
  /** A read and a refund that needs approval; each counts the calls the host actually ran. */
  function orderTools() {
    const ran = { get: 0, refund: 0 };
    const tools = [
      defineTool({ name: 'orders:get', handler: ({ id }: { id: string }) => (ran.get++, { id, total: id === 'o1' ? 120 : 80 }) }),
      defineTool({ name: 'orders:refund', needsApproval: true, handler: ({ amount }: { amount: number }) => (ran.refund++, { refunded: amount }) }),
    ];
    return { tools, ran };
  }

  it('a run that takes Math.random() and the clock, pauses, and resumes through another app instance on another node gets the very same values', async () => {
    const prefix = redis.prefix();
    const firstNode = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const firstApp = await remoteEnclave(prefix);
    const { tools, ran } = orderTools();
    const code = `const coin = Math.random();
const t = Date.now(); const d = new Date().toISOString(); const s = Date();
const id = coin < 0.5 ? 'o1' : 'o3';
const order = await callTool('orders:get', { id });
const r = await callTool('orders:refund', { id, amount: order.total });
return { coin, t, d, s, id, refunded: r.refunded, after: Date.now() };`;
    const journal = journalOf(await firstApp.run(code, { tools, durable: true }));
    expect(journal.nd.map(([kind]) => kind)).toEqual(['r', 't', 't', 't']);
    expect(ran).toEqual({ get: 1, refund: 0 });
    // The node that ran the first part is gone: another node and another app instance take the rest.
    await firstNode.kill();
    const secondNode = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const secondApp = await remoteEnclave(prefix);
    const resumed = await secondApp.run(code, { tools, durable: { resume: { journal, decision: { approved: true } } } });
    const [coin, t, d, s] = journal.nd.map(([, value]) => value) as [number, number, number, number];
    const id = coin < 0.5 ? 'o1' : 'o3';
    expect(resumed).toMatchObject({ success: true, value: { coin, t, d: new Date(d).toISOString(), s: new Date(s).toString(), id, refunded: id === 'o1' ? 120 : 80 } });
    // After the approved call the run is live again.
    expect((resumed.value as { after: number }).after).toBeGreaterThanOrEqual(t);
    expect(ran).toEqual({ get: 1, refund: 1 });
    // (Its presence, which carries the count, is written at its next heartbeat.)
    await eventually(async () => ((await nodeLoad(redis.client(), prefix, secondNode.id))?.taken === 1 ? undefined : Promise.reject(new Error('not taken'))));
    await secondNode.kill();
  });

  it('the journal’s cap on recorded values holds on the node: past it the sources refuse and the run ends as JOURNAL_LIMIT_EXCEEDED', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const enclave = await remoteEnclave(prefix);
    const { tools, ran } = orderTools();
    const code = `let refused = 0; for (let i = 0; i < 2000; i++) { try { Math.random(); } catch { refused++; } }
await callTool('orders:get', { id: 'o1' }); return refused;`;
    const r = await enclave.run(code, { tools, durable: { maxJournalBytes: 2400 } });
    expect(r.error?.code).toBe('JOURNAL_LIMIT_EXCEEDED');
    expect(ran.get).toBe(0);
    await node.kill();
  });
});

describe('failure modes', () => {
  it('no runtime node: RUNTIME_UNAVAILABLE after the queue timeout, and nothing runs later', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix, {}, { queueTimeoutMs: 300 });
    const started = performance.now();
    const r = await enclave.run('return 1');
    timings.push(`no node, queue timeout 300 ms: RUNTIME_UNAVAILABLE after ${Math.round(performance.now() - started)} ms`);
    expect(r.error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', name: 'RuntimeUnavailableError' });
    // The run was withdrawn: a node that starts now does not execute it.
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    await sleep(300);
    expect((await nodeLoad(redis.client(), prefix, node.id))?.taken).toBe(0);
    expect((await enclave.run('return 2')).value).toBe(2);
    await node.kill();
  });

  it('a node killed with SIGKILL mid-run: RUNTIME_LOST, never retried on the other node', async () => {
    const prefix = redis.prefix();
    const [a, b] = await Promise.all([startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']), startNodeProcess(redis.server.url, prefix, ['--concurrency', '1'])]);
    const enclave = await remoteEnclave(prefix);
    const g = gate();
    const p = enclave.run('const v = await callTool("step", {}); return v;', { tools: { step: g.tool }, timeout: 20_000 });
    await g.called;
    // Which node has it: the one whose presence says it is busy.
    const loadA = await eventually(async () => {
      const [la, lb] = await Promise.all([nodeLoad(redis.client(), prefix, a.id), nodeLoad(redis.client(), prefix, b.id)]);
      if ((la?.active ?? 0) + (lb?.active ?? 0) !== 1) throw new Error('not yet');
      return la;
    });
    const [victim, other] = loadA?.active === 1 ? [a, b] : [b, a];
    const killedAt = performance.now();
    expect(await victim.kill('SIGKILL')).toBe('SIGKILL');
    const r = await p;
    timings.push(`node killed mid-run (heartbeat 200 ms): RUNTIME_LOST after ${Math.round(performance.now() - killedAt)} ms`);
    expect(r.error).toMatchObject({ code: 'RUNTIME_LOST', name: 'RuntimeLostError' });
    expect(g.calls()).toBe(1);
    expect((await nodeLoad(redis.client(), prefix, other.id))?.taken).toBe(0);
    // The other node serves the next run.
    expect((await enclave.run('return "next"')).value).toBe('next');
    await other.kill();
  });

  it('an app instance killed with SIGKILL mid-run: the node stops the orphaned run and frees its worker', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const app = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/orphan-app.mjs'), redis.server.url, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => app.once('exit', r));
    try {
      // The app's script busy-loops on the node (no deadline of its own for a minute).
      await new Promise<void>((resolve, reject) => {
        app.stdout?.on('data', (d: Buffer) => d.toString().includes('running') && resolve());
        void exited.then(() => reject(new Error('the app exited early')));
      });
      const { load, afterMs } = await killAppMidRun(redis.client(), prefix, node.id, app, exited);
      timings.push(`app killed mid-run (heartbeat 200 ms): node freed its worker after ${afterMs} ms`);
      expect(load.orphaned).toBe(1);
      // The freed worker takes the next run at once (concurrency 1).
      const enclave = await remoteEnclave(prefix);
      expect((await enclave.run('return "free"')).value).toBe('free');
    } finally {
      app.kill('SIGKILL');
      await node.kill();
    }
  });

  it('Redis lost mid-run and back: RUNTIME_LOST, then RUNTIME_UNAVAILABLE while it is down, then runs again', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const enclave = await remoteEnclave(prefix, {}, { queueTimeoutMs: 500 });
    const g = gate();
    const p = enclave.run('return await callTool("wait", {});', { tools: { wait: g.tool }, timeout: 20_000 });
    await g.called;
    const lostAt = performance.now();
    await redis.server.halt();
    const r = await p;
    timings.push(`Redis halted mid-run: RUNTIME_LOST after ${Math.round(performance.now() - lostAt)} ms`);
    expect(r.error?.code).toBe('RUNTIME_LOST');
    const down = await enclave.run('return 1');
    expect(down.error?.code).toBe('RUNTIME_UNAVAILABLE');
    await redis.server.start();
    const backAt = performance.now();
    const again = await eventually(async () => {
      const res = await enclave.run('return "back"');
      return res.success ? res : Promise.reject(new Error(codeOf(res)));
    }, 15_000);
    timings.push(`Redis back: first run through the node after ${Math.round(performance.now() - backAt)} ms`);
    expect(again.value).toBe('back');
    await node.kill();
  });

  it('FLUSHALL mid-run (Redis stays up, its data goes): runs in flight complete; neither side takes the other for dead', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '2']);
    const enclave = await remoteEnclave(prefix);
    // A first run over pub/sub, then one over the direct connection the node opened meanwhile.
    expect((await enclave.run('return 0')).value).toBe(0);
    const gates = [gate(), gate()];
    const runs = gates.map((g, i) => enclave.run(`return (await callTool("wait", {})) + ${i};`, { tools: { wait: g.tool }, timeout: 20_000 }));
    await Promise.all(gates.map((g) => g.called));
    await redis.client().flushall();
    // Several heartbeats of both sides (200 ms each) after the presence keys went.
    await sleep(1000);
    for (const g of gates) g.release(10);
    expect((await Promise.all(runs)).map(codeOf)).toEqual(['OK', 'OK']);
    expect((await Promise.all(runs)).map((r) => r.value)).toEqual([10, 11]);
    expect((await enclave.run('return "after"')).value).toBe('after');
    expect(await eventually(async () => (await nodeLoad(redis.client(), prefix, node.id)) ?? Promise.reject(new Error('no presence yet')))).toMatchObject({ orphaned: 0 });
    await node.kill();
  });

  it('SIGTERM: the node finishes its run, then exits 0', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const enclave = await remoteEnclave(prefix);
    const g = gate();
    const p = enclave.run('return await callTool("wait", {});', { tools: { wait: g.tool } });
    await g.called;
    const exit = node.kill('SIGTERM');
    await sleep(100);
    g.release('done');
    expect((await p).value).toBe('done');
    expect(await exit).toBe(0);
  });
});

// The node's deadline is 3000 ms, not less: the runs after the busy loop count theirs from the call, and
// on a loaded machine the 64 MiB run took longer than 1500 ms (TIMEOUT in CI).
describe('the node enforces its own caps, whatever the app asks', () => {
  const prefix = redis.prefix();
  beforeAll(async () => {
    await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--max-timeout', '3000', '--memory-limit', '64', '--max-payload', '1']);
  }, 30_000);

  it('a run that asks for a minute of unguarded busy loop is halted at the node’s 3000 ms', async () => {
    const enclave = await remoteEnclave(prefix, { validate: false, transform: false, timeout: 60_000 });
    const started = performance.now();
    const r = await enclave.run('while (true) {}');
    timings.push(`node max timeout 3000 ms, app timeout 60 s: TIMEOUT after ${Math.round(performance.now() - started)} ms`);
    expect(codeOf(r)).toBe('TIMEOUT');
    expect((await enclave.run('return 3')).value).toBe(3);
  });

  it('a run that asks for a GiB of memory gets the node’s 64 MiB worker heap', async () => {
    const enclave = await remoteEnclave(prefix, { securityLevel: 'PERMISSIVE', memoryLimit: 1024 * 1024 * 1024 });
    const r = await enclave.run('const keep = []; for (let i = 0; i < 2000; i++) keep.push(new Array(1e6).fill(i)); return keep.length;');
    expect(codeOf(r)).toBe('MEMORY_LIMIT_EXCEEDED');
    expect((await enclave.run('return 4')).value).toBe(4);
  });

  it('a run larger than the node’s payload cap is dropped unread; the app hears RUNTIME_UNAVAILABLE at once', async () => {
    const enclave = await remoteEnclave(prefix, {}, { queueTimeoutMs: 20_000 });
    const r = await enclave.run('return input.length', { input: 'x'.repeat(2 * 1024 * 1024) });
    expect(r.error).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', message: expect.stringContaining('larger than the runtime node accepts') });
    expect((await enclave.run('return 5')).value).toBe(5);
  });

  it('a tool reply larger than the node reads never goes out: the call fails at once, in the script (pub/sub)', async () => {
    const enclave = await remoteEnclave(prefix, { maxToolResultBytes: 8 * 1024 * 1024 }, { direct: false });
    // Within the app's own cap (8 MiB here), beyond the node's 1 MiB characters.
    const tools = { big: async () => 'x'.repeat(1_500_000), small: async () => 'ok' };
    const r = await enclave.run('try { await callTool("big", {}); } catch (e) { return [e.code, e.message, await callTool("small", {})]; }', { tools, timeout: 20_000 });
    expect(r).toMatchObject({ success: true, value: ['RESULT_TOO_LARGE', expect.stringContaining('larger than the runtime node'), 'ok'] });
    timings.push(`a tool reply over the node’s payload cap, on pub/sub: ${r.stats.duration.toFixed(0)} ms to the script's RESULT_TOO_LARGE (deadline 20 s)`);
  });
});

/**
 * A node that lies, played by this test over the same Redis protocol: it takes a run from the queue as
 * a node would, then sends what a compromised node could. The app must end the run with a code, and
 * never believe more than the documented shapes and the run's own caps.
 */
async function lyingNode(prefix: string, act: (job: { run: string; app: string; token: string; limits: Record<string, number> }, send: (message: unknown[], tail?: string) => Promise<unknown>) => Promise<void>): Promise<void> {
  const c = redis.client();
  const jobs = `${prefix}{rt}:jobs`;
  await c.call('XGROUP', 'CREATE', jobs, 'nodes', '0', 'MKSTREAM').catch(() => {});
  const reply = (await c.call('XREADGROUP', 'GROUP', 'nodes', 'liar', 'COUNT', '1', 'BLOCK', '5000', 'NOACK', 'STREAMS', jobs, '>')) as [string, [string, string[]][]][];
  const fields = reply[0]?.[1][0]?.[1] as string[];
  // A small run travels in its entry (`j`), a larger one under its own key.
  const text = fields[5] ?? (await c.getdel(`${prefix}{rt}:job:${fields[1]}`));
  const job = JSON.parse(text as string) as { run: string; app: string; token: string; limits: Record<string, number> };
  const send = (message: unknown[], tail = '') => c.publish(`${prefix}rt:to:${job.app}`, JSON.stringify(message) + (tail === '' ? '' : `\n${tail}`));
  await act(job, send);
}

describe('hostile messages on Redis', () => {
  it('a node that reports more logs than the run allows: the run ends as INTERNAL_ERROR, nothing is believed', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix, { maxLogEntries: 5 });
    const p = enclave.run('return 1');
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [], Array.from({ length: 50 }, () => ['log', 'x'.repeat(100)]), null]);
    });
    const r = await p;
    expect(r.error).toMatchObject({ code: 'INTERNAL_ERROR', message: 'The runtime node sent an invalid message.' });
    expect(r.logs).toBeUndefined();
  });

  it('a node that asks for more tool calls than the budget: the app’s count holds (MAX_TOOL_CALLS)', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix, { maxToolCalls: 3 });
    let called = 0;
    const p = enclave.run('return 1', { tools: { t: async () => ++called } });
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [[1, 't', '{}'], [2, 't', '{}'], [3, 't', '{}'], [4, 't', '{}']], [], null]);
    });
    expect(codeOf(await p)).toBe('MAX_TOOL_CALLS');
    await sleep(50);
    // No call beyond the budget reached the host.
    expect(called).toBeLessThanOrEqual(3);
  });

  it('a node that reports a throw statement outside the user\'s source: the error has no location (red3)', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const threw = (thrownAt: [number, number]) => ({ kind: 'report', report: JSON.stringify({ kind: 'threw', name: 'Error', message: 'Uncaught "x"', location: null, tool: null, thrownAt, iterations: 0, toolCalls: 0 }) });
    const cases: [[number, number], { line: number; column: number } | undefined][] = [
      [[2, 3], { line: 2, column: 3 }],
      // The end of line 2 ('  throw s;'), and one past it.
      [[2, 11], { line: 2, column: 11 }],
      [[2, 12], undefined],
      [[3, 1], undefined],
      [[99_999, 1], undefined],
    ];
    for (const [thrownAt, location] of cases) {
      const p = enclave.run("let s = 'a';\n  throw s;");
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        await send(['entry', job.run, [], [], threw(thrownAt)]);
      });
      const r = await p;
      expect([codeOf(r), r.success ? undefined : r.error.location], JSON.stringify(thrownAt)).toEqual(['RUNTIME_ERROR', location]);
    }
  });

  it('a node whose report is not a report, or whose entry has the wrong shape: INTERNAL_ERROR', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const bad = [
      ['entry', 'RUN', [], [], { kind: 'report', report: '{"kind":"ok","iterations":"many"' }],
      ['entry', 'RUN', [['not-a-call']], [], null],
      ['entry', 'RUN', [], [['shout', 'x']], null],
      ['entry', 'RUN', [], [], { kind: 'exploded' }],
    ];
    for (const message of bad) {
      const p = enclave.run('return 1');
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        await send(message.map((m) => (m === 'RUN' ? job.run : m)));
      });
      expect(codeOf(await p)).toBe('INTERNAL_ERROR');
    }
  });

  it('a node that reports a value or tool-error data nested deeper than any realm writes: the value is refused, the data left out (or refused whole when the app never sent it), and every result stays JSON', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const report = (fields: Record<string, unknown>) => ({ kind: 'report', report: JSON.stringify({ iterations: 0, toolCalls: 0, ...fields }) });
    const lies: [unknown[], string, Record<string, unknown>][] = [
      [['entry', 'RUN', [], [], report({ kind: 'ok' })], deep(100_000), { code: 'INTERNAL_ERROR' }],
      // Data the app never sent in a failed reply: refused whole.
      [['entry', 'RUN', [], [], report({ kind: 'threw', name: 'ToolError', message: 'm', location: null, tool: { code: 'X', tool: 't', data: `{"a":${deep(20_000)}}` } })], '', { code: 'INTERNAL_ERROR' }],
    ];
    for (const [message, tail, error] of lies) {
      const p = enclave.run('return 1');
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        await send(message.map((m) => (m === 'RUN' ? job.run : m)), tail);
      });
      const r = await p;
      // A result the host cannot serialize breaks every caller that sends it on (HTTP, a session store).
      expect(() => JSON.stringify(r)).not.toThrow();
      expect(r.error).toEqual(expect.objectContaining(error));
    }
    // Data 2,000 deep, as the app's own failed reply had it (a ToolError's data may be 4 KB): the error
    // stands, its data, deeper than the host reads, is left out.
    let nested: unknown = [];
    for (let i = 1; i < 2000; i++) nested = [nested];
    const fail = defineTool({ name: 'fail', handler: () => Promise.reject(new ToolError('m', { code: 'X', data: { a: nested } })) });
    const replies: string[] = [];
    const sub = redis.client();
    sub.on('message', (_channel: string, text: string) => void replies.push(text));
    await sub.subscribe(`${prefix}rt:to:nliar0000`);
    // The liar's presence, as a live node keeps it: this run waits on a tool's reply.
    await redis.client().set(`${prefix}{rt}:alive:nliar0000`, '1', 'PX', 60_000);
    const threw = enclave.run('return 1', { tools: [fail] });
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [[1, 'fail', 2]], [], null], '{}');
      await expect.poll(() => replies.length).toBe(1);
      await send(['entry', job.run, [], [], report({ kind: 'threw', name: 'ToolError', message: 'm', location: null, tool: { code: 'X', tool: 'fail', data: `{"a":${deep(2000)}}` } })]);
    });
    sub.disconnect();
    const t = await threw;
    expect(() => JSON.stringify(t)).not.toThrow();
    expect(t.error).toEqual(expect.objectContaining({ code: 'TOOL_ERROR', data: { toolErrorCode: 'X', tool: 'fail' } }));
    // A value as deep as a realm may write still arrives whole.
    const p = enclave.run('return 1');
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [], [], report({ kind: 'ok' })], deep(256));
    });
    const r = await p;
    expect(codeOf(r)).toBe('OK');
    expect(JSON.stringify(r.value)).toBe(deep(256));
  });

  it('a node that reports tool error data of its own, shorter than a failed reply the app sent: INTERNAL_ERROR, not the status it chose', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const data = { status: 409, reason: 'The order is paid already.' };
    const fail = defineTool({ name: 'fail', handler: () => Promise.reject(new ToolError('m', { code: 'CONFLICT', data })) });
    const replies: string[] = [];
    const sub = redis.client();
    sub.on('message', (_channel: string, text: string) => void replies.push(text));
    await sub.subscribe(`${prefix}rt:to:nliar0000`);
    await redis.client().set(`${prefix}{rt}:alive:nliar0000`, '1', 'PX', 60_000);
    const report = (tool: Record<string, unknown>) => ({ kind: 'report', report: JSON.stringify({ kind: 'threw', iterations: 0, toolCalls: 1, name: 'ToolError', message: 'm', location: null, tool }) });
    // The app's own data, as a realm writes it back, stands; an error of the node's choosing does not
    // (before: any data no longer than the reply, so a 401, 407 or 429 the HTTP core answered with).
    const runs: [string, string, Record<string, unknown>][] = [
      [JSON.stringify(data), 'CONFLICT', { code: 'TOOL_ERROR', data: { ...data, toolErrorCode: 'CONFLICT', tool: 'fail' } }],
      ['{"status":401}', 'UNAUTHORIZED', { code: 'INTERNAL_ERROR' }],
      ['{"status":409,"reason":"The order is paid already.","x":1}', 'CONFLICT', { code: 'INTERNAL_ERROR' }],
    ];
    try {
      for (const [said, code, expected] of runs) {
        replies.length = 0;
        const threw = enclave.run('return 1', { tools: [fail] });
        await lyingNode(prefix, async (job, send) => {
          await send(['accept', job.run, 'nliar0000', job.token]);
          await send(['entry', job.run, [[1, 'fail', 2]], [], null], '{}');
          await expect.poll(() => replies.length).toBe(1);
          await send(['entry', job.run, [], [], report({ code, tool: 'fail', data: said })]);
        });
        expect((await threw).error, said).toMatchObject(expected);
      }
    } finally {
      sub.disconnect();
    }
  });

  it('a node that reports a value, tool arguments or tool error data longer than any realm writes for the run: INTERNAL_ERROR; no tool and no caller gets them', async () => {
    const prefix = redis.prefix();
    const sizes: number[] = [];
    const t = defineTool({ name: 't', handler: (args: unknown) => void sizes.push(JSON.stringify(args).length) });
    const enclave = await remoteEnclave(prefix, { maxOutputBytes: 1000, maxToolArgsBytes: 1000, tools: [t] });
    // The liar's presence, as a live node keeps it: a 5 MB message may take longer than the app's heartbeat.
    await redis.client().set(`${prefix}{rt}:alive:nliar0000`, '1', 'PX', 60_000);
    const report = (fields: Record<string, unknown>) => ({ kind: 'report', report: JSON.stringify({ iterations: 0, toolCalls: 0, ...fields }) });
    const big = 'x'.repeat(5_000_000);
    const lies: [unknown[], string][] = [
      // Before: the caller got a result of 5,000,093 characters with maxOutputBytes 1000.
      [['entry', 'RUN', [], [], report({ kind: 'ok' })], JSON.stringify(big)],
      // Before: the tool was handed 5,000,008 characters of arguments with maxToolArgsBytes 1000.
      [['entry', 'RUN', [[1, 't', JSON.stringify({ s: big })]], [], null], ''],
      [['entry', 'RUN', [[1, 't', 1_000_010]], [], null], JSON.stringify({ s: big }).slice(0, 1_000_010)],
      // Before: error.data of 5 MB in the result; the app sent this run no failed reply.
      [['entry', 'RUN', [], [], report({ kind: 'threw', name: 'ToolError', message: 'm', location: null, tool: { code: 'X', tool: 't', data: JSON.stringify({ blob: big }) } })], ''],
    ];
    for (const [message, tail] of lies) {
      const p = enclave.run('return 1');
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        await send(message.map((m) => (m === 'RUN' ? job.run : m)), tail);
      });
      const r = await p;
      expect(r.error, `lie ${lies.findIndex(([m]) => m === message)}`).toMatchObject({ code: 'INTERNAL_ERROR' });
      expect(JSON.stringify(r).length).toBeLessThan(2000);
    }
    expect(sizes).toEqual([]);
    // At the caps, as a realm writes them, everything arrives.
    const fine = enclave.run('return 1');
    const args = JSON.stringify({ s: 'y'.repeat(1000 - 8) });
    const value = JSON.stringify('v'.repeat(998));
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [[1, 't', args.length]], [], null], args);
      await expect.poll(() => sizes.length).toBe(1);
      await send(['entry', job.run, [], [], report({ kind: 'ok', toolCalls: 1 })], value);
    });
    expect(await fine).toMatchObject({ success: true, value: 'v'.repeat(998) });
    expect(sizes).toEqual([1000]);
  });

  it('a node’s message of 24 MB of `{}`, in its tuple or in a report, is measured before it is parsed: an app with a 128 MiB heap drops it or ends the run, and goes on (before: JSON.parse took it down)', async () => {
    const prefix = redis.prefix();
    const app = spawn(process.execPath, ['--max-old-space-size=128', path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/small-heap-app.mjs'), redis.server.url, prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    app.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    app.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | string | null>((r) => app.once('exit', (code, signal) => r(code ?? signal)));
    const c = redis.client();
    await c.set(`${prefix}{rt}:alive:nliar0000`, '1', 'PX', 60_000);
    const ok = (run: string) => JSON.stringify(['entry', run, [], [], { kind: 'report', report: JSON.stringify({ kind: 'ok', iterations: 0, toolCalls: 0 }) }]) + '\n1';
    try {
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        // Within the app's message cap (27 MiB at STANDARD) and Redis's pub/sub limit (32 MB): 8 million objects once parsed.
        await c.publish(`${prefix}rt:to:${job.app}`, `["entry","${job.run}",[${'{},'.repeat(8_000_000)}{}],[],null]`);
        await c.publish(`${prefix}rt:to:${job.app}`, ok(job.run));
      });
      // Before: the app printed V8's "FATAL ERROR: ... JavaScript heap out of memory" here and died.
      let gone = false;
      void exited.then(() => (gone = true));
      await expect.poll(() => gone || out.includes('result'), { timeout: 15_000 }).toBe(true);
      expect(out).toBe('result OK\n');
      // The same objects inside the report's own JSON text, a string in the tuple: the run's end is a lie.
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        await c.publish(`${prefix}rt:to:${job.app}`, `["entry","${job.run}",[],[],{"kind":"report","report":"{\\"kind\\":\\"ok\\",\\"iterations\\":0,\\"toolCalls\\":0,\\"pad\\":[${'{},'.repeat(8_000_000)}{}]}"}]\n1`);
      });
      expect(await exited, out).toBe(0);
      expect(out).toBe('result OK\nresult INTERNAL_ERROR\n');
    } finally {
      app.kill('SIGKILL');
    }
  });

  it('an app’s message of 24 MB of `{}` is measured before it is parsed: a node with a 128 MiB heap drops it and its run goes on (before: JSON.parse took the node down)', async () => {
    const prefix = redis.prefix();
    // Presence for 6 s: reading 24 MB on a loaded machine may hold the node's event loop past 3 beats of 200 ms.
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--heartbeat', '2000'], { NODE_OPTIONS: '--max-old-space-size=128' });
    const c = redis.client();
    const accepted: string[] = [];
    const sub = redis.client();
    sub.on('pmessage', (_p: string, _channel: string, text: string) => {
      if (text.startsWith('["accept"')) accepted.push(JSON.parse(text)[1] as string);
    });
    await sub.psubscribe(`${prefix}rt:to:a*`);
    const enclave = await remoteEnclave(prefix, {}, { direct: false });
    const g = gate();
    const p = enclave.run('return await callTool("wait", {});', { tools: { wait: g.tool }, timeout: 10_000 });
    await Promise.race([g.called, p]);
    await expect.poll(() => accepted.length).toBe(1);
    await c.publish(`${prefix}rt:to:${node.id}`, `["reply","${accepted[0]}",1,1,[${'{},'.repeat(8_000_000)}{}]]`);
    g.release(42);
    const r = await p;
    expect(r, JSON.stringify(r.success ? r.value : r.error)).toMatchObject({ success: true, value: 42 });
    expect(node.child.exitCode).toBeNull();
    sub.disconnect();
    await node.kill();
  });

  it('a node that reports malformed values of the clock or Math.random(), or more than the journal allows: INTERNAL_ERROR, and the app goes on', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const refund = defineTool({ name: 'refund', needsApproval: true, handler: () => 1 });
    // maxJournalBytes 240: at most 11 values (24 bytes each, and the one that passes the cap).
    const durable = { maxJournalBytes: 240 };
    const many = (n: number) => Array.from({ length: n }, (_, i) => ['r', i / 100]);
    const lies: [unknown, ...unknown[]][] = [
      [[['r', 1.5]]],
      [[['t', 8.64e15 + 1]]],
      [[['q', 0.5]]],
      [[['r', 0.5, 'extra']]],
      [[['r', '0.5']]],
      ['not a list'],
      [null],
      [{ 0: ['r', 0.5], length: 1 }],
      [many(12)],
      // Within the cap in each entry, beyond it in all.
      [many(6), many(6)],
    ];
    for (const nds of lies) {
      const p = enclave.run('return 1', { tools: [refund], durable });
      await lyingNode(prefix, async (job, send) => {
        await send(['accept', job.run, 'nliar0000', job.token]);
        for (const nd of nds) await send(['entry', job.run, [], [], null, nd]);
      });
      const r = await p;
      expect(r.error, JSON.stringify(nds).slice(0, 80)).toMatchObject({ code: 'INTERNAL_ERROR' });
    }
    // Values in a run that is not durable are a lie too.
    const plain = enclave.run('return 1');
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [], [], null, [['r', 0.5]]]);
    });
    expect(codeOf(await plain)).toBe('INTERNAL_ERROR');
    // Up to the cap, the values are believed and journaled.
    const fine = enclave.run('return 1', { tools: [refund], durable });
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['entry', job.run, [[1, 'refund', '{}']], [], null, many(5)]);
    });
    expect(journalOf(await fine).nd).toEqual(many(5));
  });

  it('a node that says its worker flooded: the run ends as RUNTIME_ERROR, MessageFloodError', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const p = enclave.run('return 1');
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
      await send(['failed', job.run, 'RUNTIME_ERROR']);
    });
    expect((await p).error).toMatchObject({ code: 'RUNTIME_ERROR', name: 'MessageFloodError' });
  });

  it('a node that accepts and then says nothing, with no presence: RUNTIME_LOST', async () => {
    const prefix = redis.prefix();
    const enclave = await remoteEnclave(prefix);
    const p = enclave.run('return 1', { timeout: 20_000 });
    await lyingNode(prefix, async (job, send) => {
      await send(['accept', job.run, 'nliar0000', job.token]);
    });
    expect(codeOf(await p)).toBe('RUNTIME_LOST');
  });

  it('a queue a Redis writer broke is mended by the next run: runs succeed, not RUNTIME_UNAVAILABLE for good', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const jobs = `${prefix}{rt}:jobs`;
    const node = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 1, heartbeatMs: 200 });
    try {
      const enclave = await remoteEnclave(prefix);
      expect((await enclave.run('return 1')).value).toBe(1);
      // One write each, never repeated. Before: every XADD of every app failed (WRONGTYPE, or an id no
      // clock reaches), or no node ever read what it added (the group moved past it), for as long as
      // the key lived (forever), and every run ended as RUNTIME_UNAVAILABLE.
      const breaks: [string, () => Promise<unknown>][] = [
        ['a string', () => c.multi().del(jobs).set(jobs, 'x').exec()],
        ['a hash', () => c.multi().del(jobs).hset(jobs, 'r', 'x').exec()],
        ['the top id at the end of ids', () => c.xadd(jobs, '18446744073709551615-18446744073709551615', 'x', '1')],
        ['the group moved to the far future', () => c.call('XGROUP', 'SETID', jobs, 'nodes', '99999999999999-0')],
        ['the group moved to the end of ids', () => c.call('XGROUP', 'SETID', jobs, 'nodes', '18446744073709551615-0')],
        ['many groups', async () => { for (let i = 0; i < 20; i++) await c.call('XGROUP', 'CREATE', jobs, `g${i}`, '$'); }],
      ];
      for (const [name, breakIt] of breaks) {
        // From a queue as the nodes use it: the last break is undone, and their group is there again.
        await c.del(jobs);
        expect((await enclave.run('return 0')).value, name).toBe(0);
        await breakIt();
        // A small run travels in its entry, a larger one under its own key: both queue on the stream.
        expect((await enclave.run('return 2')).value, name).toBe(2);
        expect((await enclave.run('return input.length', { input: 'x'.repeat(100_000) })).value, name).toBe(100_000);
        expect(await c.type(jobs), name).toBe('stream');
      }
    } finally {
      await node.close();
    }
  });

  it('a node starts on a queue a Redis writer retyped, and a running node mends one itself: it takes runs (before: it failed to start, WRONGTYPE)', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const jobs = `${prefix}{rt}:jobs`;
    await c.set(jobs, 'x');
    const node = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 1, heartbeatMs: 200 });
    try {
      expect(await c.type(jobs)).toBe('stream');
      // While it runs, with no app queueing anything that would mend it first.
      await c.multi().del(jobs).hset(jobs, 'r', 'x').exec();
      await expect.poll(() => c.type(jobs), { timeout: 8000, interval: 100 }).toBe('stream');
      const enclave = await remoteEnclave(prefix);
      expect((await enclave.run('return 1')).value).toBe(1);
    } finally {
      await node.close();
    }
  });

  it('forged presence keys answer for their own peer only: a retyped epoch or peer key, or a huge one, never hides a lost node', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const app = redis.client();
    const received = largestReply(app);
    const enclave = new Enclave({ adapter: redisRuntime({ redis: app, prefix, heartbeatMs: 200, queueTimeoutMs: 3000 }) });
    enclaves.push(enclave);
    await enclave.ready();
    // Before the liars accept: the app beats every 200 ms. Old code: GET on the hash failed every beat.
    await c.multi().del(`${prefix}{rt}:epoch`).hset(`${prefix}{rt}:epoch`, 'forged', '1').exec();
    await c.hset(`${prefix}{rt}:alive:nliar0001`, 'forged', '1');
    await c.set(`${prefix}{rt}:alive:nliar0002`, 'x'.repeat(8 * 1024 * 1024));
    const runs: Promise<ExecutionResult>[] = [];
    for (const [liar, timeout] of [['nliar0001', 1500], ['nliar0002', 1500], ['nliar0003', 8000]] as const) {
      runs.push(enclave.run('return 1', { timeout }));
      await lyingNode(prefix, async (job, send) => void (await send(['accept', job.run, liar, job.token])));
    }
    // The forged ones stay "alive" until their runs' deadlines; the one with no presence is found gone.
    expect((await Promise.all(runs)).map(codeOf)).toEqual(['TIMEOUT', 'TIMEOUT', 'RUNTIME_LOST']);
    expect(received()).toBeLessThan(1024 * 1024);
  });

  it('an epoch that keeps changing is not a loss of Redis’s data every time: a node with no presence is still found gone', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const enclave = await remoteEnclave(prefix);
    let n = 0;
    const rotate = setInterval(() => void c.set(`${prefix}{rt}:epoch`, `forged${++n}`).catch(() => {}), 50);
    try {
      await sleep(300);
      const run = enclave.run('return 1', { timeout: 8000 });
      await lyingNode(prefix, async (job, send) => void (await send(['accept', job.run, 'nliar0000', job.token])));
      expect(codeOf(await run)).toBe('RUNTIME_LOST');
    } finally {
      clearInterval(rotate);
    }
  });

  it('garbage on every channel (not JSON, wrong shapes, __proto__ keys, oversized) changes nothing', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--max-payload', '1']);
    const enclave = await remoteEnclave(prefix);
    const g = gate();
    const p = enclave.run('const v = await callTool("wait", {}); return { v };', { tools: { wait: g.tool } });
    await g.called;
    const c = redis.client();
    const channels = (await c.call('PUBSUB', 'CHANNELS', `${prefix}rt:to:*`)) as string[];
    expect(channels.length).toBe(2);
    const garbage = [
      'not json',
      '',
      '[]',
      '{"__proto__":{"polluted":1}}',
      '["reply","x",1,1,"1"]',
      '["accept",{"__proto__":{"polluted":1}},"n1234567890"]',
      '["failed","r0000000000","__proto__"]',
      '["cancel",["array"]]',
      JSON.stringify(['entry', 'r'.repeat(64), [], [], null]),
      `["reply","${'x'.repeat(2 * 1024 * 1024)}"]`,
    ];
    for (const channel of channels) for (const text of garbage) await c.publish(channel, text);
    await sleep(100);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    g.release(42);
    expect((await p).value).toEqual({ v: 42 });
    await eventually(async () => ((await nodeLoad(c, prefix, node.id))?.active === 0 ? undefined : Promise.reject(new Error('still busy'))));
    await node.kill();
  });

  it('a queued durable run whose recorded values are not values, or more than its cap or the node’s allow, is refused by the node', async () => {
    const prefix = redis.prefix();
    // A 1 MiB payload cap: the node takes at most 43,690 values of a journal (24 bytes each), whatever a run says.
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--max-payload', '1']);
    const c = redis.client();
    const app = 'aliar00000';
    const heard = new Map<string, unknown[]>();
    const sub = redis.client();
    await sub.subscribe(`${prefix}rt:to:${app}`);
    sub.on('message', (_channel: string, text: string) => {
      const m = JSON.parse(text.split('\n')[0] as string) as unknown[];
      if (m[0] !== 'entry' && !heard.has(m[1] as string)) heard.set(m[1] as string, m);
    });
    const limits = { maxIterations: 1000, maxCallDepth: 100, maxToolCalls: 10, memoryLimit: 16 * 1024 * 1024, maxOutputBytes: 1000, maxToolArgsBytes: 1000, maxLogBytes: 1000, maxLogEntries: 10 };
    const job = (run: string, nd: Record<string, unknown>) => ({ v: 1, run, app, token: 'tok0000000', source: 'x', limits, input: null, globals: null, names: [], fnNames: [], remaining: 2000, realm: { intl: false, proxy: false }, ...nd });
    const bad: Record<string, unknown>[] = [
      { replayNd: 'nope', maxNd: 10 },
      { replayNd: [['x', 1]], maxNd: 10 },
      { replayNd: [['r', 1]], maxNd: 10 },
      { replayNd: [['t', null]], maxNd: 10 },
      { replayNd: [['t', 8.64e15 + 1]], maxNd: 10 },
      { replayNd: [{ 0: 'r', 1: 0.5 }], maxNd: 10 },
      { replayNd: [['r', 0.5], ['r', 0.5], ['r', 0.5]], maxNd: 2 },
      { replayNd: [], maxNd: 1.5 },
      { replayNd: [], maxNd: -1 },
      { replayNd: [], maxNd: '10' },
      { replayNd: [] },
      { maxNd: 10 },
      { replayNd: Array.from({ length: 43_691 }, () => ['r', 0]), maxNd: 1e9 },
    ];
    const runs = bad.map((_, i) => `rnd${String(i).padStart(7, '0')}`);
    for (const [i, nd] of bad.entries()) {
      const run = runs[i] as string;
      await c.set(`${prefix}{rt}:job:${run}`, JSON.stringify(job(run, nd)), 'PX', 5000);
      await c.xadd(`${prefix}{rt}:jobs`, '*', 'r', run, 'a', app);
    }
    // A good one, for contrast: the node takes it.
    await c.set(`${prefix}{rt}:job:rndgood0000`, JSON.stringify(job('rndgood0000', { replayNd: [['r', 0.5], ['t', 0]], maxNd: 10 })), 'PX', 5000);
    await c.xadd(`${prefix}{rt}:jobs`, '*', 'r', 'rndgood0000', 'a', app);
    await eventually(async () => (heard.size === bad.length + 1 ? undefined : Promise.reject(new Error(`heard ${heard.size}`))));
    expect(runs.map((run) => heard.get(run))).toEqual(runs.map((run) => ['failed', run, 'INTERNAL_ERROR']));
    expect(heard.get('rndgood0000')).toEqual(['accept', 'rndgood0000', node.id, 'tok0000000', 1024 * 1024, 1]);
    await eventually(async () => ((await nodeLoad(c, prefix, node.id))?.refused === bad.length ? undefined : Promise.reject(new Error('not counted'))));
    await node.kill();
  });

  it('a node sends a tool call’s arguments after the newline to an app that said `framed`, and inside the JSON to an older app', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '2']);
    const c = redis.client();
    const app = 'aframed0000';
    const raw: string[] = [];
    const sub = redis.client();
    await sub.subscribe(`${prefix}rt:to:${app}`);
    sub.on('message', (_channel: string, text: string) => raw.push(text));
    // Arguments with what escaping would touch: quotes, a backslash, a newline, a line separator, an emoji.
    const args = { s: 'a "quoted" \\ line\nnext\u2028😀' };
    const checked = checkAgentScript(`return await callTool('t', ${JSON.stringify(args)});`);
    if (!checked.ok) throw new Error('the script does not check');
    const limits = { maxIterations: 1000, maxCallDepth: 100, maxToolCalls: 10, memoryLimit: 16 * 1024 * 1024, maxOutputBytes: 1000, maxToolArgsBytes: 1000, maxLogBytes: 1000, maxLogEntries: 10 };
    // The rewritten text an app sends: the engine keeps it with what the check returns (its PreparedScript).
    const source = (checked.compiled as unknown as { source: string }).source;
    const job = (run: string, framed: boolean) => ({ v: 1, run, app, token: 'tok0000000', source, limits, input: null, globals: null, names: [], fnNames: [], remaining: 5000, realm: { intl: false, proxy: false }, ...(framed ? { framed: 1 } : {}) });
    // The fake app's presence, as a live app keeps it: on a loaded machine the node's heartbeat could
    // otherwise find the app gone, and end its runs, before they call the tool.
    await c.set(`${prefix}{rt}:alive:${app}`, '1', 'PX', 10_000);
    for (const [run, framed] of [['rframed0001', true], ['rolder00001', false]] as const) {
      await c.set(`${prefix}{rt}:job:${run}`, JSON.stringify(job(run, framed)), 'PX', 5000);
      await c.xadd(`${prefix}{rt}:jobs`, '*', 'r', run, 'a', app);
    }
    const entryOf = (run: string) => eventually(async () => raw.find((t) => t.startsWith(`["entry","${run}"`)) ?? Promise.reject(new Error(`no entry of ${run} yet`)));
    const argsText = JSON.stringify(args);
    expect(await entryOf('rframed0001')).toBe(`${JSON.stringify(['entry', 'rframed0001', [[1, 't', argsText.length]], [], null])}\n${argsText}`);
    expect(await entryOf('rolder00001')).toBe(JSON.stringify(['entry', 'rolder00001', [[1, 't', argsText]], [], null]));
    for (const run of ['rframed0001', 'rolder00001']) await c.publish(`${prefix}rt:to:${node.id}`, JSON.stringify(['cancel', run]));
    sub.disconnect();
    await node.kill();
  });

  it('a queued run that is not a run (bad JSON, unknown fields, names that are not identifiers) is refused by the node', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const c = redis.client();
    const enqueue = async (run: string, text: string) => {
      await c.set(`${prefix}{rt}:job:${run}`, text, 'PX', 5000);
      await c.xadd(`${prefix}{rt}:jobs`, '*', 'r', run, 'a', 'aliar00000');
    };
    await enqueue('rbad000001', '{"v":1');
    await enqueue('rbad000002', JSON.stringify({ v: 1, run: 'rbad000002', app: 'aliar00000', token: 'tok0000000', source: 'x', limits: {}, input: null, globals: null, names: ['process.exit'], fnNames: [], remaining: 100, realm: { intl: false, proxy: false } }));
    await enqueue('rbad000003', JSON.stringify({ v: 1, run: 'rother0003', app: 'aliar00000' }));
    const load = await eventually(async () => {
      const l = await nodeLoad(c, prefix, node.id);
      return l?.refused === 3 ? l : Promise.reject(new Error('not yet'));
    });
    expect(load.active).toBe(0);
    // The node still serves real runs.
    const enclave = await remoteEnclave(prefix);
    expect((await enclave.run('return "still here"')).value).toBe('still here');
    await node.kill();
  });
});
