/**
 * Reads an event stream response as a client does: Server-Sent Events or NDJSON, parsed incrementally
 * from the bytes as they arrive. For tests only: the client package has its own, complete parser.
 */
import type { ServerResponse } from 'node:http';

export interface StreamedEvent {
  id?: string;
  event?: string;
  data: any;
}

/** Reads events until `final` (or `stopAfter` events, or one `until` accepts, or the end of the body), then stops reading; `onEvent` hears each as it comes. */
export async function readEvents(
  res: Response,
  options: { stopAfter?: number; until?: (data: any) => boolean; format?: 'sse' | 'ndjson'; onEvent?: (event: StreamedEvent) => void } = {},
): Promise<StreamedEvent[]> {
  const format = options.format ?? (res.headers.get('content-type')?.startsWith('text/event-stream') ? 'sse' : 'ndjson');
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: StreamedEvent[] = [];
  let buffer = '';
  const separator = format === 'sse' ? '\n\n' : '\n';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return events;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf(separator)) !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + separator.length);
        const event = format === 'sse' ? parseSse(block) : block.trim() === '' ? undefined : { data: JSON.parse(block) };
        if (event === undefined) continue;
        events.push(event);
        options.onEvent?.(event);
        if (event.data?.type === 'final' || (options.stopAfter !== undefined && events.length >= options.stopAfter) || options.until?.(event.data) === true) return events;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function parseSse(block: string): StreamedEvent | undefined {
  const event: Partial<StreamedEvent> = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
  }
  if (data.length === 0) return undefined;
  return { ...event, data: JSON.parse(data.join('\n')) };
}

/** What the socket flushed, one entry per `_write`/`_writev` (each is a write to the kernel). */
export function recordFlushes(res: ServerResponse): string[] {
  const flushes: string[] = [];
  // Node's own names for a socket's flush of one buffer and of several (corked) ones.
  const [one, several] = ['_write', '_writev'] as const;
  const socket = res.socket as unknown as Record<typeof one | typeof several, (...a: unknown[]) => unknown>;
  const write = socket[one];
  const writev = socket[several];
  socket[one] = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    flushes.push(String(chunk));
    return write.call(this, chunk, ...rest);
  };
  socket[several] = function (this: unknown, chunks: unknown, ...rest: unknown[]) {
    flushes.push((chunks as { chunk: unknown }[]).map((c) => String(c.chunk)).join(''));
    return writev.call(this, chunks, ...rest);
  };
  return flushes;
}
