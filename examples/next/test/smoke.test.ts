/**
 * Smoke test of the Next.js app: `next build` (which also type-checks the TypeScript routes), then
 * `next start` on a free port for each of its two routes. `/enclave` is the example, with the users,
 * tools and options of the Express, Hono and Nest examples, held to the same smoke test (the README's
 * curl lines, streaming, sessions cut, resumed and cancelled, approvals, MCP, the playground).
 * `/quickstart/enclave` is the README's Next.js quick start, given the probes of every quick start
 * (valid, malformed, hostile requests, each held to the README's HTTP contract).
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// By package name, not by a relative path into examples/shared: this file lives inside the Next app, whose
// tsconfig.json (excluding test/) and bundler must never have to resolve it.
import { freePort, probeQuickStart, startNode } from '@enclave-kit/example-shared/probe';
import type { Started } from '@enclave-kit/example-shared/probe';
import { smokeTest } from '@enclave-kit/example-shared/smoke';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { startNodeProcess } from '../../../packages/redis/test/nodes.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(path.join(dir, 'package.json')).resolve('next/dist/bin/next');
const env = { NEXT_TELEMETRY_DISABLED: '1' };

// Build at collection time: only a build that cannot run on this machine at all (no SWC binary for
// the platform, a Node too old for Next) skips the suite; any other build failure fails it.
const build = spawnSync(process.execPath, [nextBin, 'build'], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 180_000 });
const buildOutput = `${build.stdout ?? ''}${build.stderr ?? ''}`;
const cannotRun = build.status !== 0 && /Failed to load SWC binary|not supported on this platform|You are using Node\.js .* For Next\.js/i.test(buildOutput);
if (cannotRun) console.warn(`examples/next: skipped, next build cannot run on this machine:\n${buildOutput.slice(-2000)}`);

/** `next start` of the built app on a free port, probed at `route`, with `extraEnv` added. */
async function start(route: string, extraEnv: Record<string, string> = {}) {
  if (build.status !== 0) throw new Error(`next build failed:\n${buildOutput.slice(-4000)}`);
  const port = await freePort();
  return startNode([nextBin, 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, env: { ...env, ...extraEnv }, port, path: route });
}

smokeTest('next', { start: () => start('/enclave'), skip: cannotRun });

probeQuickStart('examples/next: the README quick start (built app)', () => start('/quickstart/enclave'), { skip: cannotRun, mcp: true, playground: true });

// DESIGN.md 5.1: REDIS_URL, RATE_LIMIT_PER_MINUTE and ENCLAVE_RUNTIME=redis configure every example; the
// other examples run so in examples/shared/test. The same build, started with them on a real
// redis-server and one `enclave-runtime` node.
describe.skipIf(cannotRun)('examples/next with REDIS_URL, ENCLAVE_RUNTIME=redis and RATE_LIMIT_PER_MINUTE=3', () => {
  let redis: RedisServer | undefined;
  let app: Started | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
    await startNodeProcess(redis.url, 'enclave:', ['--concurrency', '1']);
    app = await start('/enclave', { REDIS_URL: redis.url, ENCLAVE_RUNTIME: 'redis', RATE_LIMIT_PER_MINUTE: '3' });
  }, 60_000);
  afterAll(async () => {
    app?.stop();
    await redis?.stop();
  });

  it('runs the script on the runtime node with the user’s tools here; the user’s 4th request in the minute is 429', async () => {
    const post = (accept: string) =>
      fetch(app?.url ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user': 'alice', accept },
        body: JSON.stringify({ code: 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);' }),
      });
    const lines = (await (await post('application/x-ndjson')).text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; payload: any });
    expect(lines[0]).toMatchObject({ type: 'session_init', payload: { isolation: 'remote' } });
    expect(lines.at(-1)).toMatchObject({ type: 'final', payload: { success: true, value: 200 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post('application/json');
      statuses.push(res.status);
      if (i === 2) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });
});
