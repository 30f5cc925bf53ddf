// Remote runtime nodes against their floor, in one run on this machine (README, Performance):
//   1. latency: the agent script (three tool calls) through one `enclave-runtime` node against the
//      in-process `worker_threads` adapter, sequential runs, p50 and p99 (target: at most 2 ms added at p50),
//      beside the floors of the two transports a run's messages take (pub/sub, and a direct connection);
//   2. throughput: runs per second of a CPU-bound script with one against two runtime node processes,
//      the app keeping runs in flight (target: two nodes at least 1.6x one); beside it, the same with one
//      and two in-process workers: what this machine gives two workers at this moment (on a shared
//      2-core machine it can be far less than 2x, and no number of nodes can beat it).
// A real redis-server on a free port; the nodes are the built command (dist/bin.js), each one worker.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Enclave } from '@enclave-kit/engine';
import { redisRuntime } from '@enclave-kit/redis';
import { startRedisServer } from '../scripts/redis-server.mjs';
import { AGENT, tools } from './workloads.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'packages/redis/dist/bin.js');
const LATENCY_RUNS = Number(process.env.BENCH_RUNS ?? 1000);
const THROUGHPUT_RUNS = Number(process.env.BENCH_THROUGHPUT_RUNS ?? 240);
const IN_FLIGHT = 8;
/** About 10-20 ms of guarded loop per run: the node's CPU, not the app or Redis, is what is measured. */
const CPU = `let h = 0;
for (let i = 0; i < 2000000; i++) { h = (h * 31 + i) % 1000003; }
return h;`;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
const fmt = (ms) => (ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`);

function ensureOk(r) {
  if (!r.success) throw new Error(`benchmark run failed: ${JSON.stringify(r.error)}`);
  return r;
}

/** Starts `enclave-runtime` and resolves once it prints that it is ready. */
function startNode(url, prefix, concurrency) {
  const child = spawn(process.execPath, [BIN, '--redis', url, '--prefix', prefix, '--concurrency', String(concurrency)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes(' ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`enclave-runtime exited (${code}) before it was ready: ${out}`)));
  });
}
const stopNode = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGKILL'))));

/** Starts an echo peer (`node -e source ...args`, in this directory) and resolves with it and the first thing it prints. */
async function startEcho(source, args = []) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source, ...args], { cwd: path.dirname(fileURLToPath(import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
  const said = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  return { child, said };
}

/** p50 and p99 of `count` sequential round trips made by `once()`, after 50 that warm up. */
async function roundTrips(count, once) {
  const times = [];
  for (let i = 0; i < count + 50; i++) {
    const start = performance.now();
    await once();
    if (i >= 50) times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/**
 * A message to another process and its answer through Redis pub/sub: what each tool call of a run on a
 * node would cost without a direct connection, whatever our code does.
 */
async function pubsubRoundTrip(url, count) {
  const { child } = await startEcho(
    `import { Redis } from 'ioredis';
const pub = new Redis(process.argv[1]); const sub = new Redis(process.argv[1]);
await sub.subscribe('bench:ping'); sub.on('message', (_c, m) => pub.publish('bench:pong', m)); console.log('ready');`,
    [url],
  );
  const pub = client();
  const sub = client();
  await sub.subscribe('bench:pong');
  const result = await roundTrips(count, () => new Promise((resolve) => (sub.once('message', resolve), void pub.publish('bench:ping', 'x'))));
  await stopNode(child);
  return result;
}

/**
 * The direct transport's floor: a message to another process over TCP and its echo. With a direct
 * connection up, each tool call costs one of these plus the node's hop to its worker and back.
 */
async function tcpRoundTrip(count) {
  const { child, said } = await startEcho(`import net from 'node:net';
const server = net.createServer({ noDelay: true }, (s) => s.on('data', (d) => s.write(d)));
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`);
  const socket = net.connect({ port: Number(said), host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const message = 'x'.repeat(200);
  const result = await roundTrips(count, () => new Promise((resolve) => (socket.once('data', resolve), socket.write(message))));
  socket.destroy();
  await stopNode(child);
  return result;
}

/** Sequential runs of `code` on each Enclave, interleaved in blocks so both see the same machine. */
async function latency(enclaves, code, count) {
  const times = enclaves.map(() => []);
  for (const e of enclaves) for (let i = 0; i < 50; i++) ensureOk(await e.run(code, { tools }));
  const block = 50;
  for (let done = 0; done < count; done += block) {
    for (const [k, e] of enclaves.entries()) {
      for (let i = 0; i < block; i++) {
        const start = performance.now();
        ensureOk(await e.run(code, { tools }));
        times[k].push(performance.now() - start);
      }
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { p50: quantile(t, 0.5), p99: quantile(t, 0.99), n: t.length };
  });
}

/** `count` runs of `code`, `IN_FLIGHT` at a time: runs per second. */
async function throughput(enclave, code, count) {
  for (let i = 0; i < 8; i++) ensureOk(await enclave.run(code));
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) {
        next++;
        ensureOk(await enclave.run(code));
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

const server = await startRedisServer();
const clients = [];
const client = () => {
  const c = new Redis(server.url);
  clients.push(c);
  return c;
};
const rows = [];
try {
  // ---- 1. latency: one node against the worker_threads adapter ----------------------------------
  const latencyNode = await startNode(server.url, 'lat:', 1);
  const worker = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
  const remote = new Enclave({ adapter: redisRuntime({ redis: client(), prefix: 'lat:' }) });
  await Promise.all([worker.ready(), remote.ready()]);
  const [w, r] = await latency([worker, remote], AGENT, LATENCY_RUNS);
  const added = r.p50 - w.p50;
  const rtt = await pubsubRoundTrip(server.url, LATENCY_RUNS);
  const tcp = await tcpRoundTrip(LATENCY_RUNS);
  rows.push(['pub/sub round trip', 'app -> Redis -> other process -> Redis -> app', fmt(rtt.p50), fmt(rtt.p99), 'what a tool call would cost on pub/sub']);
  rows.push(['TCP round trip', 'app -> other process -> app', fmt(tcp.p50), fmt(tcp.p99), 'what a tool call costs on a direct connection']);
  rows.push(['agent, sequential', 'worker_threads adapter (floor)', fmt(w.p50), fmt(w.p99), '']);
  rows.push(['agent, sequential', 'runtime node via Redis', fmt(r.p50), fmt(r.p99), `+${fmt(added)} at p50 (target ≤ 2 ms: ${added <= 2 ? 'met' : 'NOT met'})`]);
  worker.dispose();
  remote.dispose();
  await stopNode(latencyNode);

  // ---- 2. throughput: one node against two ---------------------------------------------------------
  const options = { maxIterations: 10_000_000 };
  const one = await startNode(server.url, 'one:', 1);
  const oneEnclave = new Enclave({ ...options, adapter: redisRuntime({ redis: client(), prefix: 'one:' }) });
  await oneEnclave.ready();
  const rpsOne = await throughput(oneEnclave, CPU, THROUGHPUT_RUNS);
  oneEnclave.dispose();
  await stopNode(one);
  const two = await Promise.all([startNode(server.url, 'two:', 1), startNode(server.url, 'two:', 1)]);
  const twoEnclave = new Enclave({ ...options, adapter: redisRuntime({ redis: client(), prefix: 'two:' }) });
  await twoEnclave.ready();
  const rpsTwo = await throughput(twoEnclave, CPU, THROUGHPUT_RUNS);
  twoEnclave.dispose();
  await Promise.all(two.map(stopNode));
  const gain = rpsTwo / rpsOne;
  const pool = async (workers) => {
    const e = new Enclave({ ...options, adapter: 'worker_threads', workerPoolConfig: { minWorkers: workers, maxWorkers: workers } });
    await e.ready();
    const rps = await throughput(e, CPU, THROUGHPUT_RUNS);
    e.dispose();
    return rps;
  };
  const [poolOne, poolTwo] = [await pool(1), await pool(2)];
  rows.push(['2M-step loop, 8 in flight', 'one in-process worker', `${poolOne.toFixed(1)} runs/s`, '', '']);
  rows.push(['2M-step loop, 8 in flight', 'two in-process workers', `${poolTwo.toFixed(1)} runs/s`, '', `${(poolTwo / poolOne).toFixed(2)}x one worker: the machine's parallel capacity now`]);
  rows.push(['2M-step loop, 8 in flight', 'one runtime node (floor)', `${rpsOne.toFixed(1)} runs/s`, '', '']);
  rows.push(['2M-step loop, 8 in flight', 'two runtime nodes', `${rpsTwo.toFixed(1)} runs/s`, '', `${gain.toFixed(2)}x one node (target ≥ 1.6x: ${gain >= 1.6 ? 'met' : 'NOT met'})`]);
} finally {
  for (const c of clients) c.disconnect();
  await server.stop();
}

// The machine is shared: its load says how far these figures are from a quiet machine's.
const load = loadavg().map((l) => l.toFixed(1)).join(' / ');
console.log(`\nRemote runtime nodes, Node ${process.version}, one run (${LATENCY_RUNS} sequential agent runs each, ${THROUGHPUT_RUNS} loop runs each), load average ${load}:\n`);
console.log('| workload | variant | p50 / rate | p99 | against the floor |');
console.log('|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
