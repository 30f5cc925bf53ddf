// enclave-kit benchmarks: every workload against raw node:vm (a fresh context per run, and one reused
// context) measured in the same process, in the same run. Prints p50 and p99 and the ratios the
// project's targets are stated in. Usage: pnpm bench [-- --quick] [-- --only agent,gate,tracing,compute]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { Enclave } from '@enclave-kit/engine';
import { AGENT, COMPUTE, HELLO, rawCallTool, rawScript as compileRaw, timedEntry, tools } from './workloads.mjs';
import { fmt, measure, quantile } from './measure.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice(7).split(',')) : null;
const scale = quick ? 0.2 : 1;
const n = (count) => Math.max(20, Math.round(count * scale));

// For the concurrency workload tools really wait (a macrotask), so runs interleave as in a server.
const yieldTick = () => new Promise((resolve) => setImmediate(resolve));
const slowTools = Object.fromEntries(Object.entries(tools).map(([k, fn]) => [k, async (a) => { await yieldTick(); return fn(a); }]));

// ---- measurement ------------------------------------------------------------------------------


const rows = [];
let memoryNote = '';
function report(workload, variant, m, base, baseName = 'raw fresh') {
  const ratio = base ? `${(m.p50 / base.p50).toFixed(2)}x${baseName === 'raw fresh' ? '' : ` (vs ${baseName})`}` : '';
  rows.push({ workload, variant, p50: fmt(m.p50), p99: fmt(m.p99), ratio, n: m.n });
  console.log(`${workload.padEnd(14)} ${variant.padEnd(24)} p50 ${fmt(m.p50).padStart(9)}  p99 ${fmt(m.p99).padStart(9)}  ${ratio ? `vs ${baseName} ${ratio.split(' ')[0]}` : ''}`);
}

function ensureOk(r) {
  if (!r.success) throw new Error(`benchmark run failed: ${JSON.stringify(r.error)}`);
  return r;
}

async function scriptWorkload(name, code, count, toolSet) {
  const rawScript = compileRaw(code);
  const reused = vm.createContext({ callTool: rawCallTool(toolSet) });
  const enclave = new Enclave();
  const rawFresh = await measure(count, () => rawScript.runInContext(vm.createContext({ callTool: rawCallTool(toolSet) })));
  const rawReused = await measure(count, () => rawScript.runInContext(reused));
  // For reference: a raw fresh context whose first entry has a timeout. It still leaves code after the
  // first await without any deadline, which is what enclave-kit's extra entries pay for.
  const rawTimeout = await measure(count, () => rawScript.runInContext(vm.createContext({ callTool: rawCallTool(toolSet) }), { timeout: 30_000 }));
  const ours = await measure(count, async () => ensureOk(await enclave.run(code, { tools: toolSet })));
  report(name, 'raw node:vm fresh', rawFresh);
  report(name, 'raw node:vm reused', rawReused, rawFresh);
  report(name, 'raw fresh + timeout', rawTimeout, rawFresh);
  report(name, 'enclave-kit (vm)', ours, rawFresh);
  if (name === 'agent') {
    // The floor of invariant 4 in vm mode: this workload enters the realm four times (the start and one
    // delivery per tool result), and Node starts a watchdog thread for each timed entry.
    const floor = await measure(count, async () => {
      for (let i = 0; i < 4; i++) timedEntry();
    });
    report(name, '4 empty timed entries', floor, rawFresh);
  }
  enclave.dispose();
  return { rawFresh, rawReused, ours };
}

// ---- worker_threads -----------------------------------------------------------------------------

// The baseline for worker mode: a warm worker that runs the script in a fresh raw node:vm context, with
// callTool as a JSON message round trip to this thread. No checks, no limits, no halt.
const RAW_WORKER = `const { parentPort } = require('node:worker_threads');
const vm = require('node:vm');
const pending = new Map();
let next = 0;
const callTool = (name, args) => new Promise((resolve) => { const id = ++next; pending.set(id, resolve); parentPort.postMessage(JSON.stringify(['call', id, name, args])); });
const scripts = new Map();
parentPort.on('message', (text) => {
  const m = JSON.parse(text);
  if (m[0] === 'reply') { const r = pending.get(m[1]); pending.delete(m[1]); r(m[2]); return; }
  let s = scripts.get(m[2]);
  if (!s) { s = new vm.Script('(async () => {\\n' + m[2] + '\\n})()'); scripts.set(m[2], s); }
  Promise.resolve(s.runInContext(vm.createContext({ callTool }))).then((v) => parentPort.postMessage(JSON.stringify(['done', m[1], v])));
});`;

function rawWorker(toolSet) {
  const worker = new Worker(RAW_WORKER, { eval: true });
  const waiting = new Map();
  let next = 0;
  worker.on('message', async (text) => {
    const m = JSON.parse(text);
    if (m[0] === 'call') worker.postMessage(JSON.stringify(['reply', m[1], await toolSet[m[2]](m[3])]));
    else {
      waiting.get(m[1])(m[2]);
      waiting.delete(m[1]);
    }
  });
  const run = (code) =>
    new Promise((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      worker.postMessage(JSON.stringify(['run', id, code]));
    });
  return { run, close: () => worker.terminate() };
}

async function workerWorkloads() {
  const raw = rawWorker(tools);
  await raw.run(HELLO);
  const rssBefore = process.memoryUsage().rss;
  const POOL = 2;
  const enclave = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: POOL, maxWorkers: POOL } });
  // Let the pool start and warm up before anything is measured.
  await Promise.all(Array.from({ length: POOL * 4 }, () => enclave.run(HELLO)));
  const perWorker = (process.memoryUsage().rss - rssBefore) / POOL / 1024 / 1024;
  for (const [name, code, count] of [['hello', HELLO, n(2000)], ['agent', AGENT, n(1500)]]) {
    const rawM = await measure(count, () => raw.run(code));
    const ours = await measure(count, async () => ensureOk(await enclave.run(code, { tools })));
    report(name, 'raw warm worker', rawM);
    report(name, 'enclave-kit (worker)', ours, rawM, 'raw worker');
  }
  console.log(`worker memory: about ${perWorker.toFixed(1)} MB of RSS per warm worker (process RSS growth over ${POOL} workers)`);
  memoryNote = `about ${perWorker.toFixed(1)} MB RSS per warm worker`;
  enclave.dispose();
  await raw.close();
}


/**
 * One workload in two variants, measured in alternating slices of one loop, so machine load during the
 * run weighs on both alike. Reports both and their ratio.
 */
async function compareVariants(workload, [offName, runOff], [onName, runOn], count) {
  for (let i = 0; i < Math.max(10, Math.round(count / 10)); i++) {
    await runOff();
    await runOn();
  }
  const slices = 20;
  const per = Math.max(1, Math.round(count / slices));
  const offTimes = [];
  const onTimes = [];
  for (let s = 0; s < slices; s++) {
    // Alternate which variant goes first, so neither always runs right after a GC of the other.
    const order = s % 2 === 0 ? [[runOff, offTimes], [runOn, onTimes]] : [[runOn, onTimes], [runOff, offTimes]];
    for (const [fn, times] of order) {
      for (let i = 0; i < per; i++) {
        const start = performance.now();
        await fn();
        times.push(performance.now() - start);
      }
    }
  }
  const summary = (times) => {
    times.sort((a, b) => a - b);
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), n: times.length };
  };
  const offM = summary(offTimes);
  const onM = summary(onTimes);
  report(workload, offName, offM);
  report(workload, onName, onM);
  console.log(`${''.padEnd(14)} ${onName} / ${offName}: p50 ${(onM.p50 / offM.p50).toFixed(3)}x, p99 ${(onM.p99 / offM.p99).toFixed(3)}x`);
  rows.push({ workload, variant: 'ratio', p50: `${(onM.p50 / offM.p50).toFixed(3)}x`, p99: `${(onM.p99 / offM.p99).toFixed(3)}x`, ratio: '', n: onM.n });
}

// The scoring gate on the agent workload, against the same workload without it.
async function gateWorkload(count) {
  const off = new Enclave();
  const on = new Enclave({ scoringGate: true });
  const first = await on.run(AGENT, { tools });
  if (first.scoring?.decision !== 'allow') throw new Error(`the gate judged the agent workload: ${JSON.stringify(first.scoring)}`);
  await compareVariants('agent + gate', ['gate off', async () => ensureOk(await off.run(AGENT, { tools }))], ['gate on (scoringGate)', async () => ensureOk(await on.run(AGENT, { tools }))], count);
  off.dispose();
  on.dispose();
}

// Tracing with @opentelemetry/api installed and no tracer provider registered (the default for a host
// that does not use OpenTelemetry), against tracing turned off.
async function tracingWorkload(count) {
  const off = new Enclave({ tracing: false });
  const on = new Enclave();
  await compareVariants('agent + tracing', ['tracing: false', async () => ensureOk(await off.run(AGENT, { tools }))], ['API, no provider', async () => ensureOk(await on.run(AGENT, { tools }))], count);
  off.dispose();
  on.dispose();
}


async function concurrentWorkload(count) {
  const CONC = 200;
  const rawScript = compileRaw(AGENT);
  const enclave = new Enclave();
  const batch = (fn) => Promise.all(Array.from({ length: CONC }, fn));
  const rawFresh = await measure(count, () => batch(() => rawScript.runInContext(vm.createContext({ callTool: rawCallTool(slowTools) }))));
  const ours = await measure(count, () => batch(async () => ensureOk(await enclave.run(AGENT, { tools: slowTools }))));
  report('200 concurrent', 'raw node:vm fresh', rawFresh);
  report('200 concurrent', 'enclave-kit (vm)', ours, rawFresh);
  enclave.dispose();
}

function coldStart(count) {
  // A new process per sample: import + construct + first run, timed inside the child.
  const engine = import.meta.resolve('@enclave-kit/engine');
  const ours = `const t0 = performance.now(); const { Enclave } = await import(${JSON.stringify(engine)}); const e = new Enclave(); const r = await e.run('return 1 + 1'); if (!r.success) process.exit(3); console.log(performance.now() - t0); process.exit(0);`;
  const raw = `const t0 = performance.now(); const vm = await import('node:vm'); const c = vm.createContext({}); const v = await new vm.Script('(async () => { return 1 + 1 })()').runInContext(c); if (v !== 2) process.exit(3); console.log(performance.now() - t0); process.exit(0);`;
  const sample = (src) => {
    const times = [];
    for (let i = 0; i < count; i++) {
      const out = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
      if (out.status !== 0) throw new Error(`cold start child failed: ${out.stderr}`);
      times.push(Number(out.stdout.trim()));
    }
    times.sort((a, b) => a - b);
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), n: count };
  };
  const rawM = sample(raw);
  const oursM = sample(ours);
  report('cold start', 'raw node:vm', rawM);
  report('cold start', 'enclave-kit (vm)', oursM, rawM);
}

console.log(`enclave-kit bench — node ${process.version}, ${process.platform}/${process.arch}${quick ? ' (quick)' : ''}\n`);

// What one realm entry under a deadline costs here: Node starts a watchdog thread per call.
report('one entry', 'runInContext + timeout', await measure(n(2000), async () => timedEntry()));
const want = (k) => !only || only.has(k);
if (want('hello')) await scriptWorkload('hello', HELLO, n(2000), tools);
if (want('agent')) await scriptWorkload('agent', AGENT, n(1500), tools);
if (want('agent') || want('gate')) await gateWorkload(n(3000));
if (want('agent') || want('tracing')) await tracingWorkload(n(3000));
if (want('compute')) await scriptWorkload('compute', COMPUTE, n(400), tools);
if (want('concurrent')) await concurrentWorkload(n(30));
if (want('worker')) await workerWorkloads();
if (want('cold')) coldStart(quick ? 5 : 15);

console.log('\n| workload | variant | p50 | p99 | p50 ratio |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.workload} | ${r.variant} | ${r.p50} | ${r.p99} | ${r.ratio || '—'} |`);
if (memoryNote) console.log(`\nworker_threads memory: ${memoryNote}`);
