/**
 * A real enclave server for the client's tests: the engine's Fetch core behind `node:http` (through
 * `handleNodeRequest`, as the Express and Nest adapters serve it) on port 0, with user-bound tools and an
 * in-memory session store the tests can read. Plus (from cutting-proxy.ts) a proxy that really cuts connections.
 */
import { createServer } from 'node:http';
import { EnclaveHttpError, ToolError, createEnclaveHandler, defineTool } from '@enclave-kit/engine';
import { expect } from 'vitest';
import { EnclaveClientError } from '../src/index.js';
import type { EnclaveHandlerOptions, ToolContext } from '@enclave-kit/engine';
import { handleNodeRequest } from '@enclave-kit/engine/node';
import { MemorySessionStore } from '../../engine/src/http/session-store.js';
import type { MemorySessionStoreOptions } from '../../engine/src/http/session-store.js';
import { listen, shut } from './cutting-proxy.js';

export { startCuttingProxy } from './cutting-proxy.js';
export type { Cut, CuttingProxy } from './cutting-proxy.js';

export interface TestServer {
  /** The enclave route: `http://127.0.0.1:{port}/enclave`. */
  url: string;
  store: MemorySessionStore;
  /** Tool calls that are waiting on `block`, the aborts their signals saw, and a release that answers them all (null). */
  blocked: { pending: number; aborted: number; release(): void };
  /** Amounts `refund` (which needs approval) really refunded. */
  refunds: number[];
  close(): Promise<void>;
}

/** Resolves after `ms`, or when `signal` aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const silent = { info() {}, error() {} };

/**
 * Users come from `x-user` (none: 401, `mallory`: 403); `limited` may make one request a minute. Tools:
 * `whoami`, `tick({ i, ms })` (waits `ms`, returns `i`), `fail` (a public ToolError with status 409),
 * `block` (waits until the run ends or `blocked.release()`), `refund({ amount })` (needs approval).
 */
export async function startServer(options: { store?: MemorySessionStoreOptions; handler?: Partial<EnclaveHandlerOptions> } = {}): Promise<TestServer> {
  const store = new MemorySessionStore(options.store);
  const releases: (() => void)[] = [];
  const blocked = { pending: 0, aborted: 0, release: () => releases.splice(0).forEach((r) => r()) };
  const refunds: number[] = [];
  const handler = createEnclaveHandler<unknown, string>({
    enclave: { timeout: 10_000 },
    logger: silent,
    maxBodySize: 16 * 1024,
    sessions: { store, maxPerUser: 1000, ttlMs: 60_000 },
    authenticate: ({ request }) => {
      const user = request.headers.get('x-user') ?? undefined;
      if (user === 'mallory') throw new EnclaveHttpError(403, 'mallory may not run scripts');
      return user;
    },
    rateLimit: { max: 1, windowMs: 60_000, key: ({ user }) => (user === 'limited' ? user : undefined) },
    tools: ({ user }) => ({
      whoami: () => user,
      tick: async ({ i, ms }: { i: number; ms?: number }, ctx: ToolContext) => {
        if (ms) await wait(ms, ctx.signal);
        return i;
      },
      fail: () => {
        throw new ToolError('Not in this state.', { code: 'CONFLICT', status: 409 });
      },
      refund: defineTool({
        name: 'refund',
        needsApproval: true,
        handler: ({ amount }: { amount: number }) => {
          refunds.push(amount);
          return amount;
        },
      }),
      block: async (_args: unknown, ctx: ToolContext) => {
        blocked.pending++;
        await Promise.race([wait(60_000, ctx.signal), new Promise<void>((r) => releases.push(r))]);
        blocked.pending--;
        if (ctx.signal.aborted) blocked.aborted++;
        return null;
      },
    }),
    ...options.handler,
  } as EnclaveHandlerOptions<unknown, string>);
  const server = createServer((req, res) => void handleNodeRequest(handler, req, res, { req, res }));
  const origin = await listen(server);
  return {
    url: `${origin}/enclave`,
    store,
    blocked,
    refunds,
    close: async () => {
      handler.dispose();
      await shut(server);
    },
  };
}

/** A small seeded PRNG (mulberry32): the same seed, the same cuts. */
export { prng as seededRandom } from '../../engine/test/prng.js';

/** The error a promise rejects with (the test fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<EnclaveClientError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EnclaveClientError);
  return err as EnclaveClientError;
}
