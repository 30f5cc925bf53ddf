// What durable runs cost (README, "Approvals"): the same agent-like script plain, and durable (a tool
// that needs approval in scope, so the run keeps a journal); the run up to its pause, and its resume
// (three replayed reads, the approved call live); and Math.random() in a loop, native and through the
// host (every value journaled). p50 and p99 of each, in one process, one run. Usage: pnpm bench:durable
import { Enclave, defineTool } from '@enclave-kit/engine';
import { fmt, measure } from './measure.mjs';

const N = Number(process.argv.find((a) => a.startsWith('--n='))?.slice(4) ?? 400);


const orders = [{ id: 'o1', total: 120 }, { id: 'o3', total: 80 }];
const tools = [
  defineTool({ name: 'orders:list', handler: async () => orders }),
  defineTool({ name: 'orders:get', handler: async ({ id }) => orders.find((o) => o.id === id) }),
  defineTool({ name: 'orders:stats', handler: async () => ({ count: orders.length }) }),
  defineTool({ name: 'orders:refund', needsApproval: true, handler: async ({ id }) => ({ id, refunded: true }) }),
];
const READS = `const list = await callTool('orders:list', {}); const o = await callTool('orders:get', { id: list[0].id }); const s = await callTool('orders:stats', {});`;
const AGENT = `${READS} return { total: list.reduce((a, x) => a + x.total, 0), first: o.id, count: s.count };`;
const REFUND = `${READS} const r = await callTool('orders:refund', { id: o.id }); return r;`;
const RANDOM = 'let s = 0; for (let i = 0; i < 10000; i++) s += Math.random(); return s > 0;';

const enclave = new Enclave();
const rows = [];
const row = async (name, fn) => rows.push([name, await measure(N, fn)]);

await row('agent script, plain', () => enclave.run(AGENT, { tools }));
await row('agent script, durable (journaled)', () => enclave.run(AGENT, { tools, durable: true }));
const paused = await enclave.run(REFUND, { tools, durable: true });
if (paused.success || !paused.paused) throw new Error('the refund did not pause');
await row('run to the pause (3 reads, then pause)', () => enclave.run(REFUND, { tools, durable: true }));
const journal = JSON.parse(JSON.stringify(paused.paused.journal));
await row('resume (3 replayed reads, refund live)', () => enclave.run(REFUND, { tools, durable: { resume: { journal, decision: { approved: true } } } }));
await row('10k Math.random(), plain', () => enclave.run(RANDOM, { tools: tools.slice(0, 3) }));
await row('10k Math.random(), durable', () => enclave.run(RANDOM, { tools, durable: { maxJournalBytes: 1024 * 1024 } }));
enclave.dispose();

console.log(`durable runs (Node ${process.version}, ${N} runs each)`);
for (const [name, { p50, p99 }] of rows) console.log(`  ${name.padEnd(42)} p50 ${fmt(p50).padStart(9)}  p99 ${fmt(p99).padStart(9)}`);
console.log(`  journal of the pause: ${JSON.stringify(paused.paused.journal).length} bytes`);
