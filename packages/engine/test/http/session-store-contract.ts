/**
 * What every `SessionStore` owes a reader, whatever it keeps: run against the in-memory store here and
 * against Redis in packages/redis. A reader that resumes after any seq learns of every event it will
 * not get: each seq after its resume point arrives, or falls in an `events_dropped` marker it gets.
 */
import { describe, expect, it } from 'vitest';
import type { EnclaveEvent, ExecutionResult, SessionStore } from '../../src/index.js';

/** A store that keeps only a few of the events below (`log` lines of about 100 bytes of JSON each). */
export type SmallStore = () => SessionStore;

const ok: ExecutionResult = { success: true, value: 1, stats: { duration: 1, toolCallCount: 0, iterationCount: 0 } };

let n = 0;

export function sessionStoreContract(name: string, small: SmallStore): void {
  describe(`${name}: the session store contract`, () => {
    it('a reader resuming after any seq, also inside what was dropped, is told of every event it misses', async () => {
      const store = small();
      const sessionId = `ses_contract${++n}_${Math.random().toString(36).slice(2, 10)}`;
      try {
        expect(await store.create({ sessionId, owner: 'alice', createdAt: 1 })).toBe(true);
        // Logs, with a tool call now and then (a store that trims logs keeps those).
        const events: EnclaveEvent[] = Array.from({ length: 40 }, (_, i) => {
          const seq = i + 1;
          return seq % 10 === 0
            ? { sessionId, seq, type: 'tool_call', time: seq, payload: { callId: seq, tool: 't', args: {} } }
            : { sessionId, seq, type: 'log', time: seq, payload: { level: 'log', message: `line ${seq} ${'x'.repeat(40)}`, time: seq } };
        }) as EnclaveEvent[];
        for (const event of events) await store.append(sessionId, [event]);
        await store.finish(sessionId, 'completed', ok, 60_000);
        const whole = await store.read(sessionId, 0, 1000);
        expect(whole.some((e) => e.type === 'events_dropped'), 'the store kept everything: make it smaller').toBe(true);
        for (let after = 0; after <= 40; after++) {
          const read = await store.read(sessionId, after, 1000);
          const told = new Set<number>();
          for (const e of read) {
            expect(e.seq, `after ${after}: an event at or before the resume point`).toBeGreaterThan(after);
            if (e.type !== 'events_dropped') told.add(e.seq);
            else {
              const { fromSeq, toSeq } = (e as EnclaveEvent<'events_dropped'>).payload;
              expect(fromSeq, `after ${after}: a marker that reaches back before the resume point`).toBeGreaterThan(after);
              for (let s = fromSeq; s <= toSeq; s++) told.add(s);
            }
          }
          const missed = Array.from({ length: 41 - after }, (_, i) => after + 1 + i).filter((s) => !told.has(s));
          expect(missed, `after ${after}`).toEqual([]);
          expect(read.at(-1)?.type, `after ${after}`).toBe('final');
        }
      } finally {
        store.dispose?.();
      }
    });

    it('keepAlive of a session another instance ended answers false (its run must stop); of one still running, not false', async () => {
      const store = small();
      const sessionId = `ses_contract${++n}_${Math.random().toString(36).slice(2, 10)}`;
      try {
        expect(await store.create({ sessionId, owner: 'alice', createdAt: 1 })).toBe(true);
        expect(await store.keepAlive(sessionId, 60_000)).not.toBe(false);
        // As a sweep ends it as RUN_LOST while its instance, cut off for a while, still runs it.
        expect(await store.finish(sessionId, 'failed', { success: false, error: { name: 'RunLostError', message: 'lost', code: 'RUN_LOST' }, stats: ok.stats }, 60_000)).toBe(true);
        expect(await store.keepAlive(sessionId, 60_000)).toBe(false);
        expect(await store.get(sessionId)).toMatchObject({ state: 'failed' });
        // One the store never had (or forgot since): false too.
        expect(await store.keepAlive(`${sessionId}_gone`, 60_000)).toBe(false);
      } finally {
        store.dispose?.();
      }
    });
  });
}
