/**
 * Runtime nodes when someone else can write to the Redis (a shared Redis, a less trusted app): jobs,
 * results and tool replies cross it, and anyone there can read them (the stream, pub/sub) and write
 * their own. With a shared `secret` on the app and its nodes, what was not sent by one of them is
 * dropped: a swapped script never runs with the app's tools, a forged or replayed result never reaches
 * the caller. A real redis-server, an in-process node, the tools as host-side canaries.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Enclave, defineTool } from '@enclave-kit/engine';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisSessionStore, redisRuntime, startRuntimeNode } from '../src/index.js';
import type { RedisRuntimeIsolation, RuntimeNode } from '../src/index.js';
import { startNodeProcess } from './nodes.js';
import { MessageAuth } from '../src/runtime/auth.js';
import { writeFrame } from '../src/runtime/direct.js';
import { gate, sleep, useRedis } from './redis.js';

const redis = useRedis();
const SECRET = 'a shared secret of thirty-two bytes or more';
const MB = 1024 * 1024;

let prefix = '';
const cleanups: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  prefix = redis.prefix();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).toReversed()) await c();
});

async function node(secret: string | undefined, maxPayloadBytes?: number, heartbeatMs = 200): Promise<RuntimeNode> {
  const n = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 1, heartbeatMs, ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }), ...(secret === undefined ? {} : { secret }) });
  cleanups.push(() => n.close(0));
  return n;
}

function enclave(secret: string | undefined, tools: ReturnType<typeof defineTool>[], direct = true): Enclave {
  const e = new Enclave({ adapter: redisRuntime({ redis: redis.client(), prefix, heartbeatMs: 200, queueTimeoutMs: 3000, ...(direct ? {} : { direct: false }), ...(secret === undefined ? {} : { secret }) }), tools });
  cleanups.push(() => e.dispose());
  return e;
}

/** Everything published on the runtime channels of the test's prefix: `[channel, text]`. */
async function wiretap(): Promise<[string, string][]> {
  const seen: [string, string][] = [];
  const sub = redis.client();
  sub.on('pmessage', (_p: string, channel: string, text: string) => void seen.push([channel, text]));
  await sub.psubscribe(`${prefix}rt:to:*`);
  cleanups.push(() => void sub.disconnect());
  return seen;
}

/**
 * What anyone who can write to the Redis can do to a queued run: take its stream entry (run id, app,
 * token and all) and queue it again with `amount: 5` in its script turned into `amount: 500`.
 */
async function swapQueuedScript(): Promise<void> {
  const c = redis.client();
  const jobs = `${prefix}{rt}:jobs`;
  let entries: [string, string[]][] = [];
  await expect.poll(async () => (entries = (await c.xrange(jobs, '-', '+')) as [string, string[]][]).length, { timeout: 5000 }).toBe(1);
  const [id, fields] = entries[0] as [string, string[]];
  const isJob = (i: number) => fields[i - 1] === 'j';
  expect(fields.some((f, i) => isJob(i) && f.includes('amount: 5'))).toBe(true);
  await c.xdel(jobs, id);
  await c.xadd(jobs, '*', ...fields.map((f, i) => (isJob(i) ? f.replace('amount: 5', 'amount: 500') : f)));
}

const refundTool = (refunds: number[]) => defineTool({ name: 'refund', handler: ({ amount }: { amount: number }) => (refunds.push(amount), amount) });

/** An app listening for direct connections, its isolation, with `wait` a tool that blocks and `direct` one that says whether its run is on a connection. */
async function directApp(secret: string | undefined, more: ReturnType<typeof defineTool>[] = [], heartbeatMs = 200) {
  const wait = gate();
  let iso: RedisRuntimeIsolation | undefined;
  const adapter = redisRuntime({ redis: redis.client(), prefix, heartbeatMs, queueTimeoutMs: 3000, ...(secret === undefined ? {} : { secret }) });
  const tools = [...more, defineTool({ name: 'wait', handler: wait.tool }), defineTool({ name: 'direct', handler: () => iso?.stats().direct })];
  const e = new Enclave({ adapter: { ...adapter, createIsolation: (context) => (iso = adapter.createIsolation(context) as RedisRuntimeIsolation) }, tools });
  cleanups.push(() => e.dispose());
  await e.ready();
  return { e, wait, iso: iso as RedisRuntimeIsolation };
}

/** Whether the app's runs reach a direct connection: an app's first run on a node goes over pub/sub (the node connects meanwhile), a later one directly. */
async function goesDirect(e: Enclave): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    const r = await e.run("return await callTool('direct', {})");
    if (r.success && r.value === 1) return true;
    await sleep(20);
  }
  return false;
}

/** An app and a node whose runs talk over a direct connection. */
async function directPair(secret: string | undefined, more: ReturnType<typeof defineTool>[] = [], maxPayloadBytes?: number, heartbeatMs = 200) {
  const app = await directApp(secret, more, heartbeatMs);
  const n = await node(secret, maxPayloadBytes, heartbeatMs);
  expect(await goesDirect(app.e)).toBe(true);
  return { ...app, node: n };
}

describe('a job swapped in the queue', () => {
  /** Queues refund(5), swaps its stream entry for one whose script refunds 500, then lets a node take it. */
  async function swapped(secret: string | undefined) {
    const refunds: number[] = [];
    const e = enclave(secret, [refundTool(refunds)]);
    await e.ready();
    const result = e.run("return await callTool('refund', { amount: 5 })");
    await swapQueuedScript();
    const n = await node(secret);
    return { refunds, result: await result, node: n };
  }

  it('without a secret: the node runs the swapped script, with the app’s tools (the shape of the break)', async () => {
    const { refunds } = await swapped(undefined);
    expect(refunds).toEqual([500]);
  });

  it('with a secret: the swapped job is dropped unread and counted; the tool never runs', async () => {
    const { refunds, result, node: n } = await swapped(SECRET);
    expect(refunds).toEqual([]);
    expect(result).toMatchObject({ success: false, error: { code: 'RUNTIME_UNAVAILABLE' } });
    expect(n.stats()).toMatchObject({ taken: 0, forged: 1 });
  });

  it('with a secret on both sides, runs work as before, on pub/sub and then over a direct connection; nothing counts as forged', async () => {
    const refunds: number[] = [];
    const { e, node: n, iso } = await directPair(SECRET, [refundTool(refunds)]);
    expect(await e.run("await callTool('refund', { amount: 7 }); return await callTool('direct', {});")).toMatchObject({ success: true, value: 1 });
    expect(refunds.length).toBe(1);
    expect(n.stats().forged).toBe(0);
    expect(iso.stats().forged).toBe(0);
  });
});

describe('a signed job copied under another run’s id', () => {
  it('with a secret: the node takes it for no run and signs no failure for the run the entry names (before: that run ended at once as INTERNAL_ERROR)', async () => {
    const e = enclave(SECRET, []);
    await e.ready();
    const first = e.run('return 1');
    const second = e.run('return 2');
    const c = redis.client();
    const jobs = `${prefix}{rt}:jobs`;
    let entries: [string, string[]][] = [];
    await expect.poll(async () => (entries = (await c.xrange(jobs, '-', '+')) as [string, string[]][]).length, { timeout: 5000 }).toBe(2);
    const [[, one], [id, two]] = entries as [[string, string[]], [string, string[]]];
    // A Redis writer without the secret: run 2's entry names run 2, and carries run 1's job, as its app signed it.
    await c.xdel(jobs, id);
    await c.xadd(jobs, '*', 'r', two[1] as string, 'a', two[3] as string, 'j', one[5] as string);
    const n = await node(SECRET);
    expect(await first).toMatchObject({ success: true, value: 1 });
    // Its own entry deleted, run 2 ends as any withdrawn run does: no node took it.
    expect(await second).toMatchObject({ success: false, error: { code: 'RUNTIME_UNAVAILABLE' } });
    expect(n.stats()).toMatchObject({ refused: 1, forged: 0 });
  });
});

describe('a result or a tool reply forged on pub/sub', () => {
  /**
   * Run 1 ends with `forged` (its messages are recorded); run 2 waits in a tool while the wiretap
   * replays run 1's `which` message under run 2's id. The caller of run 2 must get `real`.
   */
  async function replayed(secret: string | undefined, which: 'result' | 'reply') {
    const seen = await wiretap();
    const wait = gate();
    const e = enclave(secret, [defineTool({ name: 'echo', handler: ({ v }: { v: string }) => v }), defineTool({ name: 'wait', handler: wait.tool })], false);
    const n = await node(secret);
    expect(await e.run("return await callTool('echo', { v: 'forged' })")).toMatchObject({ success: true, value: 'forged' });
    const runOf = (text: string) => /"(r[0-9a-f]{32})"/.exec(text)?.[1] as string;
    // Run 1's end (node -> app) or its tool reply (app -> node): the last message of that kind on the wire.
    const old = seen.filter(([, t]) => t.includes(which === 'result' ? '["entry"' : '["reply"')).at(-1) as [string, string];
    const running = e.run("return await callTool('wait', {})");
    await wait.called;
    const accept = seen.filter(([, t]) => t.includes('["accept"')).at(-1) as [string, string];
    const run2 = runOf(accept[1]);
    expect(run2).not.toBe(runOf(old[1]));
    // Under run 2's id, and (when signed) placed after anything run 2 has had: only the MAC can tell.
    await redis.client().publish(old[0], old[1].replaceAll(runOf(old[1]), run2).replace(/^([\w-]{43}\.[\w-]+\.)\d+\./, '$1900719925474.'));
    // Whatever the forgery did, it has had its time: the real reply goes after it.
    await redis.client().ping();
    await new Promise((r) => setTimeout(r, 200));
    wait.release('real');
    return { result: await running, node: n };
  }

  it.each(['result', 'reply'] as const)('without a secret: a replayed %s reaches the caller (the shape of the break)', async (which) => {
    expect((await replayed(undefined, which)).result).toMatchObject({ success: true, value: 'forged' });
  });

  it.each(['result', 'reply'] as const)('with a secret: a replayed %s is dropped; the caller gets the real result', async (which) => {
    const { result, node: n } = await replayed(SECRET, which);
    expect(result).toMatchObject({ success: true, value: 'real' });
    // The node counts what it dropped; the app's count is in its isolation's stats().
    if (which === 'reply') expect(n.stats().forged).toBe(1);
  });
});

describe('a peer that holds the secret', () => {
  it('can sign as any other: it hands another node’s run on pub/sub a tool call of its choosing and silences the real node (the shape of the break: the secret keeps out whoever lacks it, not a holder)', async () => {
    const seen = await wiretap();
    const refunds: number[] = [];
    const wait = gate();
    const e = enclave(SECRET, [refundTool(refunds), defineTool({ name: 'wait', handler: wait.tool })], false);
    const n = await node(SECRET);
    const running = e.run("return await callTool('wait', {})", { timeout: 3000 });
    await wait.called;
    const [channel, accept] = seen.find(([, t]) => t.includes('["accept"')) as [string, string];
    const run = /"(r[0-9a-f]{32})"/.exec(accept)?.[1] as string;
    // Mallory's own node, or a compromised app: the MAC proves the secret, not who holds it. Its seq
    // only has to be later than the real node's.
    const mallory = new MessageAuth(new TextEncoder().encode(SECRET), n.id);
    let wire = '';
    const args = JSON.stringify({ amount: 500 });
    for (let i = 0; i < 1000; i++) wire = mallory.sign('to-app', `${JSON.stringify(['entry', run, [[7, 'refund', args.length]], [], null])}\n${args}`);
    await redis.client().publish(channel, wire);
    await expect.poll(() => refunds).toEqual([500]);
    // And the real node's messages, older in the order Mallory took over, are dropped as replays.
    wait.release('done');
    expect(await running).toMatchObject({ success: false, error: { code: 'TIMEOUT' } });
  });
});

describe('without a secret, what a node reports is still checked against what a realm can say', () => {
  it('a tool call whose name is longer than a script may call never reaches the tool hook: the run ends as INTERNAL_ERROR', async () => {
    const seen = await wiretap();
    const wait = gate();
    const names: number[] = [];
    const e = new Enclave({
      adapter: redisRuntime({ redis: redis.client(), prefix, heartbeatMs: 200, queueTimeoutMs: 3000, direct: false }),
      tools: [defineTool({ name: 'wait', handler: wait.tool })],
      onToolCall: (event) => void names.push(event.tool.length),
    });
    cleanups.push(() => e.dispose());
    await node(undefined);
    const running = e.run("return await callTool('wait', {})");
    await wait.called;
    const [channel, accept] = seen.find(([, t]) => t.includes('["accept"')) as [string, string];
    const run = /"(r[0-9a-f]{32})"/.exec(accept)?.[1] as string;
    await redis.client().publish(channel, `${JSON.stringify(['entry', run, [[2, 'x'.repeat(100_000), 2]], [], null])}\n{}`);
    expect(await running).toMatchObject({ success: false, error: { code: 'INTERNAL_ERROR' } });
    expect(names.every((n) => n <= 256)).toBe(true);
  });
});

describe('enclave-runtime takes the secret from ENCLAVE_RUNTIME_SECRET', () => {
  it('signed runs work; a swapped job is dropped, and a fixed line (no content) says so when it stops', async () => {
    const refunds: number[] = [];
    const e = enclave(SECRET, [refundTool(refunds)]);
    await e.ready();
    // A job whose script was swapped, queued before the node starts.
    const swapped = e.run("return await callTool('refund', { amount: 5 })", { timeout: 10_000 });
    await swapQueuedScript();
    const n = await startNodeProcess(redis.server.url, prefix, [], { ENCLAVE_RUNTIME_SECRET: SECRET });
    expect(await swapped).toMatchObject({ success: false, error: { code: 'RUNTIME_UNAVAILABLE' } });
    expect(await e.run("return await callTool('refund', { amount: 7 })")).toMatchObject({ success: true, value: 7 });
    expect(refunds).toEqual([7]);
    expect(await n.kill('SIGTERM')).toBe(0);
    expect(n.output()).toContain('enclave-runtime: dropped 1 run(s) or message(s) not signed with ENCLAVE_RUNTIME_SECRET, or replayed');
    expect(n.output()).not.toContain('500');
  });

  it('a secret that is too short: the command exits 2 and says why', async () => {
    await expect(startNodeProcess(redis.server.url, prefix, [], { ENCLAVE_RUNTIME_SECRET: 'short' })).rejects.toThrow(/exited \(2\)[\s\S]*secret must be a secret of at least 32 bytes/);
  });
});

describe('options', () => {
  it('a secret shorter than 32 bytes is refused at construction, by the app and by the node', async () => {
    expect(() => redisRuntime({ redis: redis.client(), secret: 'short' })).toThrow(/secret must be a secret of at least 32 bytes/);
    await expect(startRuntimeNode({ redis: redis.client(), secret: 'short' })).rejects.toThrow(/secret must be a secret of at least 32 bytes/);
  });
});

/**
 * Messages of many megabytes on every channel the package subscribes to: what anyone who can PUBLISH on
 * the Redis can send, secret or not. Redis itself cuts a subscriber whose pending output passes its
 * pub/sub limit (`client-output-buffer-limit pubsub`, 32 MB hard by default), so a message that large
 * closes the reader's pub/sub connection whatever the reader does with it. What must hold: a message
 * over the reader's cap is dropped before it is decoded, parsed or verified (and counted); no run that
 * talks over a direct connection ends because of it; sessions read on and hear a real cancel afterwards.
 */
/**
 * Redis copying tens of megabytes stalls everyone on a loaded machine for a moment: presence renewed
 * every 200 ms (gone after 600) could lapse then, and the run end as RUNTIME_LOST for that reason alone.
 * At 1 s (gone after 3) it still did, on a machine whose two cores ran six busy processes besides (the
 * app's heartbeat found the node's presence gone): 2 s here.
 */
const HUGE_HEARTBEAT_MS = 2000;

/**
 * This file's redis-server cuts a subscriber at 16 MB of pending output, not at its default 32 MB: the
 * limit is the deployment's to set, and what these tests need of it is a message over it (Redis closes
 * the reader's pub/sub connection) next to one under it but over the readers' caps (8 MB). Over the
 * limit, 24 MB does what 40 did: copying it costs Redis, the publisher and the readers' sockets less
 * than two thirds as much (the 40 MB tests were most of this file's time).
 */
const OVER_REDIS_MB = 24;
beforeAll(async () => {
  await redis.client().config('SET', 'client-output-buffer-limit', 'pubsub 16mb 8mb 60');
});

describe.each([undefined, SECRET])('runtime channels (secret: %s)', (secret) => {
  it.each([8, OVER_REDIS_MB])('%i MB on the app’s channel: the run over a direct connection goes on and ends as it would', async (mb) => {
    const { e, wait, iso } = await directPair(secret, [], undefined, HUGE_HEARTBEAT_MS);
    const running = e.run("const v = await callTool('wait', {}); return v + 1;", { timeout: 10_000 });
    await wait.called;
    expect(iso.stats().direct).toBe(1);
    const receivers = await redis.client().publish(`${prefix}rt:to:${iso.id}`, `["entry","r${'0'.repeat(32)}",[],[],null]`.padEnd(mb * MB, ' '));
    expect(receivers).toBe(1);
    await sleep(300);
    wait.release(41);
    const r = await running;
    expect(r, JSON.stringify(r.error)).toMatchObject({ success: true, value: 42 });
  });

  // The node reads messages of 1 MiB here: 8 MB is over its cap, dropped undecoded and counted.
  it.each([8, OVER_REDIS_MB])('%i MB on the node’s channel: the run over a direct connection goes on and ends as it would', async (mb) => {
    const { e, node: n, wait } = await directPair(secret, [], MB, HUGE_HEARTBEAT_MS);
    const running = e.run("const v = await callTool('wait', {}); return v + 1;", { timeout: 10_000 });
    await wait.called;
    const receivers = await redis.client().publish(`${prefix}rt:to:${n.id}`, `["cancel","r${'0'.repeat(32)}"]`.padEnd(mb * MB, ' '));
    expect(receivers).toBe(1);
    await sleep(300);
    wait.release(41);
    const r = await running;
    expect(r, JSON.stringify(r.error)).toMatchObject({ success: true, value: 42 });
    // Under Redis's limit the node drops the message by its own cap and counts it; over it, Redis cuts
    // the node's pub/sub connection before the message reaches it.
    expect(n.stats().forged).toBe(mb === 8 ? 1 : 0);
  });
});

describe('session channels', () => {
  it.each([8, OVER_REDIS_MB])('%i MB on a session’s events and cancel channels: readers hear the next event, the run hears the real cancel', async (mb) => {
    const store = new RedisSessionStore(redis.client(), { prefix });
    cleanups.push(() => store.dispose());
    const id = 'ses_huge0000000000000000000001';
    expect(await store.create({ sessionId: id, owner: 'alice', createdAt: Date.now() })).toBe(true);
    let heard = 0;
    let cancelled = 0;
    cleanups.push(store.subscribe(id, () => void heard++));
    cleanups.push(store.onCancel(id, () => void cancelled++));
    await sleep(200);
    const pub = redis.client();
    await pub.publish(`${prefix}session:${id}:events`, 'e'.repeat(mb * MB));
    await pub.publish(`${prefix}session:${id}:cancel`, 'c'.repeat(mb * MB));
    await sleep(500);
    expect(cancelled).toBe(0);
    const before = heard;
    await store.append(id, [{ sessionId: id, seq: 1, type: 'log', time: Date.now(), payload: { level: 'log', message: 'x', time: 0 } }]);
    await expect.poll(() => heard, { timeout: 5000 }).toBeGreaterThan(before);
    expect(await store.requestCancel(id)).toBe(true);
    await expect.poll(() => cancelled, { timeout: 5000 }).toBe(1);
  });
});

/**
 * An app's direct port takes a hello from whoever knows the app's id (Redis tells it), and with a secret
 * a hello that was signed (seen on the network once). Neither may fill the app's 256 connections so that
 * a real node cannot connect.
 */
describe('hellos sent again, made up, or stale on an app’s direct port', () => {
  /** Connects to `reach`, sends `text` as one frame; 'welcome' if the app answers, 'closed' if it hangs up. Keeps the socket open. */
  function sayHello(reach: string, text: string): Promise<'welcome' | 'closed'> {
    const [host, port] = [reach.slice(0, reach.lastIndexOf(':')), Number(reach.slice(reach.lastIndexOf(':') + 1))];
    const socket = connect({ host, port });
    cleanups.push(() => void socket.destroy());
    return new Promise((resolve) => {
      socket.once('connect', () => writeFrame(socket, text, 1024));
      socket.once('data', () => resolve('welcome'));
      socket.once('close', () => resolve('closed'));
      socket.on('error', () => {});
    });
  }
  const fakeNode = () => `n${randomUUID().replaceAll('-', '')}`;

  it('with a secret: one signed hello sent 300 times holds one connection; a real node still connects', async () => {
    const { e, iso } = await directApp(SECRET);
    const id = fakeNode();
    const captured = new MessageAuth(new TextEncoder().encode(SECRET), id).sign('hello', JSON.stringify(['hello', id, iso.id, Date.now()]));
    const answers = await Promise.all(Array.from({ length: 300 }, () => sayHello(iso.stats().reach as string, captured)));
    expect(answers.filter((a) => a === 'welcome').length).toBe(1);
    await node(SECRET);
    expect(await goesDirect(e)).toBe(true);
  });

  it('with a secret: a signed hello whose time is a minute old is refused', async () => {
    const { iso } = await directApp(SECRET);
    const id = fakeNode();
    const stale = new MessageAuth(new TextEncoder().encode(SECRET), id).sign('hello', JSON.stringify(['hello', id, iso.id, Date.now() - 60_000]));
    expect(await sayHello(iso.stats().reach as string, stale)).toBe('closed');
  });

  it('without a secret: 300 hellos under made-up node ids hold only idle connections; a real node takes one back', async () => {
    const { e, iso } = await directApp(undefined);
    const answers = await Promise.all(Array.from({ length: 300 }, () => sayHello(iso.stats().reach as string, JSON.stringify(['hello', fakeNode(), iso.id, Date.now()]))));
    expect(answers.filter((a) => a === 'welcome').length).toBeGreaterThanOrEqual(256);
    await node(undefined);
    expect(await goesDirect(e)).toBe(true);
  });
});
