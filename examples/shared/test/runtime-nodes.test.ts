/**
 * The README's "Runtime nodes" section, tried as a new user would: one redis-server, two
 * `enclave-runtime` processes, and the Express, Hono and Nest examples with ENCLAVE_RUNTIME=redis (three
 * app processes: DESIGN.md 5.1, the variable configures every example). The "Two commands" curl line gives the same answers as the embedded example, per-user
 * tools reach the right user through either app, and killing a runtime node during a long run is a
 * clear error, not a hang. Durations are printed, not asserted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { nodeLoad, startNodeProcess } from '../../../packages/redis/test/nodes.js';
import type { NodeProcess } from '../../../packages/redis/test/nodes.js';
import { freePort, startNode } from '../probe.js';
import type { Started } from '../probe.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.resolve(here, '../..');
const readme = readFileSync(path.resolve(examples, '../README.md'), 'utf8');

let redis: RedisServer;
let admin: Redis;
let nodes: NodeProcess[] = [];
let embedded: Started;
let apps: Started[] = [];
const timings: string[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  admin = new Redis(redis.url);
  admin.on('error', () => {});
  nodes = await Promise.all([startNodeProcess(redis.url, 'enclave:', ['--concurrency', '2']), startNodeProcess(redis.url, 'enclave:', ['--concurrency', '2'])]);
  const env = { REDIS_URL: redis.url, ENCLAVE_RUNTIME: 'redis' };
  [embedded, ...apps] = await Promise.all([
    startNode(['server.mjs'], { cwd: path.join(examples, 'express'), port: await freePort() }),
    startNode(['server.mjs'], { cwd: path.join(examples, 'express'), port: await freePort(), env }),
    startNode(['server.mjs'], { cwd: path.join(examples, 'hono'), port: await freePort(), env }),
    startNode(['server.mjs'], { cwd: path.join(examples, 'nest'), port: await freePort(), env }),
  ]);
}, 60_000);

afterAll(async () => {
  for (const app of [embedded, ...apps]) app?.stop();
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  admin?.disconnect();
  await redis?.stop();
  if (timings.length > 0) console.log(`runtime nodes behind the examples (measured on this machine):\n  ${timings.join('\n  ')}`);
});

/** The first curl line of the README's "Two commands", pointed at `url`'s port, run with the real curl. */
function readmeCurl(url: string, user: string): Record<string, any> {
  const block = /```sh\n(curl -s localhost:3000\/enclave [\s\S]*?)\n# \{/.exec(readme)?.[1];
  expect(block, 'README.md: the curl line under "Two commands"').toBeDefined();
  const command = (block ?? '').replace('localhost:3000', new URL(url).host).replace("'x-user: alice'", `'x-user: ${user}'`);
  const out = spawnSync('bash', ['-c', command], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(out.stdout) as Record<string, any>;
}

/** The example's users and their ids (the orders' `owner`). */
const IDS: Record<string, string> = { alice: 'u1', bob: 'u2' };

const post = (url: string, user: string, code: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': user }, body: JSON.stringify({ code }) });

describe('the examples with ENCLAVE_RUNTIME=redis', () => {
  it('the README’s curl line gives the same answers as the embedded example, through either app, for each user', () => {
    expect(spawnSync('curl', ['--version']).status, 'the README’s lines need curl: apt-get install -y curl').toBe(0);
    for (const user of ['alice', 'bob']) {
      const local = readmeCurl(embedded.url, user);
      expect(local.success).toBe(true);
      for (const app of apps) {
        const remote = readmeCurl(app.url, user);
        expect({ success: remote.success, value: remote.value, toolCallCount: remote.stats.toolCallCount }).toEqual({ success: true, value: local.value, toolCallCount: local.stats.toolCallCount });
      }
    }
    expect(readmeCurl(apps[0]?.url ?? '', 'alice').value).toBe(200);
    expect(readmeCurl(apps[1]?.url ?? '', 'bob').value).toBe(999);
    expect(readmeCurl(apps[2]?.url ?? '', 'alice').value).toBe(200);
  });

  it('runs of both users through every app spread over both nodes, each seeing only its own orders', async () => {
    const code = 'const all = await callTool("orders:list", {}); return all.map((o) => o.owner);';
    const requests = Array.from({ length: 18 }, (_, i) => ({ app: apps[i % apps.length] as Started, user: i % 6 < 3 ? 'alice' : 'bob' }));
    const answers = await Promise.all(requests.map(async ({ app, user }) => ({ user, body: (await (await post(app.url, user, code)).json()) as { value: string[] } })));
    for (const { user, body } of answers) {
      expect(body.value.length).toBeGreaterThan(0);
      expect(new Set(body.value)).toEqual(new Set([IDS[user]]));
    }
    // Each node's presence (renewed every 200 ms) counts the runs it took.
    await new Promise((r) => setTimeout(r, 400));
    for (const node of nodes) expect((await nodeLoad(admin, 'enclave:', node.id))?.taken).toBeGreaterThan(0);
  });

  it('kill -9 of the runtime node during a long run: 502 RUNTIME_LOST, not a hang, and the other node takes the next run', async () => {
    const long = 'for (let i = 1; i <= 4; i++) await callTool("reports:build", { days: i }); return "done";';
    const pending = post(apps[0]?.url ?? '', 'alice', long);
    // The node with the run says so in its presence.
    let victim: NodeProcess | undefined;
    for (let i = 0; i < 100 && victim === undefined; i++) {
      for (const node of nodes) if ((await nodeLoad(admin, 'enclave:', node.id))?.active === 1) victim = node;
      if (victim === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(victim).toBeDefined();
    const t0 = performance.now();
    await victim?.kill('SIGKILL');
    const res = await pending;
    const ms = performance.now() - t0;
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'RUNTIME_LOST' } });
    timings.push(`kill -9 of a runtime node mid-run: the client had 502 RUNTIME_LOST ${ms.toFixed(0)} ms after the kill (heartbeat 1 s)`);
    const next = await post(apps[1]?.url ?? '', 'bob', 'return "next"');
    expect(await next.json()).toMatchObject({ success: true, value: 'next' });
  }, 30_000);
});
