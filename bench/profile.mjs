// Where the time of one never-seen-before run goes: samples the CPU (node:inspector's profiler, in this
// process) while the agent workload runs with a unique source per run, then charges every sample to one
// stage of the pipeline by the frames on its stack. Usage: pnpm bench:profile [-- --worker] [-- --runs=N]
//   [-- --workload=agent|compute|mix] [-- --detail]   (--detail: the functions that take each stage's time)
import { Session } from 'node:inspector/promises';
import { Enclave } from '@enclave-kit/engine';
import { AGENT_SCRIPTS } from './agents.mjs';
import { AGENT, COMPUTE, tools, unique } from './workloads.mjs';

const args = process.argv.slice(2);
const worker = args.includes('--worker');
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 1500);
const workload = args.find((a) => a.startsWith('--workload='))?.slice(11) ?? 'agent';
const pick = workload === 'compute' ? () => COMPUTE : workload === 'mix' ? (i) => AGENT_SCRIPTS[i % AGENT_SCRIPTS.length].code : () => AGENT;
const toolSet = workload === 'mix' ? (await import('./agents.mjs')).agentTools : tools;

// Stages, from the innermost frame that names one. `fn` matches the function name, `url` the script.
const STAGES = [
  ['check: pre-scan', (f) => f.functionName === 'prescan'],
  ['check: parse (oxc + AST JSON)', (f) => f.functionName === 'parseAgentScript'],
  ['check: validate (scope, rules)', (f) => f.functionName === 'validateAst'],
  ['check: rewrite (magic-string)', (f) => f.functionName === 'transformAgentScript'],
  ['check: V8 compile', (f) => f.functionName === 'compileScript'],
  ['realm: script code', (f) => f.url.endsWith('agentscript.js')],
  ['realm: codec (copy in/out)', (f) => f.url.startsWith('enclave:runtime') && /^(encode|enc|encodeObject|encodeArray|decode|dec|revive|num|charge|tagged)$/.test(f.functionName)],
  ['realm: tool bridge', (f) => f.url.startsWith('enclave:runtime') && /^(callTool|pump|handledCapability|callSite|makeToolError)$/.test(f.functionName)],
  ['realm: guards', (f) => f.url.startsWith('enclave:runtime') && /^(f|c|m|mc|sp|os|big|am|ar|markHandled|markOrThrow|checkAlive|checkMemory)$/.test(f.functionName)],
  ['realm: run set-up and report', (f) => f.url.startsWith('enclave:runtime') || f.url.startsWith('enclave:')],
  ['host: tool call (invoke, copy)', (f) => /^(invokeHostTool|invokeWithEvents|copyResult)$/.test(f.functionName)],
  ['host: codec (input, result)', (f) => /^(copyOut|encode|decode)$/.test(f.functionName)],
  // The entry's deadline: the inspector's evaluate (deadline.ts), or Node's watchdog inside runInContext.
  ['realm entry (V8 + deadline)', (f) => (f.functionName === 'runInContext' || f.functionName === 'dispatch') && f.url === '' || (f.functionName === 'post' && f.url === 'node:inspector')],
  ['realm creation', (f) => f.functionName === 'Realm' || f.functionName === 'createContext'],
  ['host: driver and scheduler', (f) => /^(drive|start|deliver|enterAlone|afterEntry|#flush|#entry|#call|#finish|#execute|run)$/.test(f.functionName)],
  ['worker: messages', (f) => /^(postMessage|onmessage|emit|#onMessage|#handle)$/.test(f.functionName)],
];

function classify(stack) {
  // `stack` goes from the leaf up: the first frame that names a stage decides, except that the check's
  // stages are decided by their outermost frame (a parse under validation is validation's).
  for (const frame of stack) {
    if (frame.functionName === '(garbage collector)') return 'garbage collection';
    if (frame.functionName === '(idle)') return 'idle (waiting: tools, event loop)';
    if (frame.functionName === '(program)') return 'native, outside JS';
  }
  for (const [name, test] of STAGES.slice(0, 5)) if (stack.some(test)) return name;
  for (const frame of stack) for (const [name, test] of STAGES.slice(5)) if (test(frame)) return name;
  return 'other host code';
}

const enclave = worker ? new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 2, maxWorkers: 2 } }) : new Enclave();
await enclave.ready();
for (let i = 0; i < 200; i++) await enclave.run(unique(pick(i)), { tools: toolSet });

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 50 });
await session.post('Profiler.start');
const t0 = performance.now();
for (let i = 0; i < runs; i++) {
  const r = await enclave.run(unique(pick(i)), { tools: toolSet });
  if (!r.success) throw new Error(`profile run failed: ${JSON.stringify(r.error)}`);
}
const wall = performance.now() - t0;
const { profile } = await session.post('Profiler.stop');
session.disconnect();
enclave.dispose();

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const stackCache = new Map();
const stackOf = (id) => {
  let s = stackCache.get(id);
  if (s) return s;
  s = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) s.push(byId.get(cur).callFrame);
  stackCache.set(id, s);
  return s;
};
const totals = new Map();
/** Per stage, self time by function: what `--detail` lists under each stage. */
const leaves = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const stack = stackOf(id);
  const stage = classify(stack);
  totals.set(stage, (totals.get(stage) ?? 0) + dt);
  const leaf = `${stack[0].functionName || '(anonymous)'} ${stack[0].url.split('/').pop()}:${stack[0].lineNumber + 1}`;
  const byLeaf = leaves.get(stage) ?? new Map();
  byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + dt);
  leaves.set(stage, byLeaf);
});

const perRun = (us) => `${(us / 1000 / runs * 1000).toFixed(0).padStart(5)} µs/run`;
console.log(`profile: ${runs} runs of the ${workload} workload, a unique source each, ${worker ? 'worker_threads' : 'vm'} isolation, node ${process.version}`);
console.log(`wall ${(wall / runs).toFixed(3)} ms/run (sampled ${(total / 1000 / runs).toFixed(3)} ms/run of this thread)\n`);
console.log('| stage | share | per run |');
console.log('|---|---|---|');
for (const [stage, us] of [...totals].sort((a, b) => b[1] - a[1])) {
  console.log(`| ${stage} | ${((100 * us) / total).toFixed(1)}% | ${perRun(us).trim()} |`);
}
if (args.includes('--detail')) {
  for (const [stage, byLeaf] of leaves) {
    console.log(`\n${stage}`);
    for (const [leaf, us] of [...byLeaf].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${perRun(us)}  ${leaf}`);
  }
}
