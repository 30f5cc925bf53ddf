import { AGENT, tools } from '../../bench/workloads.mjs';
const { Enclave } = await import('./dist/bundle/index.js');
const mode = process.argv[2] ?? 'worker_threads';
const e = new Enclave({ adapter: mode, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
for (let i = 0; i < 500; i++) await e.run(AGENT, { tools });
const t = [];
for (let i = 0; i < 3000; i++) { const s = performance.now(); await e.run(AGENT, { tools }); t.push(performance.now() - s); }
const big = t.map((x, i) => [x, i]).filter(([x]) => x > 8);
const s = [...t].sort((a, b) => a - b);
console.log(mode, 'p50', s[1500].toFixed(2), 'p95', s[2850].toFixed(2), 'p99', s[2970].toFixed(2), 'max', s[2999].toFixed(1), 'mean', (t.reduce((a, b) => a + b) / t.length).toFixed(2), '>8ms:', big.length, 'sum of >8ms', big.reduce((a, [x]) => a + x, 0).toFixed(0));
console.log('indices of >8ms (first 30):', big.slice(0, 30).map(([x, i]) => `${i}:${x.toFixed(0)}`).join(' '));
e.dispose();
