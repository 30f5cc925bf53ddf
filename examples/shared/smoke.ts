/**
 * Smoke test of an example server, run the way the README runs it: `node server.mjs` on the built
 * packages (or the example's own `start`: Next's `next start`), a free port, the curl requests of its
 * banner made with fetch, the README's streaming and session flows, and the official MCP clients on its
 * code-mode route.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, itServesMcp, itServesThePlayground, itStaysQuiet, probeStreaming, startNode } from './probe.js';
import type { Started } from './probe.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface SmokeOptions {
  /** Starts the example (default: `node server.mjs` in its folder). */
  start?: () => Promise<Started>;
  skip?: boolean;
}

export function smokeTest(example: string, options: SmokeOptions = {}): void {
  const start = options.start ?? (async () => startNode(['server.mjs'], { cwd: path.join(here, '..', example), port: await freePort() }));
  describe.skipIf(options.skip === true)(`examples/${example}`, () => {
    let server: Started | undefined;
    let url = '';
    beforeAll(async () => {
      server = await start();
      url = server.url;
    });
    afterAll(() => server?.stop());

    const run = (user: string | undefined, code: string) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(user ? { 'x-user': user } : {}) }, body: JSON.stringify({ code }) });

    it('runs a script with the tools of the user in x-user', async () => {
      const code = 'const paid = await callTool("orders:list", { status: "paid" }); return paid.reduce((s, o) => s + o.total, 0);';
      const [alice, bob] = await Promise.all([run('alice', code), run('bob', code)]);
      expect(await alice.json()).toMatchObject({ success: true, value: 200 });
      expect(await bob.json()).toMatchObject({ success: true, value: 999 });
    });

    it('answers with the documented statuses', async () => {
      expect((await run(undefined, 'return 1')).status).toBe(401);
      const foreign = await run('bob', 'return await callTool("orders:get", { id: "o1" })');
      expect(foreign.status).toBe(403);
      expect((await run('alice', 'return eval("1")')).status).toBe(422);
      const catalog = (await (await fetch(url, { headers: { 'x-user': 'alice' } })).json()) as { tools: { name: string; needsApproval?: string }[] };
      expect(catalog.tools.map((t) => t.name)).toEqual(['me', 'orders:get', 'orders:list', 'orders:refund', 'reports:build']);
      expect(catalog.tools.find((t) => t.name === 'orders:refund')).toMatchObject({ sideEffect: true, needsApproval: 'conditional' });
    });

    probeStreaming(() => url, { slowTool: 'reports:build', approvals: true });

    itServesMcp(() => url);

    itServesThePlayground(() => url);

    itStaysQuiet(() => server, (code) => run('alice', code));

    it('answers malformed JSON with a JSON 400', async () => {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' }, body: '{"code": ' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
    });
  });
}
