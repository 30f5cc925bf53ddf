// enclave-kit benchmarks: every workload against raw node:vm (a fresh context per run) measured in the
// same process, in the same run, in alternating slices so that the machine's load weighs on every
// variant alike. By default every run's source is text never seen before (a unique trailing comment), as
// LLM traffic is: no cache keyed by the source and no optimized code of an earlier run helps. Rows
// labelled "same source" repeat one text, which is what caches and a warm JIT make of it.
// Usage: pnpm bench [-- --quick] [-- --only=agent,mix,gate,tracing,compute,rewrite,hello,concurrent,worker,check,cold]
//                   [-- --repeat=3]   (medians over repeated runs of every comparison)
// isolated-vm rows appear when the package resolves from bench/ or from BENCH_ISOLATED_VM (a path to an
// installed isolated-vm package); it has a native build, so it is not a dependency of the workspace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodeModule, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { Enclave, checkAgentScript } from '@enclave-kit/engine';
import MagicString from 'magic-string';
import { parseSync } from 'oxc-parser';
import { AGENT_SCRIPTS, agentTools } from './agents.mjs';
import { AGENT, COMPUTE, HELLO, inspectorEntry, rawCallTool, rawScript, timedEntry, tools, unique } from './workloads.mjs';
import { fmt, quantile } from './measure.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice(7).split(',')) : null;
const repeat = Number(args.find((a) => a.startsWith('--repeat='))?.slice(9) ?? 1);
const scale = quick ? 0.2 : 1;
const n = (count) => Math.max(20, Math.round(count * scale));
const want = (k) => !only || only.has(k);

// For the concurrency workload tools really wait (a macrotask), so runs interleave as in a server.
const yieldTick = () => new Promise((resolve) => setImmediate(resolve));
const slowTools = Object.fromEntries(Object.entries(tools).map(([k, fn]) => [k, async (a) => { await yieldTick(); return fn(a); }]));

// ---- measurement ------------------------------------------------------------------------------

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Times every variant `count` times, in 20 alternating slices (the order flips every slice), after a
 * warm-up of each. A variant is `[label, fn]`; `fn(i)` gets the sample's index.
 */
async function compare(count, variants) {
  const warm = Math.max(10, Math.round(count / 10));
  for (const [, fn] of variants) for (let i = 0; i < warm; i++) await fn(-1 - i);
  const times = variants.map(() => []);
  const slices = 20;
  const per = Math.max(1, Math.round(count / slices));
  let index = 0;
  for (let s = 0; s < slices; s++) {
    const order = variants.map((_, i) => i);
    if (s % 2 === 1) order.reverse();
    for (const v of order) {
      for (let i = 0; i < per; i++) {
        const start = performance.now();
        await variants[v][1](index++);
        times[v].push(performance.now() - start);
      }
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { p50: quantile(t, 0.5), p99: quantile(t, 0.99), n: t.length };
  });
}

/** `compare` repeated `repeat` times: per variant, the median p50 and p99, and the median ratio to the first variant. */
async function compareRepeated(count, variants) {
  const runs = [];
  for (let r = 0; r < repeat; r++) runs.push(await compare(count, variants));
  return variants.map((_, v) => ({
    p50: median(runs.map((m) => m[v].p50)),
    p99: median(runs.map((m) => m[v].p99)),
    ratio: median(runs.map((m) => m[v].p50 / m[0].p50)),
    n: runs.reduce((s, m) => s + m[v].n, 0),
  }));
}


const rows = [];
function report(workload, variant, m, baseName = 'raw fresh', target = '') {
  const ratio = m.ratio !== undefined && m.ratio !== 1 ? `${m.ratio.toFixed(2)}x` : '';
  rows.push({ workload, variant, p50: fmt(m.p50), p99: fmt(m.p99), ratio: ratio ? `${ratio}${target ? ` (${target})` : ''}` : '', n: m.n });
  console.log(`${workload.padEnd(16)} ${variant.padEnd(36)} p50 ${fmt(m.p50).padStart(9)}  p99 ${fmt(m.p99).padStart(9)}  ${ratio ? `vs ${baseName} ${ratio}` : ''}`);
}

function ensureOk(r) {
  if (!r.success) throw new Error(`benchmark run failed: ${JSON.stringify(r.error)}`);
  return r;
}

// ---- isolated-vm (optional peer) --------------------------------------------------------------

function loadIsolatedVm() {
  const from = process.env.BENCH_ISOLATED_VM;
  try {
    const require = createRequire(from ? `${from.replace(/\/$/, '')}/` : import.meta.url);
    return require(from ? from : 'isolated-vm');
  } catch {
    return null;
  }
}
const ivm = loadIsolatedVm();

/**
 * isolated-vm as its users run agent code: one isolate (64 MB), a fresh context per run, `callTool` as
 * a Reference whose async result comes back as a promise, values copied as JSON, a timeout on the run.
 */
function isolatedVmRunner(toolSet) {
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const bridge = new ivm.Reference(async (name, argsJson) => JSON.stringify(await toolSet[name](JSON.parse(argsJson))));
  return {
    async run(code) {
      const context = await isolate.createContext();
      try {
        await context.evalClosure(
          `globalThis.callTool = async (name, args) => JSON.parse(await $0.apply(undefined, [name, JSON.stringify(args)], { arguments: { copy: true }, result: { promise: true } }));`,
          [bridge],
        );
        const script = await isolate.compileScript(`(async () => {\n${code}\n})().then((v) => JSON.stringify(v))`);
        return JSON.parse(await script.run(context, { timeout: 30_000, promise: true }));
      } finally {
        context.release();
      }
    },
    dispose: () => isolate.dispose(),
  };
}

// ---- the rewrite alone ----------------------------------------------------------------------------

// What the rewrite's guards cost on their own: the checked, rewritten text run like the floor (a fresh
// context per run, no realm runtime, no deadline), with every guard helper a stub that passes its value
// through. Each text is checked once, with a placeholder comment that every run replaces by a unique
// one, so the check stays out of the timing and V8 still compiles new text every run.
const PLACEHOLDER = '// enclave-kit bench placeholder';
const STUB_HELPERS = Object.freeze({
  L: Number.MAX_SAFE_INTEGER, D: 10_000, f() {}, g: (turn) => turn + 256, r() {}, c() {}, m: (k) => k, mc: (k) => k, sp: (x) => x, os: (x) => x,
  dt: (set) => ({ set v(value) { set(value); } }), ls: (o, v) => (o.length = v), lt: (o) => o, fi: (o) => o, bn: (x) => x,
  am: (p) => p, ar: (_p, caught) => caught, big: (s) => s, y() {}, cs: (_line, _column, value) => value, bind() {},
});
const QUIET_CONSOLE = Object.freeze(Object.fromEntries(['log', 'info', 'warn', 'error', 'debug'].map((k) => [k, () => {}])));
const rewrites = new Map();
function rewriteOf(code) {
  let text = rewrites.get(code);
  if (text === undefined) {
    const r = checkAgentScript(`${code}\n${PLACEHOLDER}`);
    if (!r.ok || !r.compiled.source.includes(PLACEHOLDER)) throw new Error('the bench could not rewrite a workload');
    text = r.compiled.source;
    rewrites.set(code, text);
  }
  return text;
}
function rewrittenFresh(code, toolSet) {
  let factory;
  const context = vm.createContext({ __ek_register: (f) => { factory = f; return 1; } });
  new vm.Script(rewriteOf(code).replace(PLACEHOLDER, unique('').trim())).runInContext(context);
  return factory(STUB_HELPERS, rawCallTool(toolSet), QUIET_CONSOLE, undefined)();
}

// ---- workloads ----------------------------------------------------------------------------------

/**
 * One workload: the unique-source rows (raw fresh, enclave-kit vm, worker_threads, isolated-vm) and the
 * same-source rows, all in one alternating comparison. `source(i)` gives the script of sample i.
 */
async function scriptWorkload(name, source, count, toolSet, { workerEnclave, entries = 0 }) {
  const enclave = new Enclave();
  const same = source(0);
  const sameRaw = rawScript(same);
  const iso = ivm ? isolatedVmRunner(toolSet) : null;
  const rawFresh = (i) => rawScript(unique(source(i))).runInContext(vm.createContext({ callTool: rawCallTool(toolSet) }));
  const variants = [
    ['raw node:vm fresh context', rawFresh],
    // What invariant 4 alone costs in vm mode: the floor plus one empty entry under a deadline per realm
    // entry the script needs (its start and one per sequential tool result), as the engine bounds them
    // (the inspector's evaluate), and as Node's watchdog thread would.
    ...(entries > 0 ? [[`raw node:vm fresh + ${entries} deadline entries`, (i) => {
      for (let k = 0; k < entries; k++) inspectorEntry();
      return rawFresh(i);
    }], [`raw node:vm fresh + ${entries} watchdog entries`, (i) => {
      for (let k = 0; k < entries; k++) timedEntry();
      return rawFresh(i);
    }]] : []),
    ['enclave-kit (vm)', async (i) => ensureOk(await enclave.run(unique(source(i)), { tools: toolSet }))],
    ['enclave-kit (worker_threads)', async (i) => ensureOk(await workerEnclave.run(unique(source(i)), { tools: toolSet }))],
    ...(iso ? [['isolated-vm, fresh context', (i) => iso.run(unique(source(i)))]] : []),
    ['raw node:vm fresh, same source', () => sameRaw.runInContext(vm.createContext({ callTool: rawCallTool(toolSet) }))],
    ['enclave-kit (vm), same source', async () => ensureOk(await enclave.run(same, { tools: toolSet }))],
  ];
  const m = await compareRepeated(count, variants);
  const target = { agent: '≤ 2x', mix: '≤ 2x', compute: '≤ 1.3x' }[name] ?? '';
  variants.forEach(([label], v) => report(name, v === 0 ? `${label} (floor)` : label, m[v], 'raw fresh', /enclave/.test(label) && !/same/.test(label) ? target : ''));
  enclave.dispose();
  iso?.dispose();
}

/**
 * The guards alone (see rewrittenFresh): each workload's floor beside the same floor running the
 * rewritten text, in a comparison of their own. (Inside the workloads' comparison, a second row that
 * makes a context per run doubled the contexts the collector has to reclaim and slowed every row.)
 */
async function rewriteWorkload(count) {
  const workloads = [
    ['agent', () => AGENT, tools],
    ['mix', (i) => AGENT_SCRIPTS[Math.abs(i) % AGENT_SCRIPTS.length].code, agentTools],
    ['compute', () => COMPUTE, tools],
  ];
  for (const [name, source, toolSet] of workloads) {
    const variants = [
      ['raw node:vm fresh context', (i) => rawScript(unique(source(i))).runInContext(vm.createContext({ callTool: rawCallTool(toolSet) }))],
      ['raw node:vm fresh, rewritten text', (i) => rewrittenFresh(source(i), toolSet)],
    ];
    const m = await compareRepeated(name === 'compute' ? Math.round(count / 3) : count, variants);
    report(`${name} (rewrite)`, 'raw node:vm fresh context (floor)', m[0]);
    report(`${name} (rewrite)`, 'raw node:vm fresh, rewritten text', m[1]);
  }
}

/** checkAgentScript alone on unique sources, beside the floor of what it does: oxc parse + magic-string. */
async function checkWorkload(count) {
  const variants = [
    ['oxc parse + walk + magic-string (floor)', (i) => {
      const code = unique(AGENT);
      const wrapped = `async function f() {\n${code}\n}`;
      const { program } = parseSync('a.js', wrapped, { sourceType: 'module', lang: 'js', preserveParens: false });
      const s = new MagicString(wrapped);
      // The floor's walk touches every node once and inserts at each function body, like the rewriter.
      const stack = [program];
      while (stack.length > 0) {
        const node = stack.pop();
        if (node.type === 'ArrowFunctionExpression' && node.body.type === 'BlockStatement') s.appendLeft(node.body.start + 1, ' g();');
        for (const k in node) {
          const v = node[k];
          if (v && typeof v === 'object') {
            if (Array.isArray(v)) { for (const x of v) if (x && typeof x.type === 'string') stack.push(x); }
            else if (typeof v.type === 'string') stack.push(v);
          }
        }
      }
      if (i === -1e9) console.log(s.toString());
      return s.toString();
    }],
    ['checkAgentScript, unique source', () => {
      if (!checkAgentScript(unique(AGENT)).ok) throw new Error('check failed');
    }],
    ['checkAgentScript, same source', () => {
      if (!checkAgentScript(AGENT).ok) throw new Error('check failed');
    }],
  ];
  const m = await compareRepeated(count, variants);
  variants.forEach(([label], v) => report('check (agent)', label, m[v], 'floor', v === 1 ? '≤ 0.25 ms p50' : ''));
}

/**
 * One workload in two variants (an option off and on), unique sources, in alternating slices; reports
 * both and the on/off ratio of p50 and p99.
 */
async function onOffWorkload(workload, [offName, off], [onName, on], count) {
  const [offM, onM] = await compareRepeated(count, [[offName, off], [onName, on]]);
  report(workload, offName, offM);
  report(workload, onName, onM, offName);
  rows.push({ workload, variant: 'on / off ratio', p50: `${(onM.p50 / offM.p50).toFixed(3)}x`, p99: `${(onM.p99 / offM.p99).toFixed(3)}x`, ratio: '', n: onM.n });
}

// The scoring gate on the agent workload, against the same workload without it.
async function gateWorkload(count) {
  const off = new Enclave();
  const on = new Enclave({ scoringGate: true });
  const first = await on.run(AGENT, { tools });
  if (first.scoring?.decision !== 'allow') throw new Error(`the gate judged the agent workload: ${JSON.stringify(first.scoring)}`);
  await onOffWorkload('agent + gate', ['gate off', async () => ensureOk(await off.run(unique(AGENT), { tools }))], ['gate on (scoringGate)', async () => ensureOk(await on.run(unique(AGENT), { tools }))], count);
  off.dispose();
  on.dispose();
}

// Tracing with @opentelemetry/api installed and no tracer provider registered (the default for a host
// that does not use OpenTelemetry), against tracing turned off.
async function tracingWorkload(count) {
  const off = new Enclave({ tracing: false });
  const on = new Enclave();
  await onOffWorkload('agent + tracing', ['tracing: false', async () => ensureOk(await off.run(unique(AGENT), { tools }))], ['API, no provider', async () => ensureOk(await on.run(unique(AGENT), { tools }))], count);
  off.dispose();
  on.dispose();
}

async function concurrentWorkload(count) {
  const CONC = 200;
  const enclave = new Enclave();
  const batch = (fn) => Promise.all(Array.from({ length: CONC }, fn));
  const variants = [
    ['raw node:vm fresh context', () => batch(() => rawScript(unique(AGENT)).runInContext(vm.createContext({ callTool: rawCallTool(slowTools) })))],
    ['enclave-kit (vm)', () => batch(async () => ensureOk(await enclave.run(unique(AGENT), { tools: slowTools })))],
  ];
  const m = await compareRepeated(count, variants);
  report('200 concurrent', 'raw node:vm fresh context (floor)', m[0]);
  report('200 concurrent', 'enclave-kit (vm)', m[1], 'raw fresh', '≤ 2x');
  enclave.dispose();
}

// ---- worker_threads -----------------------------------------------------------------------------

// The baseline for worker mode: a warm worker that runs the script in a fresh raw node:vm context, with
// callTool as a JSON message round trip to this thread. No checks, no limits, no halt.
const RAW_WORKER = `const { parentPort } = require('node:worker_threads');
const vm = require('node:vm');
const pending = new Map();
let next = 0;
const callTool = (name, args) => new Promise((resolve) => { const id = ++next; pending.set(id, resolve); parentPort.postMessage(JSON.stringify(['call', id, name, args])); });
parentPort.on('message', (text) => {
  const m = JSON.parse(text);
  if (m[0] === 'reply') { const r = pending.get(m[1]); pending.delete(m[1]); r(m[2]); return; }
  const s = new vm.Script('(async () => {\\n' + m[2] + '\\n})()');
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

async function workerWorkload(workerEnclave) {
  const raw = rawWorker(tools);
  await raw.run(HELLO);
  const same = unique(AGENT);
  const variants = [
    ['raw warm worker, fresh context', () => raw.run(unique(AGENT))],
    ['enclave-kit (worker_threads)', async () => ensureOk(await workerEnclave.run(unique(AGENT), { tools }))],
    // A lower bound for the adapter: the raw worker's messages plus the check every new text needs before
    // it may run (on the host's thread, before the worker sees it), and nothing else.
    ['raw warm worker + checkAgentScript', () => {
      const code = unique(AGENT);
      if (!checkAgentScript(code).ok) throw new Error('check failed');
      return raw.run(code);
    }],
    // One text again and again: what is left is the transport and the run lifecycle, not the checks.
    ['raw warm worker, same source', () => raw.run(same)],
    ['enclave-kit (worker_threads), same source', async () => ensureOk(await workerEnclave.run(same, { tools }))],
  ];
  const m = await compareRepeated(n(1000), variants);
  report('agent (worker)', 'raw warm worker, fresh context (floor)', m[0]);
  report('agent (worker)', 'enclave-kit (worker_threads)', m[1], 'raw worker', '≤ 2x');
  report('agent (worker)', 'raw warm worker + checkAgentScript', m[2], 'raw worker');
  report('agent (worker)', 'raw warm worker, same source (floor)', { ...m[3], ratio: undefined });
  report('agent (worker)', 'enclave-kit (worker_threads), same source', { ...m[4], ratio: m[4].p50 / m[3].p50 }, 'raw worker, same source', '≤ 1.1x');
  await raw.close();
}

function coldStart(count) {
  // A new process per sample: import + construct + first run, timed inside the child.
  const engine = import.meta.resolve('@enclave-kit/engine');
  const ours = `const t0 = performance.now(); const { Enclave } = await import(${JSON.stringify(engine)}); const e = new Enclave(); const r = await e.run('return 1 + 1'); if (!r.success) process.exit(3); console.log(performance.now() - t0); process.exit(0);`;
  const raw = `const t0 = performance.now(); const vm = await import('node:vm'); const c = vm.createContext({}); const v = await new vm.Script('(async () => { return 1 + 1 })()').runInContext(c); if (v !== 2) process.exit(3); console.log(performance.now() - t0); process.exit(0);`;
  // Node 22 and later can keep V8's code of the modules a process compiles (NODE_COMPILE_CACHE, or
  // module.enableCompileCache() called by the application): the same child again, with a cache this
  // bench primes once. The library never turns that process-wide cache on by itself.
  const cacheDir = typeof nodeModule.enableCompileCache === 'function' ? mkdtempSync(path.join(tmpdir(), 'enclave-bench-cache-')) : undefined;
  const variants = [[raw, process.env], [ours, process.env]];
  if (cacheDir) variants.push([ours, { ...process.env, NODE_COMPILE_CACHE: cacheDir }]);
  const child = (src, env) => {
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', src], { encoding: 'utf8', env, cwd: fileURLToPath(new URL('.', import.meta.url)) });
    if (out.status !== 0) throw new Error(`cold start child failed: ${out.stderr}`);
    return Number(out.stdout.trim());
  };
  if (cacheDir) child(ours, variants[2][1]);
  const times = variants.map(() => []);
  // Alternate the variants, so load drift weighs on all of them.
  for (let i = 0; i < count; i++) variants.forEach(([src, env], k) => times[k].push(child(src, env)));
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  const [rawM, oursM, cachedM] = times.map((t) => {
    t.sort((a, b) => a - b);
    return { p50: quantile(t, 0.5), p99: quantile(t, 0.99), n: count };
  });
  const target = `< ${process.versions.node.startsWith('20.') ? 50 : 30} ms`;
  oursM.ratio = oursM.p50 / rawM.p50;
  report('cold start', 'raw node:vm', rawM);
  report('cold start', 'enclave-kit: import + first run', oursM, 'raw', target);
  if (cachedM) {
    cachedM.ratio = cachedM.p50 / rawM.p50;
    report('cold start', 'enclave-kit: import + first run, NODE_COMPILE_CACHE set by the application', cachedM, 'raw', target);
  }
}

console.log(`enclave-kit bench — node ${process.version}, ${process.platform}/${process.arch}${quick ? ' (quick)' : ''}, a never-seen-before source per run unless labelled "same source"${repeat > 1 ? `, medians of ${repeat} repeats` : ''}${ivm ? '' : '; isolated-vm not found (set BENCH_ISOLATED_VM)'}\n`);

const POOL = 2;
const workerEnclave = new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: POOL, maxWorkers: POOL } });
await workerEnclave.ready();
// What one realm entry under a deadline costs here: Node starts a watchdog thread per call.
{
  const [watchdog, inspector] = await compare(n(2000), [['watchdog', () => timedEntry()], ['inspector', () => inspectorEntry()]]);
  report('one entry', 'runInContext + timeout (Node\'s watchdog)', watchdog);
  report('one entry', 'inspector evaluate + timeout (the engine\'s)', inspector);
}
if (want('check')) await checkWorkload(n(3000));
if (want('hello')) await scriptWorkload('hello', () => HELLO, n(1500), tools, { workerEnclave });
if (want('agent')) await scriptWorkload('agent', () => AGENT, n(1000), tools, { workerEnclave, entries: 4 });
if (want('agent') || want('gate')) await gateWorkload(n(1500));
if (want('agent') || want('tracing')) await tracingWorkload(n(1500));
if (want('mix')) await scriptWorkload('mix', (i) => AGENT_SCRIPTS[Math.abs(i) % AGENT_SCRIPTS.length].code, n(1000), agentTools, { workerEnclave });
if (want('compute')) await scriptWorkload('compute', () => COMPUTE, n(300), tools, { workerEnclave });
if (want('rewrite')) await rewriteWorkload(n(900));
if (want('concurrent')) await concurrentWorkload(n(30));
if (want('worker')) await workerWorkload(workerEnclave);
workerEnclave.dispose();
if (want('cold')) coldStart(quick ? 6 : 20);

console.log('\n| workload | variant | p50 | p99 | p50 ratio (target) |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.workload} | ${r.variant} | ${r.p50} | ${r.p99} | ${r.ratio || '—'} |`);
