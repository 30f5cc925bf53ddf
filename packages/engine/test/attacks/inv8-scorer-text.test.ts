/**
 * Invariant 8 against the scoring gate: no script text holds the host's thread. The gate reads the
 * script on the host before the run starts, outside its deadline, and matches string literals and the
 * constants named in tool arguments against patterns of secrets and destinations.
 *
 * Found by red-teaming: two patterns were quadratic in a literal's length (V8's backtracking engine tried
 * an unanchored run again from each of its positions: the e-mail local part over 'aaa...@' with no
 * domain, a JWT's header over 'eyJeyJ...' with no dot), and a constant was scanned again for every tool
 * call that named it. A 30 KB script at STRICT, where the gate is on by default (a 4 KB template
 * constant, named in 1,000 `callTool`s), blocked the host's event loop for 37 s past a 1 s deadline; at
 * PERMISSIVE with the gate on, 250 JWT-like literals held it for 4 s. The patterns are now scanned in one
 * pass, and each distinct string once per script.
 *
 * The data flow the gate follows was quadratic too: a flow named every call before it and was copied
 * and merged whole at each use (`x = [x, await callTool('t', { x })]` through 250 KB: 12 s with the
 * gate on at STANDARD), and every name and literal was added to every enclosing collector, 1,000 of
 * them in an assignment chain (100,000 names in one: 9.5 s). A flow now keeps the first 32 calls it
 * names, and a collector hands what it gathered to the one around it when it closes.
 *
 * Host-side evidence: the runs happen in a child process that must finish them, and exit cleanly with
 * nothing on stderr, within a budget that a blocked host overruns many times (the fixed gate reads each
 * text in well under a second).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild, hostsRuns } from '../helpers.js';

/**
 * Each shape as `[options, head, call, size, tail?]`: `head`, then `call` repeated while the text stays
 * under `size` characters, then `tail` and `return 1;`. The texts are built in the child (a process's arguments cannot
 * carry them). LOCAL_PART is a 4 KB template literal of e-mail local-part characters and one `@`, its
 * lines within STRICT's 2,000.
 */
const CHAIN = Array.from({ length: 1000 }, (_, i) => `a${i}`);
const SHAPES: Record<string, readonly [options: Record<string, unknown>, head: string, call: string, size: number, tail?: string]> = {
  // The 37 s case: STRICT's own limits (32 KB, lines of 2,000), its gate on by default.
  'STRICT: a 4 KB constant of local-part characters named in every tool call': [{ securityLevel: 'STRICT' }, 'const s = LOCAL_PART;\n', "await callTool('t', { s });\n", 31_000],
  'STRICT: the same constant 16 times in the arguments of each call': [{ securityLevel: 'STRICT' }, 'const s = LOCAL_PART;\n', `await callTool('t', [${Array(16).fill('s').join(', ')}]);\n`, 31_000],
  'PERMISSIVE, gate on: 240 literals of eyJeyJ... (4 KB, no dot)': [{ securityLevel: 'PERMISSIVE', scoringGate: true }, '', `callTool('t', { v: \`${'eyJ'.repeat(1365)}\` });\n`, 1_000_000],
  'PERMISSIVE, gate on: 240 literals of local-part characters and @ (4 KB)': [{ securityLevel: 'PERMISSIVE', scoringGate: true }, '', `callTool('t', { v: \`${'a.'.repeat(2045)}@\` });\n`, 1_000_000],
  // Data flow: a variable that carries every call before it, named in every call (12 s at 250 KB).
  'PERMISSIVE, gate on: 26,000 calls, each given a variable that carries every call before it': [
    { securityLevel: 'PERMISSIVE', scoringGate: true },
    "let x = await callTool('t', {});\n",
    "x = [x, await callTool('t', { x })]; x = [x, await callTool('t', { x })];\n",
    1_000_000,
  ],
  // Data flow: 300,000 names inside an assignment chain 1,000 deep (9.5 s for 100,000).
  'PERMISSIVE, gate on: 300,000 names inside a chain of 1,000 assignments': [
    { securityLevel: 'PERMISSIVE', scoringGate: true },
    `let x = await callTool('t', {});\nlet ${CHAIN.join(', ')};\n${CHAIN.join(' = ')} = [\n`,
    `${'x, '.repeat(99)}x,\n`,
    1_000_000,
    '];\n',
  ],
};

/** Each run's deadline, and the instance's (STRICT's own 5 s could cut a run on a loaded machine). */
const RUN_MS = 20_000;

const CHILD = `
const { scoreAgentScript } = await import(ENGINE);
const LOCAL_PART = '\`' + 'a'.repeat(1900) + '\\\\\\n' + 'a'.repeat(1900) + '\\\\\\n' + 'a'.repeat(290) + '@\`';
const out = {};
for (const [name, [options, head, call, size, tail = '']] of Object.entries(${JSON.stringify(SHAPES)})) {
  let code = head.replace('LOCAL_PART', LOCAL_PART);
  while (code.length + call.length + tail.length < size) code += call;
  code += tail + 'return 1;';
  const enclave = new Enclave({ ...options, timeout: ${RUN_MS}, tools: { t: () => 1 } });
  const r = await enclave.run(code, { timeout: ${RUN_MS} });
  out[name] = { run: r.success ? 'OK' : r.error.code, score: scoreAgentScript(code, { securityLevel: options.securityLevel })?.decision ?? null, size: code.length };
  enclave.dispose();
}
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(1);
// Each shape is one run and one scoreAgentScript: a bound past every deadline the child hosts. The old
// gate took minutes (the first shape alone 37 s, twice), the fixed one about 15 s for all of them.
const key = children.add('scorer text', CHILD, { killAfterMs: hostsRuns(Object.keys(SHAPES).length, RUN_MS) });
beforeAll(() => children.start(), 120_000);

describe('invariant 8: the scoring gate reads any script text in linear time (child process)', () => {
  it('every shape is scored and run, and the host is free again well within the budget', async () => {
    const child = await children.result(key);
    expect(child.timedOut, describeChild(child)).toBe(false);
    expect(child.signal, describeChild(child)).toBeNull();
    expect(child.code, describeChild(child)).toBe(0);
    expect(child.stderr, 'the host process wrote to stderr').toBe('');
    const out = childResult(child) as Record<string, { run: string; score: string | null; size: number }>;
    expect(Object.keys(out)).toEqual(Object.keys(SHAPES));
    for (const [name, { run, score, size }] of Object.entries(out)) {
      expect(size, name).toBeGreaterThan(30_000);
      // The scripts are harmless: the gate lets them run, and they end at their end or at a budget (the
      // tool-call budget, a tool's arguments nested too deeply, or the deadline: checking and running a
      // megabyte of calls took the 26,000-call shape past 20 s on Node 24 at a load average of 9). What
      // this test holds is the gate's time, which the child's own bound above measures.
      expect(score, name).toBe('allow');
      expect(['OK', 'MAX_TOOL_CALLS', 'TOOL_ERROR', 'TIMEOUT'], name).toContain(run);
    }
  }, children.worstWaitMs());
});
