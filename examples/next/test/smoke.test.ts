/**
 * Smoke test of the Next.js example, and the contract check of a built Next app: `next build`, then
 * `next start` on a free port, then real requests over fetch (valid, malformed, hostile, wrong type).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(path.join(dir, 'package.json')).resolve('next/dist/bin/next');
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };

// Build at collection time: only a build that cannot run on this machine at all (no SWC binary for
// the platform, a Node too old for Next) skips the suite; any other build failure fails it.
const build = spawnSync(process.execPath, [nextBin, 'build'], { cwd: dir, env, encoding: 'utf8', timeout: 180_000 });
const buildOutput = `${build.stdout ?? ''}${build.stderr ?? ''}`;
const cannotRun = build.status !== 0 && /Failed to load SWC binary|not supported on this platform|You are using Node\.js .* For Next\.js/i.test(buildOutput);
if (cannotRun) console.warn(`examples/next: skipped, next build cannot run on this machine:\n${buildOutput.slice(-2000)}`);

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

describe.skipIf(cannotRun)('examples/next (built app)', () => {
  let child: ReturnType<typeof spawn> | undefined;
  let url = '';
  beforeAll(async () => {
    expect(build.status, buildOutput.slice(-4000)).toBe(0);
    const port = await freePort();
    child = spawn(process.execPath, [nextBin, 'start', '-p', String(port), '-H', '127.0.0.1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child?.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Ready in|started server/i.test(out)) resolve();
      });
      child?.once('exit', (code) => reject(new Error(`next start exited with ${code}: ${out}`)));
    });
    url = `http://127.0.0.1:${port}/enclave`;
  });
  afterAll(() => {
    child?.kill();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice', ...headers }, body });
  const run = (code: string, user = 'alice') => post(JSON.stringify({ code }), { 'x-user': user });

  it('runs a script with the tools of the user in x-user', async () => {
    const code = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';
    const [alice, bob] = await Promise.all([run(code, 'alice'), run(code, 'bob')]);
    expect(alice.status).toBe(200);
    expect(await alice.json()).toMatchObject({ success: true, value: 200 });
    expect(await bob.json()).toMatchObject({ success: true, value: 999 });
    const catalog = (await (await fetch(url, { headers: { 'x-user': 'alice' } })).json()) as { tools: { name: string }[] };
    expect(catalog.tools.map((t) => t.name)).toEqual(['me', 'orders:get', 'orders:list']);
  });

  it('answers malformed, hostile and mistyped requests with the documented statuses, in JSON', async () => {
    const expectError = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    };
    await expectError(await post('{"code": '), 400, 'BAD_REQUEST');
    await expectError(await run('return this.constructor.constructor("return process")().exit(1)'), 422, 'VALIDATION_ERROR');
    await expectError(await post('return 1', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await expectError(await run('return 1', ''), 401, 'UNAUTHORIZED');
    await expectError(await run('return await callTool("orders:get", { id: "o1" })', 'bob'), 403, 'TOOL_ERROR');
    // The server survived all of it.
    expect((await run('return 1 + 1')).status).toBe(200);
  });
});
