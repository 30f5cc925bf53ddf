/**
 * The hook's model against a server that breaks the contract: a real `node:http` server on port 0 sends
 * a stream whose last event's payload is not what its type says. The model must end in `error`, not stay
 * `running` with a rejected promise nobody hears. And a server that floods a session with small events:
 * the model folds them into its snapshot, and the client's stream under it keeps none of its own. And a
 * server that never answers a cancel: the one sent on unmount is abandoned, not left open for good.
 */
import { createServer } from 'node:http';
import { expect, it } from 'vitest';
import { createEnclaveClient } from '@enclave-kit/client';
import type { EnclaveClient, EnclaveEventStream, StreamOptions } from '@enclave-kit/client';
import { EnclaveSessionModel } from '../src/session-model.js';
import { listenForTests } from './listen.js';

const json = (seq: number, type: string, payload: string) => `{"sessionId":"ses_hostile","seq":${seq},"type":"${type}","time":1,"payload":${payload}}`;
const event = (seq: number, type: string, payload: string) => `data: ${json(seq, type, payload)}\n\n`;
const BODIES: Record<string, string> = {
  '/final-null/sessions': event(1, 'session_init', '{}') + event(2, 'final', 'null'),
  '/approval-null/sessions': event(1, 'session_init', '{}') + event(2, 'approval_required', 'null'),
};

/** `session_init`, this many `log` events, `final`: as SSE events or NDJSON lines. */
const FLOOD_LOGS = 20_000;
function flood(line: (json: string) => string): string {
  const parts = [line(json(1, 'session_init', '{}'))];
  for (let seq = 2; seq <= FLOOD_LOGS + 1; seq++) parts.push(line(json(seq, 'log', `{"level":"info","message":"tick ${seq}","time":1}`)));
  parts.push(line(json(FLOOD_LOGS + 2, 'final', '{"success":true,"value":"done","stats":{"duration":1,"toolCallCount":0,"iterationCount":0}}')));
  return parts.join('');
}
BODIES['/flood-sse/sessions'] = flood((j) => `data: ${j}\n\n`);
BODIES['/flood-ndjson/sessions'] = flood((j) => `${j}\n`);

/** DELETEs of `/quiet` the server got (and never answered), and how many of their connections closed. */
const cancels = { received: 0, closed: 0 };

const server = createServer((req, res) => {
  req.resume();
  if (req.url?.startsWith('/quiet/')) {
    if (req.method !== 'DELETE') return void res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': 'ses_hostile' }).write(event(1, 'session_init', '{}'));
    cancels.received++;
    return void res.on('close', () => cancels.closed++);
  }
  const body = BODIES[req.url ?? ''];
  if (body === undefined) return void res.writeHead(404).end();
  const type = req.url?.includes('ndjson') ? 'application/x-ndjson' : 'text/event-stream';
  res.writeHead(200, { 'content-type': type, 'x-session-id': 'ses_hostile' }).end(body);
});
const origin = listenForTests(server);

it.each(['final-null', 'approval-null'])('%s: the model ends in error with BAD_RESPONSE; execute() resolves', async (path) => {
  const model = new EnclaveSessionModel();
  const client = createEnclaveClient({ url: `${origin()}/${path}`, retry: false });
  // execute() never rejects: a caller's `onClick={() => execute(code)}` has nothing to catch.
  const outcome = await model.execute(client, 'return 1', {}, {}).then(
    (value) => ({ resolved: value }),
    (err: unknown) => ({ rejected: err }),
  );
  expect(outcome).toEqual({ resolved: undefined });
  const snapshot = model.getSnapshot();
  expect(snapshot.state).toBe('error');
  expect(snapshot.isRunning).toBe(false);
  expect(snapshot.error?.code).toBe('BAD_RESPONSE');
  expect(snapshot.result).toBeUndefined();
  expect(snapshot.pendingApproval).toBeUndefined();
});

it.each(['sse', 'ndjson'] as const)('a flood of small events (%s), within raised bounds: every one is in the snapshot, none waits in the stream beneath it', async (format) => {
  const model = new EnclaveSessionModel();
  const client = createEnclaveClient({ url: `${origin()}/flood-${format}`, retry: false, format });
  // The real client, with the streams it opens for the model written down.
  const streams: EnclaveEventStream[] = [];
  const watched: EnclaveClient = {
    ...client,
    stream<T>(code: string, options?: StreamOptions) {
      const stream = client.stream<T>(code, options);
      streams.push(stream);
      return stream;
    },
  };
  const result = await model.execute(watched, 'return 1', {}, { maxEvents: FLOOD_LOGS + 2, maxLogs: FLOOD_LOGS });
  expect(result).toMatchObject({ success: true, value: 'done' });
  const snapshot = model.getSnapshot();
  expect(snapshot.state).toBe('completed');
  expect(snapshot.events.length).toBe(FLOOD_LOGS + 2);
  expect(snapshot.logs.length).toBe(FLOOD_LOGS);
  expect(snapshot).toMatchObject({ droppedEvents: 0, droppedLogs: 0 });
  expect(streams.length).toBe(1);
  expect(streams[0]?.bufferedEvents).toBe(0);
});

it('detach(cancel) against a server that never answers the DELETE: it is abandoned after idleTimeoutMs, its connection closed', async () => {
  const model = new EnclaveSessionModel();
  const client = createEnclaveClient({ url: `${origin()}/quiet`, retry: false });
  void model.execute(client, 'return 1', {}, { idleTimeoutMs: 1_000 });
  await expect.poll(() => model.getSnapshot().sessionId).toBe('ses_hostile');
  model.detach(true);
  await expect.poll(() => cancels.received).toBe(1);
  await expect.poll(() => cancels.closed).toBe(1);
});
