/**
 * Direct connections between app instances and runtime nodes, and small runs inside their stream
 * entry, tried with real processes and real sockets: a real redis-server, `enclave-runtime` processes
 * (the built command) or nodes started in this process, apps in this process and in a child process.
 * What must hold: an app's runs go direct once its node has connected, and use pub/sub whenever that
 * is not possible, with the same results; a peer on either end of a connection that lies (says nothing,
 * claims huge frames, names someone else, sends garbage or messages about runs it does not own) is cut
 * off or ignored, and real runs complete with their own values; a node or an app killed mid-run is
 * noticed through the connection; a hand-made stream entry is refused, never run. No timing is
 * asserted beyond bounded waits: durations are printed.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Enclave } from '@enclave-kit/engine';
import type { CreateEnclaveOptions } from '@enclave-kit/engine';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRuntime, startRuntimeNode } from '../src/index.js';
import type { RedisRuntimeIsolation, RedisRuntimeOptions } from '../src/index.js';
import { killAppMidRun, nodeLoad, startNodeProcess } from './nodes.js';
import type { NodeProcess } from './nodes.js';
import { eventually, gate, sleep, useEnclaves, useRedis, useTimings } from './redis.js';

const redis = useRedis();
const timings = useTimings('direct connections');
const enclaves = useEnclaves();
const sockets: Socket[] = [];
const servers: Server[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

// ---- apps -------------------------------------------------------------------------------------------

/**
 * An Enclave on remote nodes of `prefix`, and the isolation it made (for `stats()`). Short heartbeats
 * unless `runtime` says otherwise; direct connections on 127.0.0.1 unless it says otherwise.
 */
async function directApp(prefix: string, runtime: Partial<RedisRuntimeOptions> = {}, options: CreateEnclaveOptions = {}): Promise<{ enclave: Enclave; iso: RedisRuntimeIsolation }> {
  const adapter = redisRuntime({ redis: redis.client(), prefix, heartbeatMs: 200, queueTimeoutMs: 3000, ...runtime });
  let iso: RedisRuntimeIsolation | undefined;
  const enclave = new Enclave({ adapter: { ...adapter, createIsolation: (context) => (iso = adapter.createIsolation(context) as RedisRuntimeIsolation) }, ...options });
  enclaves.push(enclave);
  await enclave.ready();
  if (iso === undefined) throw new Error('the Enclave made no isolation');
  return { enclave, iso };
}

/** A tool that says how many of the app's runs talk over a direct connection right now (its own included). */
const probe = (iso: RedisRuntimeIsolation) => ({ probe: async () => iso.stats().direct });
const PROBE = 'return await callTool("probe", {});';

/**
 * Runs probe runs until one talks over a direct connection (an app's first run on a node never does:
 * the node connects in the background), at most 50; how many it took.
 */
async function untilDirect(enclave: Enclave, iso: RedisRuntimeIsolation): Promise<number> {
  for (let i = 1; i <= 50; i++) {
    const r = await enclave.run(PROBE, { tools: probe(iso) });
    if (!r.success) throw new Error(`a probe run failed: ${r.error.code} ${r.error.message}`);
    if (r.value === 1) return i;
    await sleep(20);
  }
  throw new Error('no run went over a direct connection in 50 runs');
}

const GATED = 'const v = await callTool("wait", {}); return { v };';

/**
 * A run of GATED waiting in its tool, on pub/sub or (after warm-up runs) over a direct connection, with
 * the job it was queued as.
 */
async function gatedRunOn(kind: 'pub/sub' | 'direct', enclave: Enclave, iso: RedisRuntimeIsolation, prefix: string) {
  if (kind === 'direct') await untilDirect(enclave, iso);
  const spy = await nextJob(prefix);
  const g = gate();
  const result = enclave.run(GATED, { tools: { wait: g.tool }, timeout: 15_000 });
  const job = await spy.job;
  await g.called;
  expect(iso.stats().direct).toBe(kind === 'direct' ? 1 : 0);
  return { g, result, job };
}

/** `p`, or a rejection saying `what` did not happen within `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// ---- jobs as they wait in the stream ------------------------------------------------------------------

/** A RemoteJob as it travels in a stream entry (see protocol.ts). */
type Job = Record<string, unknown> & { run: string; app: string; token: string };

const newRun = () => `r${randomUUID().replaceAll('-', '')}`;
const newApp = () => `a${randomUUID().replaceAll('-', '')}`;

/**
 * The next job queued on `prefix`, read as it is queued: a second reader of the stream, blocked before
 * the run starts (the node deletes the entry as soon as it reads it).
 */
async function nextJob(prefix: string): Promise<{ job: Promise<Job> }> {
  const spy = redis.client();
  const name = `spy${randomUUID().slice(0, 8)}`;
  await spy.call('CLIENT', 'SETNAME', name);
  const read = spy.call('XREAD', 'BLOCK', '20000', 'STREAMS', `${prefix}{rt}:jobs`, '$');
  const control = redis.client();
  await eventually(async () => {
    const clients = String(await control.call('CLIENT', 'LIST')).split('\n');
    if (!clients.some((line) => line.includes(` name=${name} `) && line.includes(' flags=b '))) throw new Error('the spy is not blocked yet');
  });
  const job = read.then((reply) => {
    const fields = (reply as [string, [string, string[]][]][] | null)?.[0]?.[1][0]?.[1];
    if (fields?.[4] !== 'j') throw new Error(`not an inline job: ${JSON.stringify(fields)?.slice(0, 200)}`);
    return JSON.parse(fields[5] as string) as Job;
  });
  return { job };
}

/** A job exactly as a real app writes it for `code`, to make hand-made jobs from. */
async function templateJob(code: string, options: CreateEnclaveOptions = {}): Promise<Job> {
  const prefix = redis.prefix();
  const enclave = new Enclave({ adapter: redisRuntime({ redis: redis.client(), prefix, direct: false }), ...options });
  await enclave.ready();
  const spy = await nextJob(prefix);
  void enclave.run(code);
  const job = await spy.job;
  enclave.dispose();
  return job;
}

/** A hand-made job of app `app`, from `template`: a run id and a token of its own, 5 s to run, no reach. */
/** Whether a frame is an entry that ends its run (its value follows the newline, after any call's arguments). */
function ended(text: string): boolean {
  return (JSON.parse(text.split('\n')[0] as string) as unknown[])[4] !== null;
}

function handJob(template: Job, app: string, fields: Record<string, unknown> = {}): Job {
  const { reach: _reach, ...rest } = template;
  return { ...rest, run: newRun(), app, token: `t${randomUUID().replaceAll('-', '')}`, remaining: 5000, ...fields };
}

/** Queues `job` in its entry, as an app does, with `text` as the entry's `j` (the job's JSON unless given). */
async function enqueueInline(c: Redis, prefix: string, job: { run: string; app: string }, text = JSON.stringify(job)): Promise<void> {
  await c.call('XADD', `${prefix}{rt}:jobs`, 'MAXLEN', '~', '10000', '*', 'r', job.run, 'a', job.app, 'j', text);
}

/** What this test hears on the pub/sub channel of `peer` (an app or a node), parsed; kept in order. */
async function hear(prefix: string, peer: string): Promise<unknown[][]> {
  const sub = redis.client();
  const heard: unknown[][] = [];
  sub.on('message', (_channel: string, text: string) => heard.push(JSON.parse(text.split('\n')[0] as string) as unknown[]));
  await sub.subscribe(`${prefix}rt:to:${peer}`);
  return heard;
}

async function heardOne(heard: unknown[][], match: (m: unknown[]) => boolean, what: string, ms = 5000): Promise<unknown[]> {
  return eventually(async () => heard.find(match) ?? Promise.reject(new Error(`not heard: ${what}; heard ${JSON.stringify(heard).slice(0, 300)}`)), ms);
}

/** A node process that is still running and has printed nothing but its ready line. */
function expectHealthy(node: NodeProcess): void {
  expect(node.child.exitCode).toBeNull();
  expect(node.child.signalCode).toBeNull();
  expect(node.output()).not.toMatch(/error|uncaught|exception|unhandled/i);
}

// ---- frames on a direct connection ----------------------------------------------------------------------

/** One frame: the UTF-8 length of the text in 4 bytes, big-endian, then the text (or raw bytes). */
function frame(body: string | Buffer | unknown[]): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return Buffer.concat([header(bytes.length), bytes]);
}
/** A frame header alone, claiming `length` bytes. */
function header(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length, 0);
  return b;
}

/** A socket of this test's: the frames it received, and whether the other side closed it. */
class Peer {
  readonly frames: string[] = [];
  closed = false;
  readonly #closed: Promise<void>;
  #buffer = Buffer.alloc(0);

  constructor(readonly socket: Socket) {
    sockets.push(socket);
    socket.on('error', () => {});
    this.#closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 4) {
        const length = this.#buffer.readUInt32BE(0);
        if (this.#buffer.length < 4 + length) break;
        this.frames.push(this.#buffer.subarray(4, 4 + length).toString('utf8'));
        this.#buffer = this.#buffer.subarray(4 + length);
      }
    });
  }

  /** The received frames as messages (the JSON before a frame's first newline). */
  get messages(): unknown[][] {
    return this.frames.map((f) => JSON.parse(f.split('\n')[0] as string) as unknown[]);
  }

  write(...parts: (Buffer | unknown[])[]): void {
    for (const part of parts) this.socket.write(Buffer.isBuffer(part) ? part : frame(part));
  }

  next(match: (m: unknown[]) => boolean, what: string, ms = 5000): Promise<unknown[]> {
    return eventually(async () => this.messages.find(match) ?? Promise.reject(new Error(`not received: ${what}; received ${JSON.stringify(this.frames).slice(0, 300)}`)), ms);
  }

  /** Resolves once the other side has closed the connection; `ms` bounds the wait. */
  closedBy(what: string, ms = 8000): Promise<void> {
    return within(this.#closed, ms, `${what}: the close of the connection`);
  }
}

async function connectTo(reach: string): Promise<Peer> {
  const colon = reach.lastIndexOf(':');
  const socket = connect({ host: reach.slice(0, colon), port: Number(reach.slice(colon + 1)) });
  const peer = new Peer(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return peer;
}

/** A listener of this test's, playing an app: `onPeer` gets each connection a node opens. */
async function fakeApp(onPeer: (peer: Peer) => void): Promise<{ reach: string; peers: Peer[] }> {
  const peers: Peer[] = [];
  const server = createServer((socket) => {
    const peer = new Peer(socket);
    peers.push(peer);
    onPeer(peer);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('no address');
  return { reach: `127.0.0.1:${address.port}`, peers };
}

// ---- the tests ----------------------------------------------------------------------------------------------

describe('runs go over a direct connection once their node has connected, and over pub/sub otherwise', () => {
  it('an app’s first run on a node uses pub/sub, its later runs talk over a direct connection, and the results are the same', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const { enclave, iso } = await directApp(prefix);
    expect(iso.stats().reach).toMatch(/^127\.0\.0\.1:\d+$/);
    const tools = { 'math:add': async ({ a, b }: { a: number; b: number }) => a + b };
    const code = 'const x = await callTool("math:add", { a: 1, b: 2 });\nconsole.log("x is", x);\nreturn { x, squares: [1, 2, 3].map((v) => v * x) };';

    const first = gate();
    const p = enclave.run(GATED, { tools: { wait: first.tool } });
    await first.called;
    expect(iso.stats()).toMatchObject({ queued: 0, running: 1, direct: 0 });
    first.release('first');
    expect((await p).value).toEqual({ v: 'first' });

    const runs = await untilDirect(enclave, iso);
    timings.push(`the app’s runs went direct from run ${runs + 1} on (1: pub/sub while the node connects)`);
    for (let i = 0; i < 3; i++) {
      const r = await enclave.run(code, { tools });
      expect(r).toMatchObject({ success: true, value: { x: 3, squares: [3, 6, 9] }, stats: { toolCallCount: 1 } });
      expect(r.logs?.map((l) => [l.level, l.message])).toEqual([['log', 'x is 3']]);
    }
    const later = gate();
    const q = enclave.run(GATED, { tools: { wait: later.tool } });
    await later.called;
    expect(iso.stats()).toMatchObject({ queued: 0, running: 1, direct: 1 });
    later.release('later');
    expect((await q).value).toEqual({ v: 'later' });
    expect(iso.stats()).toMatchObject({ queued: 0, running: 0, direct: 0 });
    // A script error and a tool error cross the connection as they cross pub/sub.
    expect((await enclave.run('throw new Error("boom")')).error).toMatchObject({ code: 'RUNTIME_ERROR', message: 'boom' });
    expect((await enclave.run('return await callTool("nope", {});', { tools })).error?.code).toBe('TOOL_ERROR');
    expectHealthy(node);
    await node.kill();
  });

  it('direct: false: the app does not listen, names no reach, and its runs succeed over pub/sub', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const { enclave, iso } = await directApp(prefix, { direct: false });
    expect(iso.stats().reach).toBeUndefined();
    const spy = await nextJob(prefix);
    const firstRun = enclave.run(PROBE, { tools: probe(iso) });
    expect((await spy.job).reach).toBeUndefined();
    expect((await firstRun).value).toBe(0);
    for (let i = 0; i < 5; i++) {
      const r = await enclave.run(PROBE, { tools: probe(iso) });
      expect(r).toMatchObject({ success: true, value: 0 });
    }
    await node.kill();
  });

  it('an advertised address the node cannot reach: every run still succeeds, over pub/sub', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    // The app listens on 127.0.0.1 and tells the nodes 127.0.0.2, where nothing listens on that port.
    const { enclave, iso } = await directApp(prefix, { direct: { host: '127.0.0.1', advertise: '127.0.0.2' } });
    const reach = iso.stats().reach as string;
    expect(reach).toMatch(/^127\.0\.0\.2:\d+$/);
    await expect(connectTo(reach)).rejects.toThrow(/ECONNREFUSED/);
    await expect(connectTo(reach.replace('127.0.0.2', '127.0.0.1'))).resolves.toBeDefined();
    for (let i = 0; i < 8; i++) {
      const r = await enclave.run(PROBE, { tools: probe(iso) });
      expect(r).toMatchObject({ success: true, value: 0 });
    }
    const g = gate();
    const p = enclave.run(GATED, { tools: { wait: g.tool } });
    await g.called;
    expect(iso.stats()).toMatchObject({ running: 1, direct: 0 });
    g.release(7);
    expect((await p).value).toEqual({ v: 7 });
    expectHealthy(node);
    await node.kill();
  });

  it('SIGTERM: a node finishes a run that talks over a direct connection, then exits 0', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const { enclave, iso } = await directApp(prefix);
    await untilDirect(enclave, iso);
    const g = gate();
    const p = enclave.run(GATED, { tools: { wait: g.tool } });
    await g.called;
    expect(iso.stats().direct).toBe(1);
    const exit = node.kill('SIGTERM');
    await sleep(100);
    g.release('done');
    expect((await p).value).toEqual({ v: 'done' });
    expect(await exit).toBe(0);
  });
});

describe('a hostile peer on the app’s listener', () => {
  const prefix = redis.prefix();
  let node: NodeProcess;
  let enclave: Enclave;
  let iso: RedisRuntimeIsolation;
  beforeAll(async () => {
    node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '2']);
    ({ enclave, iso } = await directApp(prefix));
    await untilDirect(enclave, iso);
  }, 30_000);

  /** A run in flight on the real node over its direct connection, waiting on a tool; its job as queued. */
  async function directRunInFlight() {
    const spy = await nextJob(prefix);
    const g = gate();
    const result = enclave.run(GATED, { tools: { wait: g.tool }, timeout: 15_000 });
    const job = await spy.job;
    await g.called;
    expect(iso.stats()).toMatchObject({ running: 1, direct: 1 });
    return { g, result, job };
  }

  it('a connection that says nothing, claims a 100 MB frame, or says a wrong hello is closed; the run in flight completes', async () => {
    const { g, result } = await directRunInFlight();
    const reach = iso.stats().reach as string;
    const openedAt = performance.now();
    const silent = await connectTo(reach);
    const huge = await connectTo(reach);
    huge.write(header(100 * 1024 * 1024), Buffer.from('xxxx'));
    const hostile: [string, Buffer][] = [
      ['a hello naming another app', frame(['hello', 'nhostile001', newApp()])],
      ['a hello whose node is not an id', frame(['hello', 'n!', iso.id])],
      ['a hello with no node', frame(['hello'])],
      ['a first frame that is not JSON', frame('hello')],
      ['a first frame that is not a hello', frame(['accept', newRun(), 'nhostile001', 'tok00000000'])],
      ['a first frame over 1024 bytes', frame(['hello', 'nhostile001', iso.id, 'x'.repeat(2000)])],
      ['a first frame of invalid UTF-8', frame(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]))],
    ];
    const peers = await Promise.all(hostile.map(() => connectTo(reach)));
    hostile.forEach(([, bytes], i) => peers[i]?.write(bytes));
    await huge.closedBy('a 100 MB frame header before the hello');
    for (const [i, [what]] of hostile.entries()) await peers[i]?.closedBy(what);
    // The handshake's deadline (2000 ms) closes a connection that says nothing.
    await silent.closedBy('a connection that says nothing');
    timings.push(`a connection that says nothing: closed by the app after ${Math.round(performance.now() - openedAt)} ms (handshake deadline 2000 ms)`);
    for (const peer of [silent, huge, ...peers]) expect(peer.frames).toEqual([]);
    expect(iso.stats()).toMatchObject({ running: 1, direct: 1 });
    g.release('mine');
    expect((await result).value).toEqual({ v: 'mine' });
    expect(g.calls()).toBe(1);
  });

  it('a connection with a correct hello cannot take over, end, feed or pollute a run in flight, and a frame over the cap is skipped', async () => {
    const { g, result, job } = await directRunInFlight();
    const reach = iso.stats().reach as string;
    // A hello naming the real node (its id is in Redis for all to read) does not take the connection its run is on.
    const impostor = await connectTo(reach);
    impostor.write(['hello', node.id, iso.id]);
    await impostor.closedBy('a hello naming the node whose connection carries a run');
    // Two connections naming nodes of their own.
    const peers = [await connectTo(reach), await connectTo(reach)];
    const names = ['nhostile001', 'nhostile002'];
    for (const [i, peer] of peers.entries()) {
      peer.write(['hello', names[i], iso.id]);
      await peer.next((m) => m[0] === 'welcome', 'the welcome');
      expect(peer.messages[0]).toEqual(['welcome', iso.id]);
    }
    const run = job.run;
    // An end with a value after the newline, as a node reports a result.
    const evilEnd = frame(`${JSON.stringify(['entry', run, [], [], { kind: 'report', report: '{"kind":"ok"}' }])}\n"evil"`);
    for (const [i, peer] of peers.entries()) {
      const me = names[i] as string;
      peer.write(
        ['accept', run, me, 'twrongtoken0000'],
        ['accept', run, me, job.token.replace(/.$/, (c) => (c === '0' ? '1' : '0'))],
        ['accept', run, 'nsomeoneelse01', 'twrongtoken0000'],
        ['entry', run, [[1, 'wait', '{}'], [2, 'wait', '{}']], [], null],
        ['entry', run, [], [['log', 'injected']], null],
        evilEnd,
        ['entry', run, [], [], { kind: 'exploded' }],
        ['failed', run, 'RUNTIME_ERROR'],
        ['failed', run, 'SHUTDOWN'],
        ['failed', run, '__proto__'],
        ['hello', me, iso.id],
        ['welcome', iso.id],
        frame('{"__proto__":{"polluted":1}}'),
        frame('["accept",{"__proto__":{"polluted":1}},"nhostile001"]'),
        frame(`["entry","${run}",[],[],{"kind":"report","report":"{\\"__proto__\\":{\\"polluted\\":1}}"}]\n{"__proto__":{"polluted":1}}`),
        frame('not json'),
        frame(''),
        frame('[]'),
        frame(Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])),
        frame(`["entry","${run}",[],[],null]`.replace('entry', 'entr\u00ff')),
      );
      // One frame a byte at a time, then several in one write: framing holds either way.
      for (const byte of frame(['failed', run, 'INTERNAL_ERROR'])) peer.socket.write(Buffer.from([byte]));
      peer.socket.write(Buffer.concat([frame(['failed', run, 'RUNTIME_ERROR']), frame(['cancel', run]), frame(['reply', run, 1, 1, '"evil"'])]));
      // The app answers an acceptance of a run it does not know with a cancel: once heard, everything before it was read.
      const barrier = newRun();
      peer.write(['accept', barrier, me, 'ttoken0000000']);
      await peer.next((m) => m[0] === 'cancel' && m[1] === barrier, 'the cancel of an unknown run');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(iso.stats()).toMatchObject({ running: 1, direct: 1 });
    expect(g.calls()).toBe(1);
    g.release('mine');
    const r = await result;
    expect(r).toMatchObject({ success: true, value: { v: 'mine' }, stats: { toolCallCount: 1 } });
    expect(r.logs ?? []).toEqual([]);
    // Nothing of the run reached them: no tool reply, no run but the ones they named themselves.
    for (const peer of peers) expect(peer.messages.every((m) => m[0] === 'welcome' || m[0] === 'cancel')).toBe(true);
    // After the hello the cap is the largest message: a frame beyond it is skipped as it comes, never
    // buffered, and the connection stays (as pub/sub drops a message, not a node).
    const [first, second] = peers as [Peer, Peer];
    first.write(header(0xffff_ffff), Buffer.alloc(1024 * 1024, 0x78));
    expect((await enclave.run(PROBE, { tools: probe(iso) })).value).toBe(1);
    expect(first.closed).toBe(false);
    expect(second.closed).toBe(false);
    first.socket.destroy();
    second.socket.destroy();
  });

  it('512 connections that never say hello fill the listener: the app refuses more at once, and runs go on over pub/sub', async () => {
    const { enclave: app, iso: appIso } = await directApp(prefix);
    const reach = appIso.stats().reach as string;
    // Room for 256 welcomed connections and as many in their handshake.
    const silent = await Promise.all(Array.from({ length: 512 }, () => connectTo(reach)));
    // Each was accepted: the app closes them at the handshake's deadline, not before.
    const extra = await connectTo(reach);
    await extra.closedBy('a connection beyond 512');
    expect(silent.filter((p) => p.closed)).toEqual([]);
    // The node cannot connect now: the app's runs use pub/sub, and succeed.
    for (let i = 0; i < 4; i++) expect(await app.run(PROBE, { tools: probe(appIso) })).toMatchObject({ success: true, value: 0 });
    await Promise.all(silent.map((p) => p.closedBy('a silent connection')));
    expectHealthy(node);
  });
});

describe('a hostile app listener, as the node meets it', () => {
  const prefix = redis.prefix();
  let node: NodeProcess;
  let c: Redis;
  let quick: Job;
  let waiting: Job;
  beforeAll(async () => {
    node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '4', '--max-payload', '1']);
    c = redis.client();
    quick = await templateJob('return 1');
    waiting = await templateJob('return await callTool("t", {});');
  }, 30_000);

  it('a listener that never welcomes, welcomes for another app, or answers with a 100 MB frame header is dropped, and the node goes on', async () => {
    const behaviours: [string, (peer: Peer) => void][] = [
      ['never welcomes', () => {}],
      ['welcomes for another app', (peer) => peer.write(['welcome', newApp()])],
      ['answers with no app', (peer) => peer.write(['welcome'])],
      ['answers with a 100 MB frame header', (peer) => peer.write(header(100 * 1024 * 1024), Buffer.from('xxxx'))],
      ['answers with a 2 KB frame', (peer) => peer.write(['welcome', 'x'.repeat(2000)])],
      ['answers with garbage', (peer) => peer.write(frame(Buffer.from([0xff, 0xfe, 0xfd])))],
    ];
    const fakes = await Promise.all(
      behaviours.map(async ([, behave]) =>
        fakeApp((peer) => {
          // It answers the node's hello, whatever it says.
          void peer.next((m) => m[0] === 'hello', 'the hello').then(() => behave(peer), () => {});
        }),
      ),
    );
    const apps = behaviours.map(() => newApp());
    for (const [i, fake] of fakes.entries()) await enqueueInline(c, prefix, handJob(quick, apps[i] as string, { reach: fake.reach }));
    for (const [i, fake] of fakes.entries()) {
      const what = behaviours[i]?.[0] as string;
      const peer = await eventually(async () => fake.peers[0] ?? Promise.reject(new Error(`the node did not connect to the listener that ${what}`)));
      await peer.next((m) => m[0] === 'hello', `the hello to the listener that ${what}`);
      expect(peer.messages[0]).toEqual(['hello', node.id, apps[i], expect.any(Number)]);
      await peer.closedBy(`the listener that ${what}`);
    }
    const { enclave } = await directApp(prefix);
    for (let i = 0; i < 3; i++) expect((await enclave.run('return "still here"')).value).toBe('still here');
    expectHealthy(node);
  });

  it('a welcomed listener cannot reach runs it does not own, and a frame over the node’s cap is skipped, not buffered', async () => {
    const app = newApp();
    await c.set(`${prefix}{rt}:alive:${app}`, '1', 'PX', 60_000);
    const fake = await fakeApp((peer) => void peer.next((m) => m[0] === 'hello', 'the hello').then(() => peer.write(['welcome', app]), () => {}));
    const pubsub = await hear(prefix, app);
    // Its first run opens the connection; once the node has the welcome, the app's runs go over it.
    let link: Peer | undefined;
    for (let i = 0; i < 20 && link === undefined; i++) {
      const job = handJob(quick, app, { reach: fake.reach });
      await enqueueInline(c, prefix, job);
      const accepted = (m: unknown[]) => m[0] === 'accept' && m[1] === job.run;
      await eventually(async () => (pubsub.some(accepted) || fake.peers.some((p) => p.messages.some(accepted)) ? undefined : Promise.reject(new Error('no acceptance'))));
      link = fake.peers.find((p) => p.messages.some(accepted));
    }
    if (link === undefined) throw new Error('the node never took a run over the connection');
    expect(fake.peers.length).toBe(1);
    // A run of its own, on the connection, waiting on its tool call.
    // (As an app from before `framed`: the call's arguments come inside the JSON.)
    const own = handJob(waiting, app, { reach: fake.reach, remaining: 20_000, framed: undefined });
    await enqueueInline(c, prefix, own);
    const call = await link.next((m) => m[0] === 'entry' && m[1] === own.run, 'its run’s tool call');
    const callId = (call[2] as [number, string, string][])[0]?.[0];
    expect(call[2]).toEqual([[callId, 't', '{}']]);

    // A real app: its first run on pub/sub, then one over its own direct connection.
    const { enclave, iso } = await directApp(prefix);
    const forge = (run: string) => [
      ...[0, 1, 2, 3].map((id) => frame(['reply', run, id, 1, '"evil"'])),
      frame(['reply', run, 1, 0, '{"name":"Error","message":"evil"}']),
      frame(['cancel', run]),
    ];
    for (const kind of ['pub/sub', 'direct'] as const) {
      const { g, result, job } = await gatedRunOn(kind, enclave, iso, prefix);
      link.write(...forge(job.run));
      // The node's channel is where a run on pub/sub hears its app: a run on a connection must not.
      if (kind === 'direct') for (const text of forge(job.run)) await c.publish(`${prefix}rt:to:${node.id}`, text.subarray(4).toString());
      await sleep(300);
      g.release(kind);
      expect(await result, kind).toMatchObject({ success: true, value: { v: kind } });
    }

    // Garbage on the connection is dropped, and the connection still serves its own run.
    link.write(
      frame('not json'),
      frame(''),
      frame('{"__proto__":{"polluted":1}}'),
      frame(`["reply","${own.run}",{"__proto__":{"polluted":1}},1,"1"]`),
      frame(Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])),
      frame(['reply', own.run, String(callId), 1, '"x"']),
      frame(['reply', own.run, callId, 2, '"x"']),
      frame(['reply', own.run, callId, 1, 42]),
      frame(['welcome', app]),
      frame(['hello', node.id, app]),
    );
    link.write(['reply', own.run, callId, 1, '"h-ok"']);
    const end = await link.next((m) => m[0] === 'entry' && m[1] === own.run && m[4] !== null, 'the end of its own run');
    expect(end[4]).toMatchObject({ kind: 'report' });
    expect(link.frames.find((f) => f.startsWith(`["entry","${own.run}"`) && ended(f))).toContain('h-ok');

    // Another run of its own on the connection, then a frame over the node's cap (3 MiB with --max-payload
    // 1): skipped, not buffered; the connection stays and the reply after it still reaches the run.
    const orphanedBefore = (await nodeLoad(c, prefix, node.id))?.orphaned ?? 0;
    const last = handJob(waiting, app, { reach: fake.reach, remaining: 20_000 });
    await enqueueInline(c, prefix, last);
    const lastCall = await link.next((m) => m[0] === 'entry' && m[1] === last.run, 'the tool call of its last run');
    const lastCallId = (lastCall[2] as [number, string, string][])[0]?.[0];
    link.write(header(4 * 1024 * 1024), Buffer.alloc(4 * 1024 * 1024, 0x78));
    // This reply in the framed form (its payload after the newline), which the node said it reads; the
    // one to the run before was in the older form, inside the JSON: a node reads both.
    link.write(frame(`${JSON.stringify(['reply', last.run, lastCallId, 1])}\n"after-the-big-one"`));
    const lastEnd = await link.next((m) => m[0] === 'entry' && m[1] === last.run && m[4] !== null, 'the end of its last run');
    expect(lastEnd[4]).toMatchObject({ kind: 'report' });
    expect(link.frames.find((f) => f.startsWith(`["entry","${last.run}"`) && ended(f))).toContain('after-the-big-one');
    expect(link.closed).toBe(false);
    await eventually(async () => {
      const load = await nodeLoad(c, prefix, node.id);
      if (load?.orphaned !== orphanedBefore || load.active !== 0) throw new Error(`not yet: ${JSON.stringify(load)}`);
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await enclave.run(PROBE, { tools: probe(iso) })).value).toBe(1);
    expectHealthy(node);
  });
});

describe('small runs travel inside their stream entry', () => {
  it('an entry whose job is not JSON, names another run or app, lacks a token, names a reach that is not host:port, or is over the node’s cap is refused, deleted and answered', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--max-payload', '1']);
    const c = redis.client();
    const app = newApp();
    const heard = await hear(prefix, app);
    const template = await templateJob('return 1');
    const malformed: [string, (job: Job) => string][] = [
      ['not JSON', () => '{"v":1,'],
      ['JSON that is not an object', () => '[1,2,3]'],
      ['another run', (job) => JSON.stringify({ ...job, run: newRun() })],
      ['another app', (job) => JSON.stringify({ ...job, app: newApp() })],
      ['no token', (job) => JSON.stringify({ ...job, token: undefined })],
      ['a token that is not an id', (job) => JSON.stringify({ ...job, token: 'short' })],
      ['a reach with no port', (job) => JSON.stringify({ ...job, reach: '127.0.0.1' })],
      ['a reach on port 0', (job) => JSON.stringify({ ...job, reach: '127.0.0.1:0' })],
      ['a reach beyond port 65535', (job) => JSON.stringify({ ...job, reach: '127.0.0.1:65536' })],
      ['a reach with a space', (job) => JSON.stringify({ ...job, reach: 'a b:80' })],
      ['a reach that is a URL', (job) => JSON.stringify({ ...job, reach: 'http://127.0.0.1:80/' })],
      ['a reach that is a number', (job) => JSON.stringify({ ...job, reach: 6379 })],
      ['a reach of 400 characters', (job) => JSON.stringify({ ...job, reach: `${'a'.repeat(400)}:80` })],
    ];
    const runs: string[] = [];
    for (const [, text] of malformed) {
      const job = handJob(template, app);
      runs.push(job.run);
      await enqueueInline(c, prefix, job, text(job));
    }
    // Over 1 MiB: --max-payload 1.
    const large = handJob(template, app, { input: JSON.stringify('x'.repeat(1100 * 1024)) });
    await enqueueInline(c, prefix, large);
    for (const [i, run] of runs.entries()) expect(await heardOne(heard, (m) => m[1] === run, malformed[i]?.[0] as string)).toEqual(['failed', run, 'INTERNAL_ERROR']);
    expect(await heardOne(heard, (m) => m[1] === large.run, 'the large job')).toEqual(['failed', large.run, 'TOO_LARGE']);
    // Each was refused (counted), none runs, and no entry stays in the stream.
    await eventually(async () => {
      const load = await nodeLoad(c, prefix, node.id);
      if (load?.refused !== malformed.length + 1 || load.active !== 0) throw new Error(`not yet: ${JSON.stringify(load)}`);
    });
    await eventually(async () => ((await c.xlen(`${prefix}{rt}:jobs`)) === 0 ? undefined : Promise.reject(new Error('entries left'))));
    expect(heard.filter((m) => m[0] !== 'failed')).toEqual([]);
    // A well-formed one, for contrast, is taken.
    const good = handJob(template, app);
    await enqueueInline(c, prefix, good);
    expect(await heardOne(heard, (m) => m[0] === 'accept' && m[1] === good.run, 'the good job')).toEqual(['accept', good.run, node.id, good.token, 1024 * 1024, 1]);
    const { enclave } = await directApp(prefix);
    expect((await enclave.run('return "served"')).value).toBe('served');
    expectHealthy(node);
    await node.kill();
  });

  it('another acceptance of a run that a real node took, with the run’s token, is turned away on pub/sub and on a connection; the run keeps its own result', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    const c = redis.client();
    const { enclave, iso } = await directApp(prefix);
    const liar = 'nliar0000001';
    const liarHears = await hear(prefix, liar);
    const toApp = `${prefix}rt:to:${iso.id}`;
    for (const kind of ['pub/sub', 'direct'] as const) {
      const { g, result, job } = await gatedRunOn(kind, enclave, iso, prefix);
      expect(iso.stats().running).toBe(1);
      await c.publish(toApp, JSON.stringify(['accept', job.run, liar, job.token]));
      expect(await heardOne(liarHears, (m) => m[1] === job.run, `the cancel (${kind})`)).toEqual(['cancel', job.run]);
      // The real node says it again, on the other path: nothing changes.
      await c.publish(toApp, JSON.stringify(['accept', job.run, node.id, job.token]));
      if (kind === 'direct') {
        // A run on a connection hears nothing from pub/sub (on pub/sub, Redis is all there is to trust).
        await c.publish(toApp, `${JSON.stringify(['entry', job.run, [], [], { kind: 'report', report: '{"kind":"ok"}' }])}\n"evil"`);
        await c.publish(toApp, JSON.stringify(['failed', job.run, 'RUNTIME_ERROR']));
      } else {
        // A run on pub/sub hears nothing from a connection, even one whose hello names its node.
        const peer = await connectTo(iso.stats().reach as string);
        peer.write(['hello', node.id, iso.id]);
        await peer.next((m) => m[0] === 'welcome', 'the welcome');
        peer.write(['entry', job.run, [], [], { kind: 'exploded' }], ['failed', job.run, 'RUNTIME_ERROR'], ['accept', job.run, node.id, job.token]);
        const barrier = newRun();
        peer.write(['accept', barrier, node.id, 'ttoken0000000']);
        await peer.next((m) => m[1] === barrier, 'the cancel of an unknown run');
        peer.socket.destroy();
      }
      await sleep(200);
      expect(iso.stats()).toMatchObject({ running: 1, direct: kind === 'direct' ? 1 : 0 });
      g.release(kind);
      expect(await result, kind).toMatchObject({ success: true, value: { v: kind }, stats: { toolCallCount: 1 } });
      expect(g.calls()).toBe(1);
    }
    expectHealthy(node);
    await node.kill();
  });

  it('a tool reply goes to a node that reads it framed with its payload after the newline, and to an older node inside the JSON', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    // No node on this prefix: this test plays an older node (no `framed` in its acceptance) and a current one.
    const { enclave, iso } = await directApp(prefix);
    const toApp = `${prefix}rt:to:${iso.id}`;
    const payload = '{"s":"a \\"quoted\\" line\\nand \\\\ more"}';
    for (const [node, framed] of [['nolder000001', false], ['ncurrent0001', true]] as const) {
      await c.set(`${prefix}{rt}:alive:${node}`, '{}', 'PX', 60_000);
      const raw: string[] = [];
      const sub = redis.client();
      sub.on('message', (_channel: string, text: string) => raw.push(text));
      await sub.subscribe(`${prefix}rt:to:${node}`);
      const spy = await nextJob(prefix);
      const result = enclave.run(`return await callTool('t', {});`, { tools: { t: () => JSON.parse(payload) as unknown } });
      const job = await spy.job;
      await c.publish(toApp, JSON.stringify(framed ? ['accept', job.run, node, job.token, 1024 * 1024, 1] : ['accept', job.run, node, job.token, 1024 * 1024]));
      await eventually(async () => (iso.stats().running === 1 ? undefined : Promise.reject(new Error('not accepted'))));
      await c.publish(toApp, JSON.stringify(['entry', job.run, [[1, 't', '{}']], [], null]));
      const reply = await eventually(async () => raw.find((t) => t.startsWith('["reply"')) ?? Promise.reject(new Error('no reply yet')));
      expect(reply).toBe(framed ? `${JSON.stringify(['reply', job.run, 1, 1])}\n${payload}` : JSON.stringify(['reply', job.run, 1, 1, payload]));
      await c.publish(toApp, `${JSON.stringify(['entry', job.run, [], [], { kind: 'report', report: JSON.stringify({ kind: 'ok', iterations: 0, toolCalls: 1 }) }])}\n"done"`);
      expect((await result).value).toBe('done');
      sub.disconnect();
    }
  });

  it('the app decides between acceptances of a queued run: the first with its token wins, later ones and ones after the queue timeout are told to cancel', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    // No node on this prefix: this test plays the nodes.
    const { enclave, iso } = await directApp(prefix, { queueTimeoutMs: 5000 });
    const toApp = `${prefix}rt:to:${iso.id}`;
    const [first, second, wrong] = ['nfirst000001', 'nsecond00001', 'nwrong000001'];
    const hears = { first: await hear(prefix, first), second: await hear(prefix, second), wrong: await hear(prefix, wrong) };
    // Present, as nodes are: else the app's heartbeat ends the run as RUNTIME_LOST.
    for (const n of [first, second, wrong]) await c.set(`${prefix}{rt}:alive:${n}`, '{}', 'PX', 60_000);
    const spy = await nextJob(prefix);
    const result = enclave.run('return 1');
    const job = await spy.job;
    await c.publish(toApp, JSON.stringify(['accept', job.run, wrong, 'twrongtoken0000']));
    await sleep(100);
    expect(iso.stats()).toMatchObject({ queued: 1, running: 0 });
    await c.publish(toApp, JSON.stringify(['accept', job.run, first, job.token]));
    await eventually(async () => (iso.stats().running === 1 ? undefined : Promise.reject(new Error('not accepted'))));
    await c.publish(toApp, JSON.stringify(['accept', job.run, second, job.token]));
    expect(await heardOne(hears.second, (m) => m[1] === job.run, 'the cancel of the second')).toEqual(['cancel', job.run]);
    expect(hears.first).toEqual([]);
    // The winner holds the run: what it says ends it.
    await c.publish(toApp, JSON.stringify(['failed', job.run, 'RUNTIME_ERROR']));
    expect((await result).error).toMatchObject({ code: 'RUNTIME_ERROR', name: 'MessageFloodError' });
    expect(hears.wrong).toEqual([]);

    // Past the queue timeout the app has answered and withdrawn the entry: an acceptance now is told to cancel.
    // (On a prefix of its own: the entry above stays in the stream, as no node read it.)
    const other = redis.prefix();
    const { enclave: impatient, iso: impatientIso } = await directApp(other, { queueTimeoutMs: 300 });
    const late = 'nlate0000001';
    await c.set(`${other}{rt}:alive:${late}`, '{}', 'PX', 60_000);
    const lateHears = await hear(other, late);
    const spy2 = await nextJob(other);
    const r2 = impatient.run('return 2');
    const job2 = await spy2.job;
    expect((await r2).error?.code).toBe('RUNTIME_UNAVAILABLE');
    await eventually(async () => ((await c.xlen(`${other}{rt}:jobs`)) === 0 ? undefined : Promise.reject(new Error('the entry is still queued'))));
    await c.publish(`${other}rt:to:${impatientIso.id}`, JSON.stringify(['accept', job2.run, late, job2.token]));
    expect(await heardOne(lateHears, (m) => m[1] === job2.run, 'the cancel of the late acceptance')).toEqual(['cancel', job2.run]);
  });

  // Fails as of this writing: the node keys its runs by id and starts the copy over the first, whose
  // halt at the node's cap is then skipped (node.ts #start / the timer's check): its worker spins for good.
  it('an inline run queued twice runs at most once at a time on a node: the node’s time cap frees every worker it took', async () => {
    const prefix = redis.prefix();
    const c = redis.client();
    const node = await startRuntimeNode({ redis: redis.client(), prefix, concurrency: 2, heartbeatMs: 200, maxTimeoutMs: 1500 });
    try {
      // An unguarded busy loop: only a halt ends it.
      const template = await templateJob('while (true) {}', { validate: false, transform: false });
      const app = newApp();
      await c.set(`${prefix}{rt}:alive:${app}`, '1', 'PX', 60_000);
      const job = handJob(template, app, { remaining: 60_000 });
      // A copy of an entry is all it takes; both reach the node in one read.
      const text = JSON.stringify(job);
      await c.multi().xadd(`${prefix}{rt}:jobs`, '*', 'r', job.run, 'a', app, 'j', text).xadd(`${prefix}{rt}:jobs`, '*', 'r', job.run, 'a', app, 'j', text).exec();
      await eventually(async () => (node.stats().taken >= 1 && node.stats().active === 0 ? undefined : Promise.reject(new Error(`not yet: ${JSON.stringify(node.stats())}`))));
      // Past the node's cap of 1500 ms nothing of that run may hold a worker: two runs at once get one each.
      const { enclave } = await directApp(prefix);
      const [a, b] = [gate(), gate()];
      const ra = enclave.run(GATED, { tools: { wait: a.tool }, timeout: 10_000 });
      const rb = enclave.run(GATED, { tools: { wait: b.tool }, timeout: 10_000 });
      await within(Promise.all([a.called, b.called]), 5000, 'both runs starting at once on the node’s two workers').catch((err: Error) => {
        throw new Error(`${err.message}; the node says ${JSON.stringify(node.stats())}`);
      });
      a.release('a');
      b.release('b');
      expect((await ra).value).toEqual({ v: 'a' });
      expect((await rb).value).toEqual({ v: 'b' });
    } finally {
      await node.close(0);
    }
  });
});

describe('a peer lost mid-run while the run talks over a direct connection', () => {
  it('a node killed with SIGKILL: the app ends the run as RUNTIME_LOST when the connection closes (its own heartbeat is a minute)', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1']);
    // With a heartbeat of a minute, only the connection closing can end the run before its 15 s deadline.
    const { enclave, iso } = await directApp(prefix, { heartbeatMs: 60_000 });
    await untilDirect(enclave, iso);
    const g = gate();
    const p = enclave.run('const v = await callTool("step", {}); return v;', { tools: { step: g.tool }, timeout: 15_000 });
    await g.called;
    expect(iso.stats()).toMatchObject({ running: 1, direct: 1 });
    const killedAt = performance.now();
    expect(await node.kill('SIGKILL')).toBe('SIGKILL');
    const r = await p;
    timings.push(`node killed mid-run over a direct connection (app heartbeat 60 s): RUNTIME_LOST after ${Math.round(performance.now() - killedAt)} ms`);
    expect(r.error).toMatchObject({ code: 'RUNTIME_LOST', name: 'RuntimeLostError' });
    expect(g.calls()).toBe(1);
    expect(iso.stats()).toMatchObject({ running: 0, direct: 0 });
  });

  it('an app killed with SIGKILL: the node stops the run and frees its worker when the connection closes (the app’s presence outlives the test)', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '1', '--max-timeout', '60000']);
    const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/direct-orphan-app.mjs');
    const app = spawn(process.execPath, [fixture, redis.server.url, prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => app.once('exit', r));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        app.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        void exited.then(() => reject(new Error(`the app exited early: ${out}`)));
      });
      // The busy loop is the app's only run, and it talks over the connection.
      expect(line).toBe('running direct=1');
      const { load, afterMs } = await killAppMidRun(redis.client(), prefix, node.id, app, exited, 15_000);
      timings.push(`app killed mid-run over a direct connection (its presence lasts 180 s): node freed its worker after ${afterMs} ms`);
      expect(load.orphaned).toBe(1);
      // The freed worker takes the next run at once (concurrency 1).
      const { enclave } = await directApp(prefix);
      expect((await enclave.run('return "free"')).value).toBe('free');
      expectHealthy(node);
    } finally {
      app.kill('SIGKILL');
      await node.kill();
    }
  });

  // As on pub/sub, a reply the node would not read never goes out: the script sees, at once, the error of a
  // tool result over the cap, and the app's other runs on that node go on.
  it('a tool reply larger than the node reads fails that call at once, in the script, and nothing else', async () => {
    const prefix = redis.prefix();
    const node = await startNodeProcess(redis.server.url, prefix, ['--concurrency', '2', '--max-payload', '1']);
    const { enclave, iso } = await directApp(prefix);
    await untilDirect(enclave, iso);
    const g = gate();
    const other = enclave.run(GATED, { tools: { wait: g.tool }, timeout: 15_000 });
    await g.called;
    expect(iso.stats()).toMatchObject({ running: 1, direct: 1 });
    // 3.5 MB: within the app's own caps, beyond what a node with --max-payload 1 reads (1 MiB characters).
    const tools = { big: async () => 'x'.repeat(3_500_000), small: async () => 'ok' };
    const caught = await enclave.run('try { await callTool("big", {}); } catch (e) { return [e.name, e.code, e.tool, await callTool("small", {})]; }', { tools, timeout: 15_000 });
    expect(caught).toMatchObject({ success: true, value: ['ToolError', 'RESULT_TOO_LARGE', 'big', 'ok'] });
    const uncaught = await enclave.run('const v = await callTool("big", {}); return v.length;', { tools, timeout: 15_000 });
    expect(uncaught).toMatchObject({ success: false, error: { code: 'TOOL_ERROR', data: { toolErrorCode: 'RESULT_TOO_LARGE', tool: 'big' }, message: expect.stringContaining('larger than the runtime node') } });
    timings.push(`a tool reply over the node’s payload cap, over a direct connection: ${uncaught.stats.duration.toFixed(0)} ms to a RESULT_TOO_LARGE error (deadline 15 s)`);
    g.release('other');
    expect(await other).toMatchObject({ success: true, value: { v: 'other' } });
    expectHealthy(node);
    await node.kill();
  });
});
