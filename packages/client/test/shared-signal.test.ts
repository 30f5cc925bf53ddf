/**
 * One AbortSignal shared by many concurrent calls (one for a page, or for a server's shutdown), against
 * the real server of `server.ts`: the client adds one listener to it while calls watch it and none after
 * they end, so it neither gathers listeners nor draws Node's MaxListenersExceededWarning; aborting it
 * still stops every call.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveClient } from '../src/index.js';
import type { TestServer } from './server.js';
import { rejection, startServer } from './server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

/** The warnings the process emits while `work` runs. */
async function warningsDuring(work: () => Promise<void>): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    await work();
    // A warning is emitted on a later tick than the listener that drew it.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

describe('one signal shared by many concurrent calls', () => {
  it('has one listener while 40 streams, 40 runs and 20 status reads use it, none once they are done, and no warning', async () => {
    const client = createEnclaveClient({ url: server.url });
    const { signal } = new AbortController();
    const warnings = await warningsDuring(async () => {
      // Users of their own: the server lets one user have 20 streams open at once.
      const as = (i: number) => ({ signal, headers: { 'x-user': `user${i}` } });
      const streams = Array.from({ length: 40 }, (_, i) => client.stream(`console.log(${i}); return ${i}`, as(i)).result);
      const runs = Array.from({ length: 40 }, (_, i) => client.run(`return ${i}`, as(i)));
      const started = await client.start('return 0', as(0));
      const reads = Array.from({ length: 20 }, () => client.getSession(started.sessionId, as(0)));
      expect(listeners(signal)).toBe(1);
      const values = (await Promise.all([...streams, ...runs])).map((r) => (r.success ? r.value : r.error.code));
      expect(values).toEqual([...Array.from({ length: 40 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => i)]);
      await Promise.all(reads);
    });
    expect(listeners(signal)).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('aborting it stops every call that watches it', async () => {
    const client = createEnclaveClient({ url: server.url });
    const controller = new AbortController();
    const as = (i: number) => ({ signal: controller.signal, headers: { 'x-user': `blocked${i}` } });
    const before = server.blocked.pending;
    const streams = Array.from({ length: 15 }, (_, i) => client.stream('return await callTool("block")', as(i)).result);
    const runs = Array.from({ length: 15 }, (_, i) => client.run('return await callTool("block")', as(i)));
    await expect.poll(() => server.blocked.pending).toBe(before + 30);
    controller.abort();
    for (const call of [...streams, ...runs]) expect((await rejection(call)).code).toBe('ABORTED');
    expect(listeners(controller.signal)).toBe(0);
    server.blocked.release();
  });
});
