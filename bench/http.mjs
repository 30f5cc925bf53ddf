// HTTP benchmark of the framework adapters: for Express and Hono, one server with these routes,
//   POST /enclave        the adapter running the agent script (bench/workloads.mjs) in the sandbox,
//   POST /bare           the same framework's plain JSON route calling the same tools directly,
//   POST /raw-vm         the bare route, but the script runs in a fresh raw node:vm context with a
//                        timeout on its first entry only (the DESIGN baseline: no checks, no limits),
//   POST /timed-entries  the bare route plus the four empty timed realm entries that invariant 4 costs
//                        this script in vm mode (its start and one per tool result), nothing else,
// all answering the same JSON. The last two are floors: no sandbox keeping the invariants can beat
// them. The server runs in a child process pinned to one core (`taskset -c 0` when available);
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

/** The routes measured, in order, with their row labels. */
const LABELS = {
  '/bare': 'bare JSON route',
  '/enclave': 'enclave (agent script)',
  '/raw-vm': 'floor: raw node:vm, fresh context',
  '/timed-entries': 'floor: bare + 4 empty timed entries',
};

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

async function expressServer() {
  const { default: express } = await import('express');
  const { enclave } = await import('@enclave-kit/express');
  const app = express();
  app.use(enclave({ path: '/enclave', tools: () => tools }));
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
      const paths = Object.keys(LABELS);
      // Every route must answer the same value before its speed means anything.
      const answers = await Promise.all(paths.map(async (p) => (await fetch(base + p, { method: 'POST', headers, body })).json()));
      for (const [i, a] of answers.entries()) {
        if (!a.success || JSON.stringify(a.value) !== JSON.stringify(answers[0].value)) throw new Error(`${paths[i]} disagrees with /bare: ${JSON.stringify(a)}`);
      }
      for (const p of paths) await load(base + p, 1); // warm-up (JIT, realm pool)
      const runs = Object.fromEntries(paths.map((p) => [p, []]));
      // Alternate the order so drift in machine load weighs on every route alike.
      for (let r = 0; r < rounds; r++) {
        for (const p of r % 2 === 0 ? paths : paths.toReversed()) {
          const res = await load(base + p, duration);
          const bad = res.non2xx + res.errors + res.timeouts;
          if (bad) throw new Error(`${framework} ${p}: ${bad} failed requests`);
          runs[p].push(res);
        }
      }
      const avg = (list, pick) => list.reduce((s, x) => s + pick(x), 0) / list.length;
      const row = (p) => ({
        rps: avg(runs[p], (x) => x.requests.average),
        p50: avg(runs[p], (x) => x.latency.p50),
        p99: avg(runs[p], (x) => x.latency.p99),
      });
      const bare = row('/bare');
      const name = framework === 'express' ? 'Express 5' : 'Hono 4';
      const line = [`${name.padEnd(10)}${pinned ? '' : ' (server not pinned: no taskset)'}`];
      for (const p of paths) {
        const x = row(p);
        const ratio = p === '/bare' ? '—' : `${((x.rps / bare.rps) * 100).toFixed(0)}%`;
        table.push({ name, route: LABELS[p], ...x, ratio });
        line.push(`${p} ${x.rps.toFixed(0)} req/s${p === '/bare' ? '' : ` (${ratio})`}`);
      }
      console.log(line.join('   '));
    } finally {
      child.kill('SIGTERM');
    }
  }
  console.log('\n| framework | route | req/s | p50 | p99 | vs bare |');
  console.log('|---|---|---|---|---|---|');
  for (const r of table) console.log(`| ${r.name} | ${r.route} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.ratio} |`);
}
