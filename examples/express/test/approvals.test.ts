/**
 * The README's "Approvals" block, tried as a new user would, against this example started with
 * `node server.mjs`: its curl lines run with the real curl under bash (the one edit: port 3000 becomes a
 * free port), and each answer is what the README says it is.
 */
import { describe, expect, it } from 'vitest';
import { readmeBlocks, runShell, sse, useExample } from './readme.js';

describe('README: Approvals, against examples/express', () => {
  const example = useExample();

  it('start a session, see approval_required, see the session wait, approve it, see final; a second approval is a conflict', () => {
    const flow = readmeBlocks('Approvals: pause for a person, resume anywhere').filter((b) => b.lang === 'sh')[0];
    const [started, assigned, waiting, approved, again] = runShell(flow?.code ?? '', example.port);
    const head = sse(started ?? '');
    expect(head.map((e) => [e.id, e.type])).toEqual([
      ['1', 'session_init'],
      ['2', 'tool_call'],
      ['3', 'tool_result'],
      ['4', 'tool_call'],
      ['5', 'approval_required'],
    ]);
    const sessionId = head[0]?.data.sessionId;
    expect(head[4]?.data.payload).toMatchObject({ callId: 2, tool: 'orders:refund', args: { id: 'o1' } });
    expect(head[4]?.data.payload.expiresAt).toBeGreaterThan(Date.now());
    expect(assigned?.trim()).toBe('');
    expect(JSON.parse(waiting ?? '')).toMatchObject({ sessionId, state: 'waiting_for_approval', pendingApproval: { callId: 2, tool: 'orders:refund', args: { id: 'o1' } } });
    const rest = sse(approved ?? '');
    expect(rest.map((e) => [e.id, e.type])).toEqual([
      ['6', 'tool_call'],
      ['7', 'tool_result'],
      ['8', 'log'],
      ['9', 'final'],
    ]);
    expect(rest[0]?.data.payload.tool).toBe('orders:refund');
    expect(rest[2]?.data.payload.message).toBe('refunded 120');
    expect(rest[3]?.data.payload).toMatchObject({ success: true, value: { id: 'o1', refunded: 120 } });
    expect(JSON.parse(again ?? '')).toMatchObject({ success: false, error: { code: 'CONFLICT' } });
  });
});
