/**
 * The README's "Streaming and sessions" blocks, tried as a new user would, against this example started
 * with `node server.mjs`: the curl blocks run with the real curl under bash (the one edit: port 3000
 * becomes a free port), and the client snippet is typechecked with tsc and run with node on the built
 * packages. Twice: embedded (the default), and with ENCLAVE_RUNTIME=redis on two `enclave-runtime`
 * processes and a real redis-server, where every line must give the same answers.
 * The README's MCP client program ("Code mode over MCP") runs against it too, with the official
 * client as packages/mcp has it installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../scripts/redis-server.mjs';
import type { RedisServer } from '../../../scripts/redis-server.mjs';
import { startNodeProcess } from '../../../packages/redis/test/nodes.js';
import type { NodeProcess } from '../../../packages/redis/test/nodes.js';
import { freePort, startNode } from '../../shared/probe.js';
import type { Started } from '../../shared/probe.js';
import { readmeBlocks, runShell, sse } from './readme.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const work = path.resolve(here, '../.readme');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const blocks = () => readmeBlocks('Streaming and sessions');

/** What tsc says of the README's client snippet, as written, in `work` (nothing when it typechecks). */
function typecheck(code: string): string {
  writeFileSync(path.join(work, 'client.mts'), code);
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const checked = spawnSync(process.execPath, [tsc, '--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--types', 'node', 'client.mts'], { cwd: work, encoding: 'utf8' });
  return `${checked.stdout}${checked.stderr}`;
}
/**
 * The snippet's types depend on neither the mode nor the port: the first row's check serves both (tsc
 * was 2-4 s of each row's test).
 */
let snippetTypes: string | undefined;

const MODES = [
  { name: 'embedded', remote: false },
  { name: 'ENCLAVE_RUNTIME=redis, two runtime nodes', remote: true },
] as const;

describe.each(MODES)('README: Streaming and sessions, against examples/express [$name]', ({ remote }) => {
  let server: Started | undefined;
  let redis: RedisServer | undefined;
  let nodes: NodeProcess[] = [];
  let port = 0;
  const example = { get port() { return port; } };
  beforeAll(async () => {
    expect(spawnSync('curl', ['--version']).status, 'the README’s lines need curl: apt-get install -y curl').toBe(0);
    port = await freePort();
    // reports:build takes 4 s here, not 1.5: see REPORT_MS in examples/shared/orders.mjs.
    let env: Record<string, string> = { EXAMPLE_REPORT_MS: '4000' };
    if (remote) {
      redis = await startRedisServer();
      nodes = await Promise.all([startNodeProcess(redis.url, 'enclave:'), startNodeProcess(redis.url, 'enclave:')]);
      env = { ...env, REDIS_URL: redis.url, ENCLAVE_RUNTIME: 'redis' };
    }
    server = await startNode(['server.mjs'], { cwd: path.join(here, '..'), port, env });
  }, 60_000);
  afterAll(async () => {
    server?.stop();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await redis?.stop();
  });

  it('the curl -N line streams session_init, tool_call, tool_result, log and final as SSE', () => {
    const [stream] = blocks();
    expect(stream?.lang).toBe('sh');
    const [out] = runShell(stream?.code ?? '', example.port);
    expect(out?.startsWith('retry: 1000\nid: 1\n')).toBe(true);
    const events = sse(out ?? '');
    expect(events.map((e) => e.type)).toEqual(['session_init', 'tool_call', 'tool_result', 'log', 'final']);
    expect(events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(events.every((e) => e.type === e.data.type)).toBe(true);
    expect(events[3]?.data.payload.message).toBe('paid orders: 2');
    expect(events[4]?.data.payload).toMatchObject({ success: true, value: 2 });
  });

  it('the session block starts, drops, resumes with Last-Event-ID and cancels as its comments say', () => {
    const flow = blocks().filter((b) => b.lang === 'sh')[1];
    const [start, follow, running, foreign, resume, state, restart, cancel] = runShell(flow?.code ?? '', example.port);
    expect(start?.trim()).toBe('');
    const first = sse(follow ?? '');
    expect(first.map((e) => [e.id, e.type])).toEqual([
      ['1', 'session_init'],
      ['2', 'log'],
      ['3', 'tool_call'],
    ]);
    const id = first[0]?.data.sessionId;
    expect(JSON.parse(running ?? '')).toEqual({ sessionId: id, state: 'running' });
    expect(JSON.parse(foreign ?? '')).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
    const rest = sse(resume ?? '');
    expect(rest.map((e) => [e.id, e.type])).toEqual([
      ['4', 'tool_result'],
      ['5', 'log'],
      ['6', 'final'],
    ]);
    expect(rest[1]?.data.payload.message).toBe('built');
    expect(rest[2]?.data.payload).toMatchObject({ success: true, value: { days: 7, orders: 3, revenue: 200 } });
    expect(JSON.parse(state ?? '')).toMatchObject({ sessionId: id, state: 'completed', result: { value: { days: 7, orders: 3, revenue: 200 } } });
    expect(restart?.trim()).toBe('');
    expect(JSON.parse(cancel ?? '')).toMatchObject({ state: 'cancelled', result: { success: false, error: { code: 'ABORTED' } } });
  });

  it('the client snippet typechecks and prints what its comment says', () => {
    const snippet = blocks().find((b) => b.lang === 'ts');
    expect(snippet?.code).toContain("from '@enclave-kit/client'");
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    snippetTypes ??= typecheck(snippet?.code ?? '');
    expect(snippetTypes).toBe('');
    // No type annotations in it: the same text runs as JavaScript, on the packages' dist.
    const code = (snippet?.code ?? '').replaceAll('3000', String(example.port));
    writeFileSync(path.join(work, 'client.mjs'), code);
    const ran = spawnSync(process.execPath, ['client.mjs'], { cwd: work, encoding: 'utf8', timeout: 30_000 });
    expect(ran.stderr).toBe('');
    const expected = [...(snippet?.code ?? '').matchAll(/^\/\/ (.*)$/gm)].map((m) => m[1]);
    expect(ran.stdout.trim().split('\n')).toEqual(expected);
  });

  it('the MCP client program of "Code mode over MCP" prints what its comment says', () => {
    const start = readme.indexOf('\n## Code mode over MCP\n');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const snippet = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '').find((c) => c.includes("from '@modelcontextprotocol/client'"));
    expect(snippet).toBeDefined();
    // Where the official client resolves: packages/mcp, which tests with it (ignored by git, like .readme/).
    const dir = path.join(root, 'packages/mcp/.readme');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'client.mjs'), (snippet ?? '').replaceAll('3000', String(port)));
    const ran = spawnSync(process.execPath, ['client.mjs'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(ran.stderr).toBe('');
    expect(ran.stdout.trim()).toBe('200');
    rmSync(dir, { recursive: true, force: true });
  });
});
