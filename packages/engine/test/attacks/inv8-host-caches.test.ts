/**
 * Invariant 8 against what the host keeps of the scripts it was sent. The caches of checked, compiled
 * and registered scripts were bounded in entries only (500 checks and compiled scripts per thread, 64
 * factories per realm), and one entry of a large script is large: the rewriter's edits of one distinct
 * 250 KB script, which STANDARD accepts from any caller, kept 13 MB, and its registered factory 3.4 MB
 * more. Found by red-teaming: 300 such runs, each a success, held 3.9 GB of the host's heap. The caches
 * are now bounded in the size of the text they hold as well.
 *
 * Host-side evidence: 24 distinct scripts of 250 KB run, validated at STANDARD, in a child process with
 * a 256 MB heap (before the fix it aborted out of memory on the way: a build from before it did so in a
 * run of this shape); the child must exit cleanly with an empty stderr and every run must succeed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

const SOURCE = `
const enclave = new Enclave({ securityLevel: 'STANDARD' });
const out = {};
for (let k = 0; k < 24; k++) {
  // 125 lines of 40 statements: a distinct script of about 250 KB, within STANDARD's limits.
  const line = \`x = x + \${k}; \`.repeat(40) + '\\n';
  const r = await enclave.run('let x = 0;\\n' + line.repeat(Math.floor(250_000 / line.length)) + 'return x;', { timeout: 60_000 });
  out[\`run \${k}\`] = r.success ? 'OK' : r.error.code;
}
enclave.dispose();
console.log('RESULT ' + JSON.stringify({ out }));
`;

const children = new ChildBatch(1);
const key = children.add('24 distinct 250 KB scripts', SOURCE, { nodeArgs: ['--max-old-space-size=256'], killAfterMs: 600_000 });
beforeAll(() => children.start(), 120_000);

describe('invariant 8: what the host keeps of the scripts it ran is bounded in size (child process, 256 MB heap)', () => {
  it('24 distinct scripts of 250 KB, validated at STANDARD: every run succeeds and the host survives', async () => {
    const child = await children.result(key);
    expect(child.code, describeChild(child)).toBe(0);
    expect(child.stderr, 'the host process wrote to stderr').toBe('');
    const got = childResult(child) as { out: Record<string, string> };
    expect(Object.values(got.out), JSON.stringify(got.out)).toEqual(Array(24).fill('OK'));
  }, 620_000);
});
