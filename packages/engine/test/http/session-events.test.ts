/**
 * Sessions keep every event their run made, in order, whatever the timing of the store's writes, and a
 * reader gets every event the store keeps, also across its batches and behind an `events_dropped` marker.
 */
import { describe, expect, it } from 'vitest';
import { createEnclaveHandler } from '../../src/index.js';
import { MemorySessionStore } from '../../src/http/session-store.js';
import type { EnclaveEvent } from '../../src/index.js';
import { readEvents } from './event-stream.js';

const post = (path: string, code: string) =>
  new Request(`http://x/enclave${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });

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
      const read = await readEvents(await handler(new Request(`http://x/enclave/sessions/${sessionId}/events`, { headers: { accept: 'application/x-ndjson' } })));
      expect(read.map((e) => (e.data as EnclaveEvent).seq)).toEqual(kept.map((e) => e.seq));
    } finally {
      handler.dispose();
    }
  });
});
