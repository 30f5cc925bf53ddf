/**
 * DESIGN.md section 5's `ABORTED` row is "the client went away: 499, logged only". A run the server
 * stops itself, because the Enclave it shares with the handler was disposed (a shutdown), is not that:
 * the client is still connected and reads the answer, so it gets 503 with `Retry-After` (another
 * instance, or this one once it is back), and the log does not say the client closed the request.
 * A bare node:http server on port 0, the Node bridge and fetch.
 */
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enclave, createEnclaveHandler } from '../../src/index.js';
import { routePath } from '../../src/http/index.js';
import { handleNodeRequest } from '../../src/node/index.js';
import { listen } from './contract.js';
import type { Served } from './contract.js';

describe('a run stopped by the server, not by the client', () => {
  const lines: string[] = [];
  let entered = 0;
  const enclave = new Enclave({ tools: { hang: () => (entered++, new Promise(() => {})) } });
  let served: Served;

  beforeAll(async () => {
    const handler = createEnclaveHandler({ enclave, logger: { info: (line: string) => lines.push(line), error: (line: string) => lines.push(line) } });
    const route = routePath('/enclave');
    const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req }, undefined, route.below(new URL(req.url ?? '/', 'http://localhost').pathname)));
    served = await listen(server, () => handler.dispose());
  });
  afterAll(() => served.close());

  const post = () => fetch(`${served.url}/enclave`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'await callTool("hang"); return 1' }) });

  it('the shared Enclave disposed mid-run: 503 with Retry-After and the ABORTED result, not 499; the log names no client', async () => {
    const pending = post();
    await expect.poll(() => entered).toBe(1);
    enclave.dispose();
    const res = await pending;
    expect([res.status, Number(res.headers.get('retry-after')) > 0]).toEqual([503, true]);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'ABORTED' } });
    expect(lines.join('\n')).not.toMatch(/client closed/);
  });

  it('a request after the dispose gets the same 503, and starts no tool', async () => {
    const res = await post();
    expect([res.status, Number(res.headers.get('retry-after')) > 0, entered]).toEqual([503, true, 1]);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'ABORTED' } });
  });
});
