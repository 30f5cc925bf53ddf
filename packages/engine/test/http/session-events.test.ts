/**
 * Sessions keep every event their run made, in order, whatever the timing of the store's writes, and a
 * reader gets every event the store keeps, also across its batches and behind an `events_dropped` marker.
 * A reader always ends with `final`, also when the store loses the session or its events.
 */
import { describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '../../src/index.js';
import { MemorySessionStore } from '../../src/http/session-store.js';
import type { EnclaveEvent, ToolContext } from '../../src/index.js';
import { waitUntil } from '../helpers.js';
import { readEvents } from './event-stream.js';
import { sessionStoreContract } from './session-store-contract.js';

sessionStoreContract('MemorySessionStore', () => new MemorySessionStore({ maxEventBytes: 1500 }));

/** A store that loses what the test says, as a shared store that lost its data does until it is written again. */
class LosingStore extends MemorySessionStore {
  lostRecord = false;
  lostEvents = false;
  /** Lookups that found no session. */
  misses = 0;
  override async get(sessionId: string) {
    if (!this.lostRecord) return super.get(sessionId);
    this.misses++;
    return undefined;
  }
  override async read(sessionId: string, afterSeq: number, limit: number) {
    return this.lostRecord || this.lostEvents ? [] : super.read(sessionId, afterSeq, limit);
  }
}

/** A tool that waits until the test opens it. */
function gated() {
  let open!: (value: unknown) => void;
  const opened = new Promise((resolve) => (open = resolve));
  let entered = false;
  const tool = (_args: unknown, ctx: ToolContext) => {
    entered = true;
    return Promise.race([opened, new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted')))]);
  };
  return { tool, open, entered: () => entered };
}

const post = (path: string, code: string) =>
  new Request(`http://localhost/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });

async function finished(store: MemorySessionStore, id: string): Promise<void> {
  await expect.poll(async () => (await store.get(id))?.state, { timeout: 10_000 }).not.toBe('running');
}

describe('session events', () => {
  it('every session stores its final event, however its events and the store writes interleave', async () => {
    const store = new MemorySessionStore();
    // Tools that take 0-2 ms: events arrive while the store's previous write is settling.
    const tick = () => new Promise((resolve) => setTimeout(() => resolve(1), Math.floor(Math.random() * 3)));
    const handler = createEnclaveHandler({ sessions: { store, maxPerUser: 1000 }, tools: { tick } });
    try {
      const code = 'let n = 0; for (let i = 0; i < 20; i++) { console.log(i); if (i % 3 === 0) n += await callTool("tick"); } console.log("done"); return n';
      const ids = await Promise.all(Array.from({ length: 100 }, async () => ((await (await handler(post('/sessions', code))).json()) as { sessionId: string }).sessionId));
      for (const id of ids) {
        await finished(store, id);
        const events = await store.read(id, 0, 1000);
        expect(events.map((e) => e.seq), id).toEqual(events.map((_, i) => i + 1));
        expect(events.at(-1)?.type, id).toBe('final');
      }
    } finally {
      handler.dispose();
    }
  });

  it('a reader gets every kept event after a marker, across the stream’s read batches', async () => {
    // Logs interleaved with more kept events (tool calls) than one batch of the reader holds.
    const store = new MemorySessionStore({ maxEventBytes: 4_000 });
    const handler = createEnclaveHandler({ enclave: { maxToolCalls: 300 }, sessions: { store }, tools: { tick: () => 1 } });
    try {
      const code = 'for (let i = 0; i < 150; i++) { console.log("line", i); await callTool("tick"); } return 1';
      const { sessionId } = (await (await handler(post('/sessions', code))).json()) as { sessionId: string };
      await finished(store, sessionId);
      const kept = await store.read(sessionId, 0, 10_000);
      expect(kept.some((e) => e.type === 'events_dropped')).toBe(true);
      expect(kept.length).toBeGreaterThan(256);
      const read = await readEvents(await handler(new Request(`http://localhost/enclave/sessions/${sessionId}/events`, { headers: { accept: 'application/x-ndjson' } })));
      expect(read.map((e) => (e.data as EnclaveEvent).seq)).toEqual(kept.map((e) => e.seq));
    } finally {
      handler.dispose();
    }
  });
});

describe('a reader of a session the store loses', () => {
  const follow = (handler: ReturnType<typeof createEnclaveHandler>, id: string) => handler(new Request(`http://localhost/enclave/sessions/${id}/events`)).then((res) => readEvents(res));

  async function running(livenessMs: number) {
    const store = new LosingStore();
    const gate = gated();
    const handler = createEnclaveHandler({ sessions: { store, livenessMs }, tools: { gate: gate.tool } });
    const { sessionId } = (await (await handler(post('/sessions', 'const r = await callTool("gate"); return r;'))).json()) as { sessionId: string };
    await waitUntil(gate.entered);
    return { store, gate, handler, sessionId, following: follow(handler, sessionId) };
  }

  it('waits for it while the instance running it may write it again, then reads on to its final', async () => {
    const { store, gate, handler, sessionId, following } = await running(60_000);
    try {
      store.lostRecord = true;
      // The reader has looked and found nothing; it keeps waiting instead of ending.
      await waitUntil(() => store.misses > 0);
      store.lostRecord = false;
      gate.open('back');
      const events = await following;
      expect(events.filter((e) => e.data.type === 'final')).toHaveLength(1);
      expect(events.at(-1)?.data).toMatchObject({ sessionId, type: 'final', payload: { success: true, value: 'back' } });
    } finally {
      handler.dispose();
    }
  });

  it('ends with final SESSION_LOST once it stays gone for the liveness, never silently', async () => {
    const { store, gate, handler, sessionId, following } = await running(300);
    try {
      store.lostRecord = true;
      const events = await following;
      expect(events.at(-1)?.data).toMatchObject({ sessionId, type: 'final', payload: { success: false, error: { code: 'SESSION_LOST' } } });
      expect(events.filter((e) => e.data.type === 'final')).toHaveLength(1);
      gate.open(1);
    } finally {
      handler.dispose();
    }
  });

  it('a finished session whose events the store lost: the reader gets final from its record', async () => {
    const store = new LosingStore();
    const handler = createEnclaveHandler({ sessions: { store } });
    try {
      const { sessionId } = (await (await handler(post('/sessions', 'console.log("x"); return 42'))).json()) as { sessionId: string };
      await finished(store, sessionId);
      store.lostEvents = true;
      const events = await follow(handler, sessionId);
      expect(events.map((e) => e.data.type)).toEqual(['final']);
      expect(events[0]?.data).toMatchObject({ sessionId, payload: { success: true, value: 42 } });
    } finally {
      handler.dispose();
    }
  });
});
