/**
 * The hook's model against a server that breaks the contract: a real `node:http` server on port 0 sends
 * a stream whose last event's payload is not what its type says. The model must end in `error`, not stay
 * `running` with a rejected promise nobody hears.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createEnclaveClient } from '@enclave-kit/client';
import { EnclaveSessionModel } from '../src/session-model.js';

const event = (seq: number, type: string, payload: string) => `data: {"sessionId":"ses_hostile","seq":${seq},"type":"${type}","time":1,"payload":${payload}}\n\n`;
const BODIES: Record<string, string> = {
  '/final-null/sessions': event(1, 'session_init', '{}') + event(2, 'final', 'null'),
  '/approval-null/sessions': event(1, 'session_init', '{}') + event(2, 'approval_required', 'null'),
};

let base = '';
const server = createServer((req, res) => {
  req.resume();
  const body = BODIES[req.url ?? ''];
  if (body === undefined) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-session-id': 'ses_hostile' }).end(body);
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

it.each(['final-null', 'approval-null'])('%s: the model ends in error with BAD_RESPONSE; execute() resolves', async (path) => {
  const model = new EnclaveSessionModel();
  const client = createEnclaveClient({ url: `${base}/${path}`, retry: false });
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
