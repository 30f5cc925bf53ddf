/**
 * packages/redis/README.md as a peer team reads it: its Example block (a whole Express server on
 * `REDIS_URL`), copied out as it stands and started twice on two ports on one real redis-server, as the
 * README says to. Then what it promises of those two instances: a session started through one is read,
 * refused to another user and cancelled through the other; `rateLimit` (60 a minute) and
 * `maxRunsPerUser` (3) hold in total, whichever instance each request hits, with 429 and `Retry-After`.
 * The servers' runs wait on a promise that never settles, so the file costs processes, not CPU.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { codeBlocks } from '../markdown.js';
import { freePort, startNode } from '../probe.js';
import type { Started } from '../probe.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const readme = readFileSync(path.join(root, 'packages/redis/README.md'), 'utf8');

/** Where the packages the Example imports live in this workspace, as `npm install` would put them. */
function packageDir(name: string, from: string): string {
  return path.dirname(createRequire(path.join(root, from, 'package.json')).resolve(`${name}/package.json`));
}

let redis: RedisServer;
let work: string;
const instances: Started[] = [];

beforeAll(async () => {
  const [example] = codeBlocks(readme, '## Example');
  if (example?.lang !== 'ts') throw new Error('packages/redis/README.md: the block under "## Example" is not TypeScript');
  // A project of the user's own: the block as server.mjs (it has no type annotations), its imports installed.
  work = mkdtempSync(path.join(tmpdir(), 'enclave-redis-readme-'));
  writeFileSync(path.join(work, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(path.join(work, 'server.mjs'), example.code);
  mkdirSync(path.join(work, 'node_modules/@enclave-kit'), { recursive: true });
  const installed = {
    express: packageDir('express', 'examples/express'),
    ioredis: packageDir('ioredis', 'examples/shared'),
    '@enclave-kit/express': path.join(root, 'packages/express'),
    '@enclave-kit/redis': path.join(root, 'packages/redis'),
  };
  for (const [name, dir] of Object.entries(installed)) symlinkSync(dir, path.join(work, 'node_modules', name), 'dir');
  redis = await startRedisServer();
  // "start it twice on two ports"
  for (let i = 0; i < 2; i++) instances.push(await startNode(['server.mjs'], { cwd: work, port: await freePort(), env: { REDIS_URL: redis.url } }));
}, 60_000);

afterAll(async () => {
  for (const instance of instances) instance.stop();
  await redis?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const HANG = 'await callTool("profile:get", {}); await new Promise(() => {}); return 1';
const headers = (user?: string) => ({ 'content-type': 'application/json', ...(user ? { 'x-user': user } : {}) });
const at = (i: number) => instances[i % 2] as Started;
const post = (i: number, user: string | undefined, code: string, route = '') =>
  fetch(`${at(i).url}${route}`, { method: 'POST', headers: headers(user), body: JSON.stringify({ code }) });

describe('packages/redis/README.md: the Example, started twice on two ports', () => {
  it('each instance runs the user’s tools and refuses a request without a user (401)', async () => {
    for (const i of [0, 1]) {
      const res = await post(i, 'ann', 'return await callTool("profile:get", {})');
      expect([res.status, await res.json()]).toMatchObject([200, { success: true, value: { id: 'ann', plan: 'pro' } }]);
      expect((await post(i, undefined, 'return 1')).status).toBe(401);
    }
  });

  it('a session started through one is read (404 for another user) and cancelled through the other', async () => {
    const started = await post(0, 'alice', HANG, '/sessions');
    expect(started.status).toBe(201);
    const { sessionId } = (await started.json()) as { sessionId: string };
    const url = `${at(1).url}/sessions/${sessionId}`;
    await expect.poll(async () => ((await (await fetch(url, { headers: headers('alice') })).json()) as { state: string }).state, { timeout: 10_000 }).toBe('running');
    expect((await fetch(url, { headers: headers('mallory') })).status).toBe(404);
    expect((await fetch(url, { method: 'DELETE', headers: headers('mallory') })).status).toBe(404);
    const cancelled = await fetch(url, { method: 'DELETE', headers: headers('alice') });
    expect(await cancelled.json()).toMatchObject({ sessionId, state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
    // The instance that ran it says the same.
    expect(await (await fetch(`${at(0).url}/sessions/${sessionId}`, { headers: headers('alice') })).json()).toMatchObject({ state: 'cancelled' });
  });

  it('maxRunsPerUser 3 holds across both instances: a fourth run in flight anywhere is 429 with Retry-After', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(i, 'carol', HANG, '/sessions');
      expect(res.status).toBe(201);
      ids.push(((await res.json()) as { sessionId: string }).sessionId);
    }
    for (const i of [0, 1]) {
      const refused = await post(i, 'carol', 'return 1');
      expect([refused.status, ((await refused.json()) as { error: { code: string } }).error.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Another user is not held back by carol's runs.
    expect((await post(0, 'dave', 'return 1')).status).toBe(200);
    for (const [n, id] of ids.entries()) await fetch(`${at(n + 1).url}/sessions/${id}`, { method: 'DELETE', headers: headers('carol') });
    // Her slots are back once her runs ended (released as each ends, whichever instance cancelled it).
    await expect.poll(async () => (await post(1, 'carol', 'return 1')).status, { timeout: 10_000 }).toBe(200);
  });

  it('rateLimit 60 a minute holds in total: the 61st request, on either instance, is 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) statuses.push((await post(i, 'erin', 'return 1')).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (const i of [0, 1]) {
      const refused = await post(i, 'erin', 'return 1');
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter > 0 && retryAfter <= 60).toBe(true);
    }
  });
});
