/** The approvals contract (approvals.ts) with two instances on one in-memory session store. */
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, createEnclaveHandler, defineTool } from '../../src/index.js';
import { approvalsContract } from './approvals.js';

let shared: MemorySessionStore | undefined;
approvalsContract('memory store', () => {
  // Both instances of a test share it; the first instance's disposal closes it.
  shared ??= new MemorySessionStore();
  const store = shared;
  return {
    store,
    dispose() {
      if (shared === store) shared = undefined;
    },
  };
});

describe('a paused state that comes back altered from the store', () => {
  /** A store whose paused runs come back changed by `alter`, as from a store someone else wrote to. */
  class Altering extends MemorySessionStore {
    constructor(readonly alter: (state: { journal: { pending: [number, string, string] } }) => void) {
      super();
    }
    override async resume(sessionId: string, callId: number, livenessMs: number) {
      const resumed = await super.resume(sessionId, callId, livenessMs);
      if (resumed === undefined) return undefined;
      const state = JSON.parse(resumed.state);
      this.alter(state);
      return { ...resumed, state: JSON.stringify(state) };
    }
  }
  const post = (url: string, body: unknown) => new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it.each([
    ['another pending call', (s: { journal: { pending: [number, string, string] } }) => void (s.journal.pending[0] = 9), 'INTERNAL_ERROR'],
    ['bigger arguments for the pending call', (s: { journal: { pending: [number, string, string] } }) => void (s.journal.pending[2] = s.journal.pending[2].replace('5', '5000')), 'REPLAY_DIVERGED'],
  ])('%s: the approved tool never runs, the session ends as %s', async (_name, alter, code) => {
    let refunded = 0;
    const store = new Altering(alter);
    const refund = defineTool({ name: 'refund', needsApproval: true, handler: ({ amount }: { amount: number }) => (refunded += amount) });
    const handler = createEnclaveHandler({ logger: { info() {}, error() {} }, sessions: { store }, tools: [refund] });
    try {
      const started = (await (await handler(post('http://x/enclave/sessions', { code: `return callTool('refund', { amount: 5 })` }))).json()) as { sessionId: string };
      await expect.poll(async () => (await store.get(started.sessionId))?.state, { timeout: 10_000 }).toBe('waiting_for_approval');
      await handler(post(`http://x/enclave/sessions/${started.sessionId}/approvals/1`, { approved: true }));
      await expect.poll(async () => (await store.get(started.sessionId))?.state, { timeout: 10_000 }).toBe('failed');
      expect((await store.get(started.sessionId))?.result).toMatchObject({ success: false, error: { code } });
      expect(refunded).toBe(0);
    } finally {
      handler.dispose();
    }
  });
});
