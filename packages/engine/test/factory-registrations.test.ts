/**
 * A realm keeps the factories of the scripts it ran so that a text run again reuses its closure (and
 * V8's feedback for it). Only a text this thread has compiled before is kept past its run's start: LLM
 * traffic is new text nearly every time, and a kept factory keeps its script's compiled code alive.
 * What is kept is bounded across all realms of a thread by the text it holds, least recently used first;
 * a registration whose run has not had its first entry yet is never dropped, whatever the bounds say.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';
import { registeredFactories } from '../src/sandbox/realm.js';

/** A distinct script of about `kb` KiB: one template literal over many short lines, cheap to check and compile. */
function largeScript(kb: number, tag: number): string {
  const line = `${String(tag).padStart(6, '0')} ${'x'.repeat(56)}`;
  const lines = Array.from({ length: Math.ceil((kb * 1024) / (line.length + 1)) }, () => line);
  return `const text = \`${lines.join('\n')}\`;\nconst reply = await callTool('echo', { n: ${tag} });\nreturn [text.length, reply.n];`;
}

const echo = async ({ n }: { n: number }) => {
  await new Promise((r) => setImmediate(r));
  return { n };
};

describe.each([
  ['vm', {}],
  ['worker_threads', { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }],
] as const)('factory registrations under many concurrent runs (%s)', (_name, options) => {
  const enclave = new Enclave({ securityLevel: 'STANDARD', timeout: 30_000, ...options });
  afterAll(() => enclave.dispose());

  it('starts every run when the scripts waiting to start hold more text than the registrations may keep', async () => {
    // 80 runs of about 230 KiB each: about 18 MB of text waiting for their first entries at once, over
    // the 16 MiB the registrations keep. Each must start and finish with its own values (the old
    // registrations dropped the oldest waiting ones, whose runs then never started and timed out).
    const count = 80;
    const scripts = Array.from({ length: count }, (_, i) => largeScript(230, i));
    const results = await Promise.all(scripts.map((code) => enclave.run(code, { tools: { echo } })));
    expect(results.filter((r) => !r.success).map((r) => r.error?.code)).toEqual([]);
    expect(results.map((r) => (r.value as number[])[1])).toEqual(scripts.map((_, i) => i));
    // Seen once each: none stays registered.
    if (_name === 'vm') expect(registeredFactories().count).toBe(0);
  }, 120_000);
});

describe('which factories a realm keeps', () => {
  const enclave = new Enclave({ realmPool: { maxIdle: 1, prewarm: 0 } });
  afterAll(() => enclave.dispose());

  it('keeps none for a text run once, and keeps the factory of a text run again, once', async () => {
    const before = registeredFactories();
    const code = `const r = await callTool('echo', { n: 7 }); return r.n * 6; // ${Math.random()}`;
    const run = async () => {
      const r = await enclave.run(code, { tools: { echo } });
      expect(r.value).toBe(42);
    };
    await run();
    expect(registeredFactories()).toEqual(before);
    await run();
    expect(registeredFactories().count).toBe(before.count + 1);
    const kept = registeredFactories();
    await run();
    await run();
    expect(registeredFactories()).toEqual(kept);
    // Other texts run once each leave it as it is.
    for (let i = 0; i < 5; i++) expect((await enclave.run(`return ${i};`)).value).toBe(i);
    expect(registeredFactories()).toEqual(kept);
  });
});
