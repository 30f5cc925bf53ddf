/**
 * DESIGN.md section 4's runtime nodes as a peer team's black-box suite reads them, on a real
 * redis-server: the app checks, rewrites and scores; the node holds no tools, secrets or user identity
 * (what it is handed through Redis says none of them); every callTool returns to the app instance that
 * owns the run, with two instances sharing one node; a caller's abort right after run() queues nothing.
 * One node in this process (two workers) for the whole file.
 */
import { Enclave } from '@enclave-kit/engine';
import type { ExecutionResult } from '@enclave-kit/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRuntime, startRuntimeNode } from '../src/index.js';
import type { RuntimeNode } from '../src/index.js';
import { useEnclaves, useRedis } from './redis.js';

const redis = useRedis();
const enclaves = useEnclaves();
const codeOf = (r: ExecutionResult) => (r.success ? 'OK' : r.error.code);

/** An app instance: an Enclave on runtime nodes, ready for their messages. */
async function app(prefix: string, tools: Record<string, (args: any) => Promise<unknown>>, runtime: { direct?: false; queueTimeoutMs?: number } = {}): Promise<Enclave> {
  const enclave = new Enclave({ adapter: redisRuntime({ redis: redis.client(), prefix, heartbeatMs: 200, ...runtime }), tools });
  enclaves.push(enclave);
  await enclave.ready();
  return enclave;
}

describe('runtime nodes: the app keeps the tools, the node only executes', () => {
  const prefix = redis.prefix();
  let node: RuntimeNode;
  beforeAll(async () => {
    node = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 2, heartbeatMs: 200 });
  });
  afterAll(() => node?.close());

  it('two app instances on one node: every tool call of a run is answered by the instance that owns it', async () => {
    // Host-side canaries: which runs each instance's tool was called for.
    const seen: Record<'A' | 'B', number[]> = { A: [], B: [] };
    const tools = (name: 'A' | 'B') => ({ 'who:am': async ({ run }: { run: number }) => (seen[name].push(run), name) });
    // One talks to the node over a direct connection, the other over pub/sub only.
    const apps = { A: await app(prefix, tools('A')), B: await app(prefix, tools('B'), { direct: false }) };
    const code = 'const who = []; for (let k = 0; k < 3; k++) who.push(await callTool("who:am", { run: input.run })); return who;';
    const runs = Array.from({ length: 16 }, (_, run) => {
      const owner = run % 2 === 0 ? 'A' : 'B';
      return apps[owner].run(code, { input: { run } }).then((r) => ({ owner, run, r }));
    });
    for (const { owner, r } of await Promise.all(runs)) expect(r).toMatchObject({ success: true, value: [owner, owner, owner] });
    expect(seen.A.sort((a, b) => a - b)).toEqual([0, 0, 0, 2, 2, 2, 4, 4, 4, 6, 6, 6, 8, 8, 8, 10, 10, 10, 12, 12, 12, 14, 14, 14]);
    expect(seen.B.sort((a, b) => a - b)).toEqual([1, 1, 1, 3, 3, 3, 5, 5, 5, 7, 7, 7, 9, 9, 9, 11, 11, 11, 13, 13, 13, 15, 15, 15]);
    expect(node.stats().taken).toBeGreaterThanOrEqual(16);
  });

  it('a caller’s abort right after run() ends the run as ABORTED; no node takes it, no tool runs', async () => {
    let called = 0;
    const enclave = await app(prefix, { mark: async () => ++called });
    const taken = node.stats().taken;
    const controller = new AbortController();
    const pending = enclave.run('await callTool("mark"); return 1', { signal: controller.signal });
    controller.abort();
    expect(codeOf(await pending)).toBe('ABORTED');
    // The next run goes through the node: had the aborted one been queued, the node would have taken it first.
    expect((await enclave.run('return 2')).value).toBe(2);
    expect([called, node.stats().taken]).toEqual([0, taken + 1]);
  });
});

describe('what a node is handed through Redis', () => {
  it('the rewritten script, its input and globals: not the tools’ code, their secrets, the run’s context or the user', async () => {
    const prefix = redis.prefix();
    const SECRET = 'sk-live-canary-7f3a';
    // No node on this prefix: the run waits in the queue, where a node would read it, until it is withdrawn.
    const enclave = await app(prefix, { 'crm:lookup': async () => SECRET }, { queueTimeoutMs: 1_000 });
    const pending = enclave.run('return await callTool("crm:lookup", { id: input.id })', {
      input: { id: 7 },
      context: { userId: 'user-canary-alice', token: 'bearer-canary' },
      tools: { 'user:scoped': async () => `${SECRET}-scoped` },
    });
    const client = redis.client();
    let queued = '';
    await expect
      .poll(async () => {
        const entries = await client.xrange(`${prefix}{rt}:jobs`, '-', '+');
        const keys = await client.keys(`${prefix}{rt}:job:*`);
        queued = JSON.stringify(entries) + (keys.length > 0 ? JSON.stringify(await client.mget(keys)) : '');
        return entries.length;
      })
      .toBe(1);
    expect(queued).toContain('crm:lookup'); // the script itself, which names the tool
    for (const absent of [SECRET, 'user-canary-alice', 'bearer-canary', 'user:scoped']) expect(queued).not.toContain(absent);
    expect(codeOf(await pending)).toBe('RUNTIME_UNAVAILABLE');
  });
});
