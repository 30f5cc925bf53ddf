import { describe, expect, it } from 'vitest';
import { NdjsonParser, SseParser } from '../src/index.js';
import type { SseMessage } from '../src/index.js';

/** The messages of `text` fed in the given pieces, and the parser. */
function sse(pieces: string[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const messages = pieces.flatMap((p) => parser.feed(p));
  return { messages, parser };
}

/** Every way of cutting `text` in two, plus one character at a time: a parser must give the same answer for each. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

function expectSame(text: string, expected: SseMessage[], retry?: number): void {
  for (const pieces of splits(text)) {
    const { messages, parser } = sse(pieces);
    expect(messages, JSON.stringify(pieces)).toEqual(expected);
    expect(parser.retry).toBe(retry);
  }
}

describe('SseParser', () => {
  it('parses events with id, event and data, in chunks of any size', () => {
    const text = 'retry: 1000\n\nid: 1\nevent: log\ndata: {"seq":1}\n\nid: 2\nevent: final\ndata: {"seq":2}\n\n';
    expectSame(
      text,
      [
        { type: 'log', data: '{"seq":1}', lastEventId: '1' },
        { type: 'final', data: '{"seq":2}', lastEventId: '2' },
      ],
      1000,
    );
  });

  it('ends lines with LF, CRLF or CR, also when a CRLF pair is split between chunks', () => {
    const expected = [
      { type: 'a', data: 'x', lastEventId: '' },
      { type: 'b', data: 'y', lastEventId: '' },
    ];
    for (const eol of ['\n', '\r\n', '\r']) expectSame(`event: a${eol}data: x${eol}${eol}event: b${eol}data: y${eol}${eol}`, expected);
    // Mixed in one stream.
    expectSame('event: a\r\ndata: x\r\revent: b\ndata: y\r\n\n', expected);
    // A lone CR at a chunk's end, then LF: one line end, not two (which would dispatch an empty line early).
    expect(sse(['data: x\r', '\ndata: y\r\n\r\n']).messages).toEqual([{ type: 'message', data: 'x\ny', lastEventId: '' }]);
  });

  it('joins several data lines with LF and keeps empty data lines', () => {
    expectSame('data: first\ndata:second\ndata\ndata:  two spaces\n\n', [{ type: 'message', data: 'first\nsecond\n\n two spaces', lastEventId: '' }]);
  });

  it('skips comments, unknown fields and a leading BOM (only the first)', () => {
    expectSame('\uFEFF: hello\n:\nfoo: bar\ndata: 1\n\n', [{ type: 'message', data: '1', lastEventId: '' }]);
    expect(sse(['\uFEFF', '\uFEFFdata: 1\n\n']).messages).toEqual([]);
    expect(sse(['', '\uFEFFdata: 1\n\n']).messages).toEqual([{ type: 'message', data: '1', lastEventId: '' }]);
  });

  it('does not dispatch an event without data, but its id sticks and its type does not', () => {
    expectSame('id: 7\nevent: ping\n\ndata: x\n\n', [{ type: 'message', data: 'x', lastEventId: '7' }]);
  });

  it('keeps the last id across events, ignores an id with NUL, and lets an empty id reset it', () => {
    expectSame('id: 3\ndata: a\n\ndata: b\n\nid: 4\u0000\ndata: c\n\nid\ndata: d\n\n', [
      { type: 'message', data: 'a', lastEventId: '3' },
      { type: 'message', data: 'b', lastEventId: '3' },
      { type: 'message', data: 'c', lastEventId: '3' },
      { type: 'message', data: 'd', lastEventId: '' },
    ]);
  });

  it('takes retry only as ASCII digits', () => {
    for (const bad of ['retry: 10x', 'retry: -5', 'retry: 1.5', 'retry:', 'retry: ١٢']) expect(sse([`retry: 250\n${bad}\n\n`]).parser.retry, bad).toBe(250);
    expect(sse(['retry:3000\n']).parser.retry).toBe(3000);
  });

  it('never dispatches the event a stream ends in the middle of', () => {
    for (const cut of ['id: 1\nevent: log\ndata: {"seq":1}', 'data: {"seq":1}\n', 'data: {"se']) {
      const { messages, parser } = sse([cut]);
      expect(messages).toEqual([]);
      expect(parser.end()).toBe(true);
      // The next stream starts clean (the id is the stream's, as with EventSource).
      expect(parser.feed('\uFEFFdata: 2\n\n')).toEqual([{ type: 'message', data: '2', lastEventId: cut.startsWith('id') ? '1' : '' }]);
    }
    expect(sse(['data: 1\n\n']).parser.end()).toBe(false);
  });

  it('handles a large event split into many small chunks in linear time', () => {
    const data = 'x'.repeat(200_000);
    const parser = new SseParser();
    const text = `data: ${data}\n\n`;
    const messages: SseMessage[] = [];
    for (let i = 0; i < text.length; i += 7) messages.push(...parser.feed(text.slice(i, i + 7)));
    expect(messages).toHaveLength(1);
    expect(messages[0]?.data.length).toBe(200_000);
  });
});

describe('NdjsonParser', () => {
  it('parses one value a line in chunks of any size, LF or CRLF, skipping blank lines and a BOM', () => {
    const text = '\uFEFF{"seq":1}\n\n{"seq":2,"s":"a\\nb"}\r\n  \n[3]\n"four"\n';
    for (const pieces of splits(text)) {
      const parser = new NdjsonParser();
      expect(pieces.flatMap((p) => parser.feed(p)), JSON.stringify(pieces)).toEqual([{ seq: 1 }, { seq: 2, s: 'a\nb' }, [3], 'four']);
      expect(parser.end()).toBe('');
    }
  });

  it('never parses a line whose line break has not arrived; end() hands it back', () => {
    const parser = new NdjsonParser();
    // A cut that leaves valid JSON behind (`12` of `123`) must not turn into a value.
    expect(parser.feed('{"seq":1}\n12')).toEqual([{ seq: 1 }]);
    expect(parser.end()).toBe('12');
    expect(parser.feed('3\n')).toEqual([3]);
  });

  it('throws a SyntaxError naming the line for a line that is not JSON', () => {
    const parser = new NdjsonParser();
    expect(() => parser.feed('{"a":1}\n{oops}\n')).toThrow(/line 2 is not JSON/);
  });
});
