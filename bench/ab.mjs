// Two builds of the engine side by side, in one process: this checkout's `dist` ("new") against the
// `dist` of another checkout ("base", e.g. a `git worktree` of an older commit, built with `pnpm build`),
// each workload on never-seen sources, in alternating slices (ABBA) so that the machine's drift weighs
// on both alike. On a machine whose speed moves by a factor of two within an hour, ratios of two
// separate `npm run bench` runs say little; this is how the figures of a change are meant to be taken.
// Usage: node bench/ab.mjs --base=/path/to/other/checkout [--only=check,hello,agent,mix,compute,concurrent]
//   [--isolation=vm|worker_threads|both] [--runs=N] [--slices=N]
// Rows are p50 and p99 of each build and new/base at p50. One caveat, measured once: on rows bound by
// Node's watchdog threads (hello, agent, mix in vm mode) with one text repeated, two builds in one
// process read 15-25% apart where separate processes read alike; never-seen sources, as here, did not.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AGENT_SCRIPTS, agentTools } from './agents.mjs';
import { fmt, quantile } from './measure.mjs';
import { AGENT, COMPUTE, HELLO, tools, unique } from './workloads.mjs';

const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const base = arg('base', '');
if (base === '') {
  console.error('usage: node bench/ab.mjs --base=<checkout whose packages/engine/dist to compare with>');
  process.exit(2);
}
const only = arg('only', 'check,hello,agent,mix,compute').split(',');
const isolation = arg('isolation', 'both');
const runs = Number(arg('runs', 600));
const slices = Number(arg('slices', 20));

const builds = {
  new: await import('@enclave-kit/engine'),
  base: await import(pathToFileURL(path.resolve(base, 'packages/engine/dist/bundle/index.js')).href),
};

/** Runs `fn(build)` `runs` times per build, in `slices` alternating slices after a warm-up; p50/p99 of each. */
async function ab(fn, count = runs) {
  const times = { new: [], base: [] };
  const per = Math.max(1, Math.round(count / slices));
  for (const name of ['new', 'base']) for (let i = 0; i < Math.max(10, per); i++) await fn(name);
  for (let s = 0; s < slices; s++) {
    for (const name of s % 4 === 0 || s % 4 === 3 ? ['new', 'base'] : ['base', 'new']) {
      for (let i = 0; i < per; i++) {
        const start = performance.now();
        await fn(name);
        times[name].push(performance.now() - start);
      }
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, t]) => {
    t.sort((a, b) => a - b);
    return [name, { p50: quantile(t, 0.5), p99: quantile(t, 0.99) }];
  }));
}

const rows = [];
function report(workload, m) {
  const ratio = m.new.p50 / m.base.p50;
  rows.push(`| ${workload} | ${fmt(m.base.p50)} | ${fmt(m.new.p50)} | ${ratio.toFixed(3)}x | ${fmt(m.base.p99)} | ${fmt(m.new.p99)} |`);
  console.log(`${workload.padEnd(28)} base ${fmt(m.base.p50).padStart(9)}  new ${fmt(m.new.p50).padStart(9)}  new/base ${ratio.toFixed(3)}x`);
}

function ensureOk(r) {
  if (!r.success) throw new Error(`benchmark run failed: ${JSON.stringify(r.error)}`);
}

console.log(`enclave-kit A/B — node ${process.version}; new: this checkout, base: ${base}; ${runs} never-seen runs per build and row\n`);
if (only.includes('check')) {
  report('checkAgentScript (agent)', await ab((name) => {
    if (!builds[name].checkAgentScript(unique(AGENT)).ok) throw new Error('check failed');
  }));
}
const workloads = [
  ['hello', () => HELLO, tools],
  ['agent', () => AGENT, tools],
  ['mix', (i) => AGENT_SCRIPTS[i % AGENT_SCRIPTS.length].code, agentTools],
  ['compute', () => COMPUTE, tools],
].filter(([name]) => only.includes(name));
for (const adapter of isolation === 'both' ? ['vm', 'worker_threads'] : [isolation]) {
  if (workloads.length === 0) break;
  const enclaves = { new: new builds.new.Enclave({ adapter }), base: new builds.base.Enclave({ adapter }) };
  try {
    for (const [name, source, toolSet] of workloads) {
      const seq = { new: 0, base: 0 };
      report(`${name} (${adapter})`, await ab(async (build) => ensureOk(await enclaves[build].run(unique(source(seq[build]++)), { tools: toolSet }))));
    }
  } finally {
    enclaves.new.dispose();
    enclaves.base.dispose();
  }
}

if (only.includes('concurrent')) {
  // 200 never-seen agent runs started at once in vm mode, each tool answering a turn later (bench/run.mjs's
  // 200-concurrent row): one sample is the whole batch.
  const slowTools = Object.fromEntries(Object.entries(tools).map(([k, fn]) => [k, async (a) => (await new Promise((r) => setImmediate(r)), fn(a))]));
  const enclaves = { new: new builds.new.Enclave(), base: new builds.base.Enclave() };
  try {
    report('200 concurrent (vm)', await ab(async (build) => {
      const results = await Promise.all(Array.from({ length: 200 }, () => enclaves[build].run(unique(AGENT), { tools: slowTools })));
      results.forEach(ensureOk);
    }, Math.max(slices, Math.round(runs / 30))));
  } finally {
    enclaves.new.dispose();
    enclaves.base.dispose();
  }
}

console.log(['', '| workload | base p50 | new p50 | new / base | base p99 | new p99 |', '|---|---|---|---|---|---|', ...rows].join('\n'));
