/**
 * Invariant 4 for code whose steps are slow native work: `s == 1` over a string of 7.2e6 characters
 * converts the whole string (2-7 ms) in one bytecode. V8 honours the deadline's termination only where
 * the script calls a function (the guards' calls into the runtime among them) or where its own interrupt
 * budget for the code runs out (after about 66 KB of bytecode executed, never in straight-line code), so
 * a run ended as far past its deadline as the stretch between two such calls. Loop guards called the
 * runtime every 256 turns (light loops) or up to every 16,384 (heavy ones), and runs ended 52-959 ms
 * late; 3,000 statements `x|=s==1;` with no loop at all (24 KB, within STRICT's limit) ran 14.5 s
 * past the deadline. The runtime now paces loop checkpoints by time (PACE_MS), and the rewriter sends
 * one in STEP_SITES operators that may read a whole string through a call (Guards.y).
 *
 * Only a clock can show this, so it runs in a child process, and what is measured is the child's CPU
 * time for each run, not its wall time: a busy machine gives the child less CPU, never more, so the
 * CPU a run uses is at most its deadline plus what ran past it, however loaded the machine. Work past
 * the deadline is what the old cadence left: hundreds of turns of a few ms. The loops' deadlines are
 * spread over a factor of two (the old stretches doubled in length up to their cap), so that whatever a
 * turn costs on this machine, one of them lands early in a long stretch.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, hostsRuns } from '../helpers.js';

const DEADLINES = [400, 500, 630, 800];
/**
 * CPU a run may use past its deadline: a few turns, a checkpoint, the collector's threads (process CPU
 * counts them too) and the result path. The old cadence used 200-1,300 ms past it in at least one run.
 */
const PAST_MS = 200;

const LOOPS = {
  // A light loop: its guard calls the runtime once per grant of turns.
  light: 'for (;;) { x += (s == 1) ? 1 : 0; }',
  // A heavy one (it may suspend): its guard calls the runtime at each checkpoint.
  heavy: 'for (;;) { x += (s == 1) ? 1 : 0; if (x < 0) await null; }',
} as const;
/** No loop and no call: 3,000 such steps (about 15 s of them) in 24 KB, within STRICT's 32 KB. */
const STRAIGHT = Array.from({ length: 20 }, () => 'x|=s==1;'.repeat(150)).join('\n');

const OPTIONS = {
  unguarded: "{ securityLevel: 'STRICT', validate: false, transform: false }",
  guarded: "{ securityLevel: 'STRICT', validate: false }",
  // STRICT as it comes: its validator refuses the loops above (`for (;;)`), not the straight-line script.
  validated: "{ securityLevel: 'STRICT' }",
} as const;
const WITH_LOOPS = ['unguarded', 'guarded'];

const childSource = (options: string, loops: boolean) => `
const enclave = new Enclave({ ...${options}, memoryLimit: 64 * 1024 * 1024, maxIterations: 1e12, timeout: 5000 });
await enclave.run('return 1');
const out = {};
for (const [kind, loop] of Object.entries(${loops ? JSON.stringify(LOOPS) : '{}'})) {
  for (const deadline of ${JSON.stringify(DEADLINES)}) {
    const code = "const s = ' '.repeat(7.2e6) + 'a'; let x = 0; " + loop;
    const cpu = process.cpuUsage();
    const r = await enclave.run(code, { timeout: deadline });
    const used = process.cpuUsage(cpu);
    out[kind + deadline] = { code: r.success ? 'OK' : r.error.code, past: Math.round((used.user + used.system) / 1000 - deadline) };
  }
}
// Twice: a text's first run may spend its time elsewhere (the old code ended one run of this text 32 ms
// late and the next 9.5 s late).
for (const key of ['straight', 'straightAgain']) {
  const deadline = ${DEADLINES[0]};
  const cpu = process.cpuUsage();
  const r = await enclave.run("const s = ' '.repeat(7.2e6) + 'a'; let x = 0;\\n" + ${JSON.stringify(STRAIGHT)}, { timeout: deadline });
  const used = process.cpuUsage(cpu);
  out[key] = { code: r.success ? 'OK' : r.error.code, past: Math.round((used.user + used.system) / 1000 - deadline) };
}
enclave.dispose();
console.log('RESULT ' + JSON.stringify(out));
`;

/**
 * In `worker_threads` the host gets its TIMEOUT at the deadline whatever the worker does, but the worker
 * is halted by the same termination (`worker.terminate()`), so until it lands the thread keeps a core
 * busy: the old code burnt 1.1 s of CPU past the deadline on the straight-line script. Measured over
 * the run and a wait after it, for the whole process: the deadline, the replacement worker's start and
 * little else.
 */
const WORKER_WAIT_MS = 2000;
const WORKER_PAST_MS = 600;
const workerSource = `
const enclave = new Enclave({ securityLevel: 'STRICT', validate: false, transform: false, memoryLimit: 64 * 1024 * 1024, timeout: 5000, adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
await enclave.run('return 1');
const deadline = ${DEADLINES[0]};
const cpu = process.cpuUsage();
const r = await enclave.run("const s = ' '.repeat(7.2e6) + 'a'; let x = 0;\\n" + ${JSON.stringify(STRAIGHT)}, { timeout: deadline });
await new Promise((resolve) => setTimeout(resolve, ${WORKER_WAIT_MS}));
const used = process.cpuUsage(cpu);
enclave.dispose();
console.log('RESULT ' + JSON.stringify({ code: r.success ? 'OK' : r.error.code, past: Math.round((used.user + used.system) / 1000 - deadline) }));
`;

const children = new ChildBatch(1);
const runs = Object.keys(LOOPS).length * DEADLINES.length + 2;
const killAfterMs = hostsRuns(runs, 5000);
const keys = Object.fromEntries(Object.entries(OPTIONS).map(([name, options]) => [name, children.add(name, childSource(options, WITH_LOOPS.includes(name)), { killAfterMs })]));
const workerKey = children.add('worker', workerSource, { killAfterMs: hostsRuns(2, 5000) + WORKER_WAIT_MS });
beforeAll(() => children.start(), 2 * killAfterMs);

describe('invariant 4: straight-line slow steps stop the worker soon after its deadline [worker_threads, unguarded]', () => {
  it('TIMEOUT, and little CPU past the deadline in the run and the wait after it', async () => {
    const child = await children.result(workerKey);
    const out = childResult(child) as { code: string; past: number } | undefined;
    expect(out?.code, describeChild(child)).toBe('TIMEOUT');
    expect(out?.past, `CPU past the deadline: ${JSON.stringify(out)}`).toBeLessThan(WORKER_PAST_MS);
  }, 2 * killAfterMs);
});

describe.each(Object.keys(OPTIONS))('invariant 4: code of slow native steps ends soon after its deadline [vm, %s]', (name) => {
  it.skipIf(!WITH_LOOPS.includes(name)).each(Object.keys(LOOPS))('%s loop: TIMEOUT, and little CPU past the deadline', async (kind) => {
    const child = await children.result(keys[name] as string);
    const out = childResult(child) as Record<string, { code: string; past: number }> | undefined;
    expect(out, describeChild(child)).toBeDefined();
    const rows = DEADLINES.map((d) => (out as Record<string, { code: string; past: number }>)[`${kind}${d}`]);
    expect(rows.map((r) => r?.code)).toEqual(DEADLINES.map(() => 'TIMEOUT'));
    const worst = Math.max(...rows.map((r) => r?.past ?? Infinity));
    expect(worst, `CPU past each deadline: ${JSON.stringify(rows)}`).toBeLessThan(PAST_MS);
  }, 2 * killAfterMs);

  it('straight-line code: TIMEOUT, and little CPU past the deadline', async () => {
    const child = await children.result(keys[name] as string);
    const out = childResult(child) as Record<string, { code: string; past: number }> | undefined;
    const rows = [out?.straight, out?.straightAgain];
    expect(rows.map((r) => r?.code), describeChild(child)).toEqual(['TIMEOUT', 'TIMEOUT']);
    const worst = Math.max(...rows.map((r) => r?.past ?? Infinity));
    expect(worst, `CPU past the deadline: ${JSON.stringify(rows)}`).toBeLessThan(PAST_MS);
  }, 2 * killAfterMs);
});
