import { describe, expect, expectTypeOf, it } from 'vitest';
import type { EnclaveDescription, EnclaveEventType as EngineEventType, EnclaveEvent as EngineEvent, ExecutionResult as EngineResult } from '@enclave-kit/engine';
import { EventSequencer, backoffDelay } from '../src/follow.js';
import type { EnclaveCatalog, EnclaveEvent, EnclaveEventType, ExecutionResult } from '../src/index.js';

const log = (seq: number): EnclaveEvent => ({ sessionId: 's', seq, type: 'log', time: 0, payload: { level: 'log', message: String(seq), time: 0 } });
const marker = (seq: number, toSeq: number, count: number): EnclaveEvent => ({ sessionId: 's', seq, type: 'events_dropped', time: 0, payload: { fromSeq: seq, toSeq, count } });

/** What the sequencer delivers for the events received, in order, as `seq` or `seq:from-to` for markers. */
function deliver(received: EnclaveEvent[], afterSeq = 0): string[] {
  const sequencer = new EventSequencer(afterSeq);
  return received.flatMap((e) => sequencer.accept(e)).map((e) => (e.type === 'events_dropped' ? `${e.seq}:${e.payload.fromSeq}-${e.payload.toSeq}/${e.payload.count}` : String(e.seq)));
}

describe('EventSequencer', () => {
  it('drops replays of delivered events', () => {
    expect(deliver([log(1), log(2), log(1), log(2), log(3), log(3)])).toEqual(['1', '2', '3']);
    expect(deliver([log(3), log(4), log(5)], 4)).toEqual(['5']);
  });

  it('passes server markers on, and kept events inside their range', () => {
    // Logs 2-9 dropped, a tool event at 5 kept: the marker comes at 2, then 5, then 10.
    expect(deliver([log(1), marker(2, 9, 7), log(5), log(10)])).toEqual(['1', '2:2-9/7', '5', '10']);
  });

  it('announces seqs that never come with a marker of its own, numbered like the server’s', () => {
    expect(deliver([log(1), log(4), log(5)])).toEqual(['1', '2:2-3/2', '4', '5']);
    // Resuming inside a dropped range whose marker lies behind the resume point.
    expect(deliver([log(12), log(13)], 10)).toEqual(['11:11-11/1', '12', '13']);
    // A gap beyond what a marker covered.
    expect(deliver([marker(1, 3, 3), log(6)])).toEqual(['1:1-3/3', '4:4-5/2', '6']);
  });

  it('counts an event of a type it does not know (skips it, no gap)', () => {
    const unknown = { ...log(2), type: 'some_future_event' } as unknown as EnclaveEvent;
    expect(deliver([log(1), unknown, log(3)])).toEqual(['1', '3']);
  });
});

describe('backoffDelay', () => {
  const policy = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };
  it('doubles per attempt up to the cap, half of it random', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, undefined, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, policy, undefined, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
  });
  it('waits at least Retry-After', () => {
    expect(backoffDelay(1, policy, 3, () => 0)).toBe(3000);
  });
  it('never waits longer than a timer can: a Retry-After of 30 days, or a huge policy, is the longest timer, not an overflow to 1 ms', () => {
    const longest = 2 ** 31 - 1;
    expect(backoffDelay(1, policy, 30 * 24 * 3600, () => 0)).toBe(longest);
    expect(backoffDelay(1, { initialDelayMs: 1e12, maxDelayMs: 1e13, factor: 2 }, undefined, () => 1)).toBe(longest);
  });
});

describe('the wire types', () => {
  it('the engine’s results, events and catalog fit the client’s, and the event types are the same', () => {
    expectTypeOf<EngineResult>().toExtend<ExecutionResult>();
    expectTypeOf<EngineEvent>().toExtend<EnclaveEvent>();
    expectTypeOf<EngineEvent<'final'>>().toExtend<EnclaveEvent<'final'>>();
    expectTypeOf<EnclaveDescription>().toExtend<EnclaveCatalog>();
    // A new event type in the engine must be taught to the client (which skips types it does not know).
    expectTypeOf<EngineEventType>().toEqualTypeOf<EnclaveEventType>();
  });
});
