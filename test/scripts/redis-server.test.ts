// The test helper that starts a real redis-server: a server is only "ready" when the answer comes from the
// process it started, never from another server that holds the port (another test's, or one left behind).
import { afterAll, describe, expect, it } from 'vitest';
import { ping, startRedisServer } from '../../scripts/redis-server.mjs';

type Started = Awaited<ReturnType<typeof startRedisServer>>;
const started: Started[] = [];
afterAll(async () => {
  for (const s of started) await s.stop();
});

describe('startRedisServer', () => {
  it('refuses a port another Redis holds instead of taking that server for its own', async () => {
    const first = await startRedisServer();
    started.push(first);
    // Before, the PING the other server answered counted as the new server being ready.
    await expect(startRedisServer({ port: first.port })).rejects.toThrow(`redis-server did not start on port ${first.port}`);
    expect(await ping(first.port)).toBe(true);
  });

  it('starts again on the same port after a halt, as a new process', async () => {
    const server = await startRedisServer();
    started.push(server);
    const before = server.pid;
    await server.halt();
    expect(await ping(server.port)).toBe(false);
    await server.start();
    expect(server.pid).not.toBe(before);
    expect(await ping(server.port)).toBe(true);
  });
});
