/**
 * A streamed run's events as chunks: what one turn of the event loop pushed leaves as one chunk (one
 * write, one packet), in order, with the SSE preamble in front; nothing is held back past that turn, and
 * a reader that goes away while events wait loses nothing else and breaks nothing.
 */
import { describe, expect, it } from 'vitest';
import { pushStream } from '../../src/http/stream.js';
import type { EnclaveEvent } from '../../src/index.js';

const event = (seq: number, type: EnclaveEvent['type'] = 'log'): EnclaveEvent => ({ sessionId: 'ses_t', seq, type, time: 0, payload: type === 'final' ? { success: true, value: seq } : { level: 'log', message: `m${seq}` } }) as EnclaveEvent;
const decoder = new TextDecoder();
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('pushStream', () => {
  it('the events of one turn are one chunk, the SSE preamble rides with the first; a later turn is another chunk', async () => {
    const { stream, push } = pushStream('sse', () => {});
    push(event(1));
    push(event(2));
    push(event(3));
    const reader = stream.getReader();
    const first = decoder.decode((await reader.read()).value);
    // The preamble is a field of the first event's block: every blank-line-separated block has its data.
    expect(first.startsWith('retry: 1000\nid: 1\n')).toBe(true);
    expect(first.split('\n\n').filter((b) => b !== '').every((b) => /^data: /m.test(b))).toBe(true);
    expect(first.match(/^id: /gm)).toEqual(['id: ', 'id: ', 'id: ']);
    expect([...first.matchAll(/^id: (\d+)$/gm)].map((m) => m[1])).toEqual(['1', '2', '3']);
    await turn();
    push(event(4));
    push(event(5, 'final'));
    const second = decoder.decode((await reader.read()).value);
    expect([...second.matchAll(/^id: (\d+)$/gm)].map((m) => m[1])).toEqual(['4', '5']);
    expect((await reader.read()).done).toBe(true);
  });

  it('events pushed across promise reactions of one turn (a tool result, then the next call) are still one chunk', async () => {
    const { stream, push } = pushStream('ndjson', () => {});
    const reader = stream.getReader();
    const read = reader.read();
    push(event(1));
    await Promise.resolve();
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    push(event(2));
    process.nextTick(() => push(event(3)));
    const lines = decoder.decode((await read).value).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([1, 2, 3]);
  });

  it('an event is delivered at the end of its turn, without waiting for more', async () => {
    const { stream, push } = pushStream('ndjson', () => {});
    const reader = stream.getReader();
    const read = reader.read();
    push(event(1));
    const { value } = await read;
    expect(JSON.parse(decoder.decode(value).trim()).seq).toBe(1);
  });

  it('a reader that cancels while events wait: the run is told, later pushes are dropped, nothing throws', async () => {
    let cancelled = 0;
    const { stream, push, close } = pushStream('sse', () => cancelled++);
    push(event(1));
    await stream.cancel();
    expect(cancelled).toBe(1);
    push(event(2));
    push(event(3, 'final'));
    close();
    await turn();
    expect(cancelled).toBe(1);
  });
});

describe('pushStream: a reader that stops reading', () => {
  it('fails the stream once the reader has taken nothing for stallMs while events wait, drops them, and tells the run', async () => {
    let cancelled = 0;
    const { stream, push } = pushStream('ndjson', () => cancelled++, 100);
    const reader = stream.getReader();
    push(event(1));
    expect(JSON.parse(decoder.decode((await reader.read()).value).trim()).seq).toBe(1);
    // The reader takes nothing more; the run goes on pushing, a turn at a time.
    for (let seq = 2; seq < 10_000; seq++) {
      // Set by the stream's onCancel, between two turns.
      if (cancelled > 0) break;
      push(event(seq));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(cancelled).toBe(1);
    await expect(reader.read()).rejects.toMatchObject({ name: 'StalledReaderError' });
  });

  it('a reader that reads, however far behind, is never cut off, and gets every event', async () => {
    let cancelled = 0;
    const { stream, push } = pushStream('ndjson', () => cancelled++, 5000);
    // 40 turns of events pushed at once: the reader is 40 chunks behind from the start.
    for (let seq = 1; seq <= 40; seq++) {
      push(event(seq, seq === 40 ? 'final' : 'log'));
      await turn();
    }
    const reader = stream.getReader();
    const seqs: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const line of decoder.decode(value).trim().split('\n')) seqs.push((JSON.parse(line) as { seq: number }).seq);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(cancelled).toBe(0);
  });
});
