/**
 * approve() and deny() against a real server: a stream ends at the pause with an APPROVAL_REQUIRED
 * result that names the pending call; the decision resumes the run, which is followed from where the
 * stream stopped; the server's refusals are EnclaveClientErrors with their status and code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnclaveClient } from '../src/index.js';
import type { EnclaveEvent, PendingApproval } from '../src/index.js';
import type { TestServer } from './server.js';
import { rejection, startServer } from './server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const clientFor = (user: string) => createEnclaveClient({ url: server.url, headers: { 'x-user': user }, retry: { initialDelayMs: 5 } });
const REFUND = `console.log('asking'); try { const r = await callTool('refund', { amount: 42 }); console.log('refunded', r); return r; } catch (e) { return e.code + ': ' + e.message; }`;


describe('approvals through the client', () => {
  it('a stream ends at the pause; approve() resumes the run, followed from the last seq to final', async () => {
    const client = clientFor('alice');
    const stream = client.stream(REFUND);
    const head: EnclaveEvent[] = [];
    for await (const event of stream) head.push(event);
    expect(head.map((e) => e.type)).toEqual(['session_init', 'log', 'tool_call', 'approval_required']);
    const paused = await stream.result;
    expect(paused).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED', data: { callId: 1, tool: 'refund', args: { amount: 42 } } } });
    const sessionId = await stream.sessionId;
    const status = await client.getSession(sessionId);
    expect(status).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { callId: 1, tool: 'refund', digest: expect.stringMatching(/^[\w-]{43}$/) } });
    expect(server.refunds).toEqual([]);
    // A digest of another call than the one waiting: CONFLICT, and nothing runs.
    expect(await rejection(client.approve(sessionId, { callId: 1, digest: 'A'.repeat(43) }))).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(server.refunds).toEqual([]);

    // The approval as shown: its digest goes with the decision, which the server checks.
    const answer = await client.approve(sessionId, status.pendingApproval as PendingApproval);
    expect(answer).toMatchObject({ sessionId, state: 'running', callId: 1, approved: true });
    const rest = client.session(sessionId, { fromSeq: stream.lastSeq });
    const tail: EnclaveEvent[] = [];
    for await (const event of rest) tail.push(event);
    expect(tail.map((e) => e.type)).toEqual(['tool_call', 'tool_result', 'log', 'final']);
    expect(tail.map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(await rest.result).toMatchObject({ success: true, value: 42 });
    expect(server.refunds).toEqual([42]);

    // Decided: a second decision is a CONFLICT; another user's is NOT_FOUND.
    expect(await rejection(client.approve(sessionId, 1))).toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await rejection(clientFor('bob').deny(sessionId, 1))).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('deny() with a reason: the script catches APPROVAL_DENIED with that message', async () => {
    const client = clientFor('alice');
    const stream = client.stream(REFUND);
    const paused = await stream.result;
    const sessionId = await stream.sessionId;
    const callId = (paused.success ? 0 : paused.error.data?.callId) as number;
    expect(await rejection(client.deny(sessionId, callId + 1, 'no'))).toMatchObject({ code: 'CONFLICT', status: 409 });
    await expect(client.deny(sessionId, 0)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await client.deny(sessionId, callId, 'Not this month.');
    expect(await client.session(sessionId, { fromSeq: stream.lastSeq }).result).toMatchObject({ success: true, value: 'APPROVAL_DENIED: Not this month.' });
    expect(server.refunds).toEqual([42]);
  });
});
