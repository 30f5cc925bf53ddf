/**
 * A paused run survives every app instance: the Express and Hono examples, each `node server.mjs` in
 * its own process with REDIS_URL on a real redis-server. A session pauses on Express for `orders:refund`;
 * both instances are killed with SIGKILL; a new Express process starts on the same Redis, and the
 * approval through it resumes the run. Replayed calls run no tool on the host, so their tool_call events
 * (written only for calls that run) do not come again: after the approval only the refund's do. The
 * clock and random values the script saw before the kill come back the same.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { freePort, sseEvents, startNode } from '../probe.js';
import type { Started } from '../probe.js';

const examples = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let redis: RedisServer;
const started: Started[] = [];
let missing: unknown;

async function startApp(name: 'express' | 'hono'): Promise<Started> {
  const app = await startNode(['server.mjs'], { cwd: path.join(examples, name), port: await freePort(), env: { REDIS_URL: redis.url } });
  started.push(app);
  return app;
}

/** SIGKILL, and wait until the process is gone. */
async function kill9(app: Started): Promise<void> {
  const gone = new Promise((resolve) => app.child.once('exit', resolve));
  app.child.kill('SIGKILL');
  await gone;
}

beforeAll(async () => {
  try {
    redis = await startRedisServer();
  } catch (err) {
    // Every test fails with the reason (no redis-server: what to install), none is skipped.
    missing = err;
  }
}, 30_000);

beforeEach(() => {
  if (missing !== undefined) throw missing;
});

afterAll(async () => {
  for (const app of started) app.stop();
  await redis?.stop();
});

const alice = { 'content-type': 'application/json', 'x-user': 'alice' };
const SCRIPT = `const coin = Math.random(); const at = Date.now();
const paid = await callTool('orders:list', { status: 'paid' });
const order = await callTool('orders:get', { id: paid[coin < 0.5 ? 0 : 1].id });
console.log('asking to refund', order.id, coin, at);
const r = await callTool('orders:refund', { id: order.id });
console.log('refunded', r.refunded);
return { coin, at, refunded: r };`;

describe('kill -9 of every instance while a run waits for approval', () => {
  it('loses nothing: after a restart, the approval resumes the run, and the reads do not run again', async () => {
    const [express, hono] = await Promise.all([startApp('express'), startApp('hono')]);
    const res = await fetch(`${express.url}/sessions`, { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: JSON.stringify({ code: SCRIPT }) });
    const sessionId = res.headers.get('x-session-id') as string;
    const head = await sseEvents(res);
    expect(head.map((e) => e.event)).toEqual(['session_init', 'tool_call', 'tool_result', 'tool_call', 'tool_result', 'log', 'tool_call', 'approval_required']);
    const [, coinText, atText] = /asking to refund o\d ([\d.e-]+) (\d+)/.exec(head[5]?.data.payload.message) ?? [];
    const pending = head.at(-1)?.data.payload;
    expect(pending).toMatchObject({ callId: 3, tool: 'orders:refund' });
    // Seen from the other instance before the kill: it waits.
    expect(await (await fetch(`${hono.url}/sessions/${sessionId}`, { headers: alice })).json()).toMatchObject({ state: 'waiting_for_approval', pendingApproval: { callId: 3 } });

    await Promise.all([kill9(express), kill9(hono)]);
    const restarted = await startApp('express');
    expect(await (await fetch(`${restarted.url}/sessions/${sessionId}`, { headers: alice })).json()).toMatchObject({ state: 'waiting_for_approval', pendingApproval: pending });
    const approved = await fetch(`${restarted.url}/sessions/${sessionId}/approvals/3`, { method: 'POST', headers: { ...alice, accept: 'text/event-stream' }, body: '{"approved":true}' });
    expect(approved.status).toBe(200);
    const rest = await sseEvents(approved);
    // Only the refund runs now: orders:list and orders:get were replayed from the journal.
    expect(rest.map((e) => e.event)).toEqual(['tool_call', 'tool_result', 'log', 'final']);
    expect(rest[0]?.data.payload).toMatchObject({ callId: 3, tool: 'orders:refund' });
    expect(rest.map((e) => Number(e.id))).toEqual([9, 10, 11, 12]);
    const result = rest[3]?.data.payload;
    expect(result).toMatchObject({ success: true, value: { refunded: { id: pending.args.id } } });
    expect(String(result.value.coin)).toBe(coinText);
    expect(String(result.value.at)).toBe(atText);
    expect(result.logs.map((l: { message: string }) => l.message.split(' ')[0])).toEqual(['asking', 'refunded']);
    // The whole session, read back: every event once, in order, the pause in the middle.
    const all = await sseEvents(await fetch(`${restarted.url}/sessions/${sessionId}/events`, { headers: alice }));
    expect(all.map((e) => e.event)).toEqual([...head, ...rest].map((e) => e.event));
    expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1));
  }, 60_000);
});
