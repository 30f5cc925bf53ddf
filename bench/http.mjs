// HTTP benchmark of the framework adapters: for Express and Hono, one server with these routes,
//   POST /enclave        the adapter running the agent script (bench/workloads.mjs) in the sandbox,
//   POST /bare           the same framework's plain JSON route calling the same tools directly,
//   POST /raw-vm         the bare route, but the script runs in a fresh raw node:vm context with a
//                        timeout on its first entry only (the DESIGN baseline: no checks, no limits),
//   POST /timed-entries  the bare route plus the four empty timed realm entries that invariant 4 costs
//                        this script in vm mode (its start and one per tool result), nothing else,
//   POST /enclave with Accept: text/event-stream   the same run streamed as Server-Sent Events,
// all answering the same value. The two floors: no sandbox keeping the invariants can beat them. After
// the rows, 10,000 streamed runs check that the server's memory stays flat (heap after a full GC,
// before and after). The server runs in a child process pinned to one core (`taskset -c 0` when available);
// autocannon runs here, in the parent. Prints req/s, p50/p99 latency and each route's ratio to bare.
// Usage: pnpm bench:http [-- --quick] [-- --duration=5] [-- --connections=10]
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { AGENT, agentWithoutSandbox, rawCallTool, rawScript, timedEntry, tools } from './workloads.mjs';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const serveArg = arg('serve', '');

// ---- server (child process) ---------------------------------------------------------------------

const badRequest = [400, { success: false, error: { name: 'RequestError', code: 'BAD_REQUEST', message: 'code must be a string' } }];

/** A route body: the JSON answer for a parsed request, timed like the sandbox's `stats`. */
function route(agent) {
  return async (body) => {
    if (typeof body?.code !== 'string') return badRequest;
    const start = performance.now();
    const value = await agent(body.code);
    return [200, { success: true, value, stats: { duration: performance.now() - start, toolCallCount: 3, iterationCount: 0 } }];
  };
}

const rawScripts = new Map();
const callToolDirectly = rawCallTool(tools);
/** The same tools, each preceded by one empty timed entry (the start adds the fourth). */
const timedTools = Object.fromEntries(Object.entries(tools).map(([name, fn]) => [name, (a) => (timedEntry(), fn(a))]));

/** The rows measured, in order: a route, the Accept it is asked with, and the row's label. */
const SSE = 'text/event-stream';
const ROWS = [
  { key: 'bare', path: '/bare', label: 'bare JSON route' },
  { key: 'enclave', path: '/enclave', label: 'enclave (agent script)' },
  { key: 'sse', path: '/enclave', accept: SSE, label: 'enclave over SSE (agent script)' },
  { key: 'raw-vm', path: '/raw-vm', label: 'floor: raw node:vm, fresh context' },
  { key: 'timed-entries', path: '/timed-entries', label: 'floor: bare + 4 empty timed entries' },
];
/** Streamed runs whose memory is checked, after a warm-up of a tenth as many. */
const STREAMED_RUNS = 10_000;

const ROUTES = {
  '/bare': route(() => agentWithoutSandbox(tools)),
  '/raw-vm': route(async (code) => {
    let script = rawScripts.get(code);
    if (!script) rawScripts.set(code, (script = rawScript(code)));
    // JSON round trip: the value is an object of the context's realm.
    return JSON.parse(JSON.stringify(await script.runInContext(vm.createContext({ callTool: callToolDirectly }), { timeout: 30_000 })));
  }),
  '/timed-entries': route(() => (timedEntry(), agentWithoutSandbox(timedTools))),
};

/** The server's memory after a full collection (the bench starts it with --expose-gc). */
function memory() {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function expressServer() {
  const { default: express } = await import('express');
  const { enclave } = await import('@enclave-kit/express');
  const app = express();
  app.use(enclave({ path: '/enclave', tools: () => tools }));
  app.get('/memory', (_req, res) => void res.json(memory()));
  for (const [path, answer] of Object.entries(ROUTES)) {
    app.post(path, express.json({ limit: '1mb' }), (req, res, next) => {
      answer(req.body).then(([status, json]) => void res.status(status).json(json), next);
    });
  }
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function honoServer() {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const { enclave } = await import('@enclave-kit/hono');
  const app = new Hono();
  app.use(enclave({ path: '/enclave', tools: () => tools }));
  app.get('/memory', (c) => c.json(memory()));
  for (const [path, answer] of Object.entries(ROUTES)) {
    app.post(path, async (c) => {
      const [status, json] = await answer(await c.req.json());
      return c.json(json, status);
    });
  }
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(server.address().port));
  });
}

if (serveArg) {
  const port = await (serveArg === 'express' ? expressServer() : honoServer());
  console.log(`READY ${port}`);
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

// ---- load generator (parent) --------------------------------------------------------------------

function startServer(framework) {
  const self = fileURLToPath(import.meta.url);
  const pinned = spawnSync('taskset', ['-c', '0', process.execPath, '-e', '0']).status === 0;
  const node = [process.execPath, '--expose-gc', self, `--serve=${framework}`];
  const [cmd, cmdArgs] = pinned ? ['taskset', ['-c', '0', ...node]] : [node[0], node.slice(1)];
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), pinned });
    });
    child.once('exit', (code) => reject(new Error(`${framework} server exited with ${code}: ${out}`)));
  });
}

async function main() {
  const { default: autocannon } = await import('autocannon');
  const quick = args.includes('--quick');
  const duration = Number(arg('duration', quick ? 2 : 5));
  const connections = Number(arg('connections', 10));
  const rounds = Number(arg('rounds', quick ? 1 : 2));
  const body = JSON.stringify({ code: AGENT });
  const headers = { 'content-type': 'application/json' };
  const headersOf = (row) => (row.accept ? { ...headers, accept: row.accept } : headers);

  const load = (url, row, seconds) => autocannon({ url, method: 'POST', headers: headersOf(row), body, connections, duration: seconds });
  /** The value a row answers: JSON's, or the payload of the stream's `final` event. */
  const answerOf = async (res, row) => {
    if (!row.accept) return res.json();
    const text = await res.text();
    const final = text.split('\n\n').find((block) => block.includes('event: final'));
    return JSON.parse(final.slice(final.indexOf('data: ') + 6)).payload;
  };

  console.log(`enclave-kit HTTP bench — node ${process.version}, autocannon ${connections} connections, ${rounds} x ${duration} s per route\n`);
  const table = [];
  const streamRows = [];
  const memoryRows = [];
  for (const framework of ['express', 'hono']) {
    const { child, port, pinned } = await startServer(framework);
    try {
      const base = `http://127.0.0.1:${port}`;
      // Every row must answer the same value before its speed means anything.
      const answers = await Promise.all(ROWS.map(async (row) => answerOf(await fetch(base + row.path, { method: 'POST', headers: headersOf(row), body }), row)));
      for (const [i, a] of answers.entries()) {
        if (!a.success || JSON.stringify(a.value) !== JSON.stringify(answers[0].value)) throw new Error(`${ROWS[i].label} disagrees with /bare: ${JSON.stringify(a)}`);
      }
      for (const row of ROWS) await load(base + row.path, row, 1); // warm-up (JIT, realm pool)
      const runs = Object.fromEntries(ROWS.map((row) => [row.key, []]));
      // Alternate the order so drift in machine load weighs on every row alike.
      for (let r = 0; r < rounds; r++) {
        for (const row of r % 2 === 0 ? ROWS : ROWS.toReversed()) {
          const res = await load(base + row.path, row, duration);
          const bad = res.non2xx + res.errors + res.timeouts;
          if (bad) throw new Error(`${framework} ${row.label}: ${bad} failed requests`);
          runs[row.key].push(res);
        }
      }
      const avg = (list, pick) => list.reduce((s, x) => s + pick(x), 0) / list.length;
      const stats = (key) => ({
        rps: avg(runs[key], (x) => x.requests.average),
        p50: avg(runs[key], (x) => x.latency.p50),
        p99: avg(runs[key], (x) => x.latency.p99),
      });
      const bare = stats('bare');
      const json = stats('enclave');
      const name = framework === 'express' ? 'Express 5' : 'Hono 4';
      const line = [`${name.padEnd(10)}${pinned ? '' : ' (server not pinned: no taskset)'}`];
      for (const row of ROWS) {
        const x = stats(row.key);
        const ratio = row.key === 'bare' ? '—' : `${((x.rps / bare.rps) * 100).toFixed(0)}%`;
        table.push({ name, route: row.label, ...x, ratio });
        line.push(`${row.label}: ${x.rps.toFixed(0)} req/s${row.key === 'bare' ? '' : ` (${ratio})`}`);
      }
      console.log(line.join('\n  '));
      const sse = stats('sse');
      streamRows.push({ name, p50: sse.p50 / json.p50, p99: sse.p99 / json.p99 });

      // Memory over many streamed runs: heap after a full GC before and after them.
      const sseRow = ROWS.find((row) => row.key === 'sse');
      const streamed = (amount) => autocannon({ url: base + sseRow.path, method: 'POST', headers: headersOf(sseRow), body, connections, amount });
      await streamed(STREAMED_RUNS / 10);
      const before = await (await fetch(`${base}/memory`)).json();
      const res = await streamed(STREAMED_RUNS);
      if (res.non2xx + res.errors + res.timeouts) throw new Error(`${framework}: streamed runs failed`);
      const after = await (await fetch(`${base}/memory`)).json();
      memoryRows.push({ name, runs: res.requests.total, before, after });
    } finally {
      child.kill('SIGTERM');
    }
  }
  console.log('\n| framework | route | req/s | p50 | p99 | vs bare |');
  console.log('|---|---|---|---|---|---|');
  for (const r of table) console.log(`| ${r.name} | ${r.route} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.ratio} |`);
  console.log('\n| framework | SSE / JSON, p50 | SSE / JSON, p99 |');
  console.log('|---|---|---|');
  for (const r of streamRows) console.log(`| ${r.name} | ${r.p50.toFixed(2)}x | ${r.p99.toFixed(2)}x |`);
  const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  console.log(`\n| framework | streamed runs | heap before | heap after | RSS before | RSS after |`);
  console.log('|---|---|---|---|---|---|');
  for (const r of memoryRows) console.log(`| ${r.name} | ${r.runs} | ${mb(r.before.heapUsed)} | ${mb(r.after.heapUsed)} | ${mb(r.before.rss)} | ${mb(r.after.rss)} |`);
}
