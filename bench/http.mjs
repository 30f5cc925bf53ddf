// HTTP benchmark of the framework adapters: for Express and Hono, one server with two routes,
//   POST /enclave  the adapter running the agent script (bench/workloads.mjs) in the sandbox,
//   POST /bare     the same framework's plain JSON route calling the same tools directly,
// both answering the same JSON. The server runs in a child process pinned to one core (`taskset -c 0`
// when available); autocannon runs here, in the parent. Prints req/s, p50/p99 latency and the ratio
// enclave / bare. Usage: pnpm bench:http [-- --quick] [-- --duration=5] [-- --connections=10]
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AGENT, agentWithoutSandbox, tools } from './workloads.mjs';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const serveArg = arg('serve', '');

// ---- server (child process) ---------------------------------------------------------------------

async function bareResult(body) {
  if (typeof body?.code !== 'string') return [400, { success: false, error: { name: 'RequestError', code: 'BAD_REQUEST', message: 'code must be a string' } }];
  const start = performance.now();
  const value = await agentWithoutSandbox(tools);
  return [200, { success: true, value, stats: { duration: performance.now() - start, toolCallCount: 3, iterationCount: 0 } }];
}

async function expressServer() {
  const { default: express } = await import('express');
  const { enclave } = await import('@enclave-kit/express');
  const app = express();
  app.use(enclave({ path: '/enclave', tools: () => tools }));
  app.post('/bare', express.json({ limit: '1mb' }), (req, res, next) => {
    bareResult(req.body).then(([status, json]) => void res.status(status).json(json), next);
  });
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
  app.post('/bare', async (c) => {
    const [status, json] = await bareResult(await c.req.json());
    return c.json(json, status);
  });
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
  const [cmd, cmdArgs] = pinned ? ['taskset', ['-c', '0', process.execPath, self, `--serve=${framework}`]] : [process.execPath, [self, `--serve=${framework}`]];
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

  const load = (url, seconds) =>
    autocannon({ url, method: 'POST', headers, body, connections, duration: seconds });

  console.log(`enclave-kit HTTP bench — node ${process.version}, autocannon ${connections} connections, ${rounds} x ${duration} s per route\n`);
  const table = [];
  for (const framework of ['express', 'hono']) {
    const { child, port, pinned } = await startServer(framework);
    try {
      const base = `http://127.0.0.1:${port}`;
      // Both routes must answer the same value before their speed means anything.
      const [a, b] = await Promise.all(['/enclave', '/bare'].map(async (p) => (await fetch(base + p, { method: 'POST', headers, body })).json()));
      if (!a.success || JSON.stringify(a.value) !== JSON.stringify(b.value)) throw new Error(`routes disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      for (const p of ['/bare', '/enclave']) await load(base + p, 1); // warm-up (JIT, realm pool)
      const sums = { '/bare': [], '/enclave': [] };
      // Alternate the routes so drift in machine load weighs on both alike.
      for (let r = 0; r < rounds; r++) {
        for (const p of r % 2 === 0 ? ['/bare', '/enclave'] : ['/enclave', '/bare']) {
          const res = await load(base + p, duration);
          const bad = res.non2xx + res.errors + res.timeouts;
          if (bad) throw new Error(`${framework} ${p}: ${bad} failed requests`);
          sums[p].push(res);
        }
      }
      const avg = (list, pick) => list.reduce((s, x) => s + pick(x), 0) / list.length;
      const row = (p) => ({
        rps: avg(sums[p], (x) => x.requests.average),
        p50: avg(sums[p], (x) => x.latency.p50),
        p99: avg(sums[p], (x) => x.latency.p99),
      });
      const bare = row('/bare');
      const ours = row('/enclave');
      const name = framework === 'express' ? 'Express 5' : 'Hono 4';
      table.push({ name, route: 'bare JSON route', ...bare, ratio: '—' });
      table.push({ name, route: 'enclave (agent script)', ...ours, ratio: `${((ours.rps / bare.rps) * 100).toFixed(0)}%` });
      console.log(`${name.padEnd(10)} bare ${bare.rps.toFixed(0).padStart(6)} req/s   enclave ${ours.rps.toFixed(0).padStart(6)} req/s   ratio ${((ours.rps / bare.rps) * 100).toFixed(1)}%${pinned ? '' : '   (server not pinned: no taskset)'}`);
    } finally {
      child.kill('SIGTERM');
    }
  }
  console.log('\n| framework | route | req/s | p50 | p99 | vs bare |');
  console.log('|---|---|---|---|---|---|');
  for (const r of table) console.log(`| ${r.name} | ${r.route} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.ratio} |`);
}
