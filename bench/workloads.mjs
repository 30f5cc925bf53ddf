// Workloads shared by the benchmarks (run.mjs in process, http.mjs over HTTP): the scripts, the
// tools they call, and the raw node:vm baselines they are measured against.
import { Session } from 'node:inspector';
import vm from 'node:vm';

export const HELLO = `return 1 + 1;`;

export const AGENT = `const users = await callTool('users:list', { limit: 20 });
const active = users.filter((u) => u.active);
const orders = await callTool('orders:list', { userIds: active.map((u) => u.id) });
const stats = await callTool('stats:get', {});
const byUser = orders.reduce((acc, o) => { acc[o.userId] = (acc[o.userId] || 0) + o.total; return acc; }, {});
const top = Object.entries(byUser).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, total]) => ({ id: Number(id), total }));
return { active: active.length, revenue: Object.values(byUser).reduce((a, b) => a + b, 0), top, region: stats.region };`;

export const COMPUTE = `let sum = 0;
for (let i = 0; i < 100000; i++) { sum += i % 7; }
return sum;`;

const USERS = Array.from({ length: 20 }, (_, i) => ({ id: i, name: `user${i}`, active: i % 3 !== 0 }));
export const tools = {
  'users:list': async ({ limit }) => USERS.slice(0, limit),
  'orders:list': async ({ userIds }) => userIds.flatMap((id) => [{ userId: id, total: id * 10 }, { userId: id, total: 5 }]),
  'stats:get': async () => ({ region: 'eu-west', uptime: 99.9 }),
};

/** AGENT written as plain code: what a route without a sandbox does with the same tools. */
export async function agentWithoutSandbox(toolSet = tools) {
  const users = await toolSet['users:list']({ limit: 20 });
  const active = users.filter((u) => u.active);
  const orders = await toolSet['orders:list']({ userIds: active.map((u) => u.id) });
  const stats = await toolSet['stats:get']({});
  const byUser = orders.reduce((acc, o) => { acc[o.userId] = (acc[o.userId] || 0) + o.total; return acc; }, {});
  const top = Object.entries(byUser).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, total]) => ({ id: Number(id), total }));
  return { active: active.length, revenue: Object.values(byUser).reduce((a, b) => a + b, 0), top, region: stats.region };
}

// ---- raw node:vm baselines ------------------------------------------------------------------------

/** A script as raw node:vm runs it: an async IIFE around the body, no checks, no limits. */
export const rawScript = (code) => new vm.Script(`(async () => {\n${code}\n})()`);

/** The raw baseline's `callTool`: calls the tool directly, no copying. */
export const rawCallTool = (set) => (name, a) => set[name](a);

const emptyContext = vm.createContext({});
const emptyScript = new vm.Script('0');
/** One empty realm entry under Node's deadline: Node starts (and joins) a watchdog thread for it. */
export const timedEntry = () => emptyScript.runInContext(emptyContext, { timeout: 30_000 });

/**
 * One empty realm entry under the deadline the engine uses in `vm` mode (sandbox/deadline.ts): the
 * inspector's `Runtime.evaluate` with a timeout, through a session of this thread, calling a function of
 * a private context that enters the realm. Nothing else: what invariant 4 costs an entry now.
 */
export const inspectorEntry = (() => {
  const session = new Session();
  session.connect();
  let entered = 0;
  const context = vm.createContext({ enter: () => (entered++, emptyScript.runInContext(emptyContext)) }, { name: 'bench:deadline' });
  let id;
  session.on('Runtime.executionContextCreated', (m) => {
    if (m.params.context.name === 'bench:deadline') id = m.params.context.uniqueId;
  });
  session.post('Runtime.enable');
  session.post('Runtime.disable');
  const params = { expression: 'enter()', uniqueContextId: id, timeout: 30_000, silent: true };
  // The entry must have run: an evaluation the inspector refused (a context collected, an unknown id)
  // answers faster than a real entry and would make the row a floor of nothing. Reading `context` here
  // also keeps it alive as long as this function is.
  return () => {
    const before = entered;
    session.post('Runtime.evaluate', params);
    if (entered === before) throw new Error(`the bench's private context (${typeof context}) did not run the entry`);
  };
})();

// ---- never-seen-before sources ----------------------------------------------------------------------

let uniqueSeq = 0;
const uniqueSalt = Math.random().toString(36).slice(2, 10);
/**
 * The script with a trailing comment no other run has: every cache keyed by the source misses, as it
 * does for LLM-written code, which is new text every time.
 */
export const unique = (code) => `${code}\n// run ${uniqueSalt}-${++uniqueSeq}`;
