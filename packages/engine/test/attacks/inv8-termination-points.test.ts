/**
 * Invariant 8 when a termination lands at a chosen point: a realm's rejection must never reach the host's
 * `unhandledRejection` listeners (nor, under --unhandled-rejections=strict, end the host), whatever
 * instruction of the runtime the deadline cuts.
 *
 * A loaded CI run found this by luck (inv8-quiet-host, 'vm, transform off default flags': one host
 * rejection, once): a deadline that landed while an async generator's `throw()` had just rejected its
 * promise, after V8 had told Node and before the runtime's `adopt` marked it. Here the luck is taken out:
 * each child sets breakpoints (the inspector's Debugger, on this thread) at the first statement of the
 * runtime's functions that mark promises, and at the k-th pause inside a realm entry it asks V8 for the
 * same termination a deadline uses (Runtime.terminateExecution), for k = 1, 2, ... until a run pauses
 * fewer than k times: every point at which those functions are entered is cut once. On the code before
 * the fix, 4 runs of Node 20 and 22 (6 of Node 24) handed a realm rejection to the host.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEngineForChildren, ChildBatch, childResult, describeChild, runChild } from '../helpers.js';

/** Scripts whose builtins reject a promise of their own inside the call (see fromBuiltin in promises.ts). */
const SCRIPTS: Record<string, string> = {
  'throw() on a finished async generator': "async function* g() {} const it = g(); await it.return(); it.throw(new Error('x')); return 1;",
  'throw() on an async generator not started': "async function* g() {} const it = g(); it.throw(new Error('x')); return 1;",
  'return() of a value whose then getter throws': "async function* g() {} const it = g(); await it.return(); it.return({ get then() { throw new Error('x'); } }); return 1;",
  // Node 22 and later; a TypeError on Node 20, where nothing is cut.
  'Array.fromAsync of null': 'Array.fromAsync(null); await null; return 1;',
  // Node 24; nothing to call before it.
  "an async iterator's asyncDispose whose return throws": "async function* g() {} const f = g()[Symbol.asyncDispose]; if (f) f.call({ return() { throw new Error('x'); } }); return 1;",
  // Siblings, where the promises are the runtime's own (marked before they settle): cut all the same.
  'an async function that throws at once': "async function a() { throw new Error('x'); } a(); await null; return 1;",
  'finally whose callback throws': "Promise.reject(new Error('r')).finally(() => { throw new Error('x'); }); await null; return 1;",
  'a thenable whose then throws, adopted': "Promise.resolve({ then() { throw new Error('x'); } }); await null; await null; return 1;",
  // Node 24 (a syntax error before it, where nothing is cut).
  'await using whose disposer rejects': "(async () => { await using a = { [Symbol.asyncDispose]() { return Promise.reject(new Error('x')); } }; })(); await null; return 1;",
};

/** Where a termination is asked for: the first statement of each of these functions of the runtime. */
const BREAK_IN = ['adopt', 'isPromise', 'thenIntrinsic', 'markHandled'];
/** The most pauses a run is cut at: the scripts above pause 2 to 7 times. */
const MOST_POINTS = 40;

function childSource(options: string): string {
  return `
import inspector from 'node:inspector';
let unhandled = 0;
process.on('unhandledRejection', () => unhandled++);
const enclave = new Enclave({ securityLevel: 'PERMISSIVE', validate: false, memoryLimit: 32 * 1024 * 1024, ...(${options}) });
// The realm runtime is compiled with the first run.
await enclave.run('return 1');
const session = new inspector.Session();
session.connect();
const post = (method, params) => {
  let answer;
  let failure = null;
  session.post(method, params, (e, r) => { failure = e; answer = r; });
  if (failure !== null) throw failure;
  return answer;
};
const runtimes = [];
session.on('Debugger.scriptParsed', (m) => { if (m.params.url === 'enclave:runtime') runtimes.push(m.params.scriptId); });
post('Debugger.enable');
if (runtimes.length === 0) throw new Error('no realm runtime script');
for (const scriptId of runtimes) {
  const lines = post('Debugger.getScriptSource', { scriptId }).scriptSource.split('\\n');
  for (const name of ${JSON.stringify(BREAK_IN)}) {
    const lineNumber = lines.findIndex((l) => l.includes('function ' + name + '('));
    if (lineNumber < 0) throw new Error('no function ' + name + ' in the realm runtime');
    const line = lines[lineNumber];
    post('Debugger.setBreakpoint', { location: { scriptId, lineNumber, columnNumber: line.indexOf('{', line.indexOf('function ' + name + '(')) + 1 } });
  }
}
// Only pauses inside a realm entry count (the realm's script under the host's runInContext): the
// runtime's functions also run when a realm is built and when the host marks what an entry left (#quiet
// in realm-run.ts), and a termination asked for outside any script would cut the host's own next
// JavaScript. And only entries bounded by the inspector's deadline (the engine's own Runtime.evaluate, below
// deadline.ts's evaluate()): V8 clears a termination still pending when that evaluation ends, which is
// what makes another session's termination stand for the engine's deadline. Where the engine's probe
// of the inspector missed (a busy machine) its entries run under Node's watchdog, which only cancels a
// termination its own thread asked for: another session's would unwind the host's frames (Node aborts:
// "async hook stack has become corrupted"), a halt no deadline of the engine can cause. Such a child
// stops and says so, and the test starts another.
let stopAt = 0;
let pauses = 0;
let watchdog = false;
session.on('Debugger.paused', (m) => {
  const frames = m.params.callFrames;
  if (frames.some((f) => f.functionName === 'runInContext') && frames.some((f) => f.functionName === 'enterAlone' || f.functionName === 'enterUnderSupervisor')) {
    if (!frames.some((f) => f.functionName === 'evaluate')) watchdog = true;
    else if (++pauses === stopAt) post('Runtime.terminateExecution');
  }
  post('Debugger.resume');
});
const cut = {};
sweep: for (const [name, code] of Object.entries(${JSON.stringify(SCRIPTS)})) {
  cut[name] = 0;
  for (stopAt = 1; stopAt <= ${MOST_POINTS}; stopAt++) {
    pauses = 0;
    await enclave.run(code, { timeout: 10000 });
    if (watchdog) break sweep;
    if (pauses < stopAt) break;
    cut[name]++;
  }
  stopAt = 0;
}
post('Debugger.disable');
session.disconnect();
// Node hands pending rejections to listeners after the turn in which they were reported.
await new Promise((r) => setTimeout(r, 100));
enclave.dispose();
console.log('RESULT ' + JSON.stringify({ unhandled, cut, watchdog }));
`;
}

const MODES = [
  { label: 'vm, transform off', options: '{ transform: false }' },
  { label: 'vm, transform on', options: '{}' },
] as const;
const FLAGS = [
  { label: '--unhandled-rejections=strict', nodeArgs: ['--unhandled-rejections=strict'] },
  { label: 'default flags', nodeArgs: [] },
] as const;

const KILL_MS = 60_000;
/** Children per row at most: a child whose engine fell back to Node's watchdog is replaced (see above). */
const ATTEMPTS = 3;
const children = new ChildBatch(2);
const rows = MODES.flatMap((mode) => FLAGS.map((flags) => ({ key: `${mode.label} ${flags.label}`, source: childSource(mode.options), opts: { nodeArgs: flags.nodeArgs, killAfterMs: KILL_MS } })));
for (const row of rows) children.add(row.key, row.source, row.opts);
beforeAll(() => children.start(), 120_000);

type Swept = { unhandled: number; cut: Record<string, number>; watchdog: boolean };

describe('invariant 8: a termination at each point where the runtime marks a promise', () => {
  it.each(rows)('$key: no realm rejection reaches the host', async (row) => {
    let child = await children.result(row.key);
    for (let attempt = 1; attempt < ATTEMPTS && (childResult(child) as Swept | undefined)?.watchdog === true; attempt++) {
      child = await runChild(buildEngineForChildren(), row.source, row.opts);
    }
    expect(child.code, describeChild(child)).toBe(0);
    expect(child.stderr, 'the host process wrote to stderr').toBe('');
    const got = childResult(child) as Swept;
    expect(got.watchdog, `the engine's inspector probe missed in ${ATTEMPTS} children: nothing was cut`).toBe(false);
    expect(got.unhandled).toBe(0);
    // The sweep did cut the async generators' calls (the others exist on newer Nodes only).
    expect(got.cut['throw() on a finished async generator']).toBeGreaterThanOrEqual(2);
    expect(got.cut['throw() on an async generator not started']).toBeGreaterThanOrEqual(2);
    expect(got.cut['return() of a value whose then getter throws']).toBeGreaterThanOrEqual(2);
    expect(got.cut['finally whose callback throws']).toBeGreaterThanOrEqual(2);
  }, KILL_MS * ATTEMPTS + 120_000);
});
