/**
 * Invariants 1 and 2 (no host object, no host function) and the host's survival, while the host tracks
 * async context. With an AsyncLocalStorage in use (Node 20 and 22: OpenTelemetry's context manager,
 * APM agents, Next.js, request-context libraries) or any async hook enabled, Node runs its promise hooks
 * in every context of the thread, a `vm` realm's too. Before the fix, in `vm` mode with the default
 * options:
 *
 * - a script read the host's store off its own promise (`Object.getOwnPropertySymbols(p)` lists the
 *   AsyncLocalStorage's symbol, whose value is the host's store object) and called its functions;
 * - a host hook's writes onto a promise's resource (`resource.ctx = ...`) were the script's to read;
 * - a deadline that cut a realm entry off inside a promise reaction left Node's async context stack
 *   unbalanced, and Node aborted the process at its next callback ("async hook stack has become
 *   corrupted"), on Node 20, 22 and 24.
 *
 * Runs now leave the host's thread while it tracks async context (sandbox/async-context.ts). This file
 * turns async hooks on in its process, so it runs in a process of its own (vitest.config.ts).
 */
import { spawnSync } from 'node:child_process';
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import path from 'node:path';
import { promiseHooks, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Enclave } from '../../src/index.js';
import { ESCAPE_ROWS, makeEnclave } from '../helpers.js';
import { callerContextCanary } from '../caller-context.js';
import type { CreateEnclaveOptions, RunOptions } from '../../src/index.js';

const engineDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** What a script can find on its promises: every own key, of every kind of promise it can make, and any object value's fate. */
const FIND = `
const promises = [Promise.resolve(1), (async () => 1)(), Promise.resolve(2).then((x) => x), new Promise((r) => r(3))];
await promises[0];
await promises[1];
const keys = [];
for (const p of promises) {
  for (const k of Reflect.ownKeys(p)) {
    keys.push(String(k));
    const v = p[k];
    if (v !== null && typeof v === 'object') {
      for (const f of Object.values(v)) if (typeof f === 'function') { try { f(); } catch {} }
    }
  }
}
return keys;`;

const enclaves: Enclave[] = [];
afterAll(() => {
  for (const e of enclaves) e.dispose();
});

describe.each(ESCAPE_ROWS)('a host that tracks async context ($name)', (row) => {
  // One Enclave for the row's tests, as a long-lived server has: each test's runs meet the workers (and,
  // in vm mode, the fallback pool) an earlier test's runs started, in another request's context, and
  // the host's tracking is the process's, not the Enclave's. An Enclave each started a worker each
  // (about 100 ms of CPU), 48 of them.
  let shared: Enclave | undefined;
  beforeAll(() => {
    shared = makeEnclave(row, { timeout: 10_000 });
    enclaves.push(shared);
  });
  const enclave = () => shared as Enclave;

  it("an AsyncLocalStorage's store is nowhere on the script's promises, and none of its functions is called", async () => {
    const als = new AsyncLocalStorage<{ token: string; call: () => void }>();
    let called = 0;
    const store = { token: 'host-secret', call: () => void called++ };
    const e = enclave();
    const r = await als.run(store, () => e.run(FIND));
    expect(called).toBe(0);
    expect(JSON.stringify(r)).not.toContain('host-secret');
    if (r.success) expect(r.value).toEqual([]);
    else expect(r.error?.code).toBe('VALIDATION_ERROR');
    als.disable();
  });

  it("what a host hook writes on a promise's resource is not the script's to read", async () => {
    let called = 0;
    const hostCtx = { call: () => void called++ };
    const hook = createHook({
      init(_id, type, _trigger, resource) {
        if (type === 'PROMISE') (resource as { ctx?: unknown }).ctx = hostCtx;
      },
    }).enable();
    try {
      const e = enclave();
      const r = await e.run(`const p = Promise.resolve(1); await p; const c = p.ctx; if (c) c.call(); return c === undefined;`);
      expect(called).toBe(0);
      if (r.success) expect(r.value).toBe(true);
      else expect(r.error?.code).toBe('VALIDATION_ERROR');
    } finally {
      hook.disable();
    }
  });

  it("a run's tools run in the async context of its own caller: a tool reading the request's AsyncLocalStorage never reads another user's", async () => {
    // Before the fix, the tools of every run after the first read the store of the request that started
    // the worker they ran on (vm), or none at all (workers).
    const canary = callerContextCanary();
    const e = enclave();
    const run = (code: string, options: RunOptions) => e.run(code, options);
    const users = ['alice', 'bob', 'carol', 'dave', 'erin'];
    const results = [await canary.runAs('alice', run), await canary.runAs('bob', run), ...(await Promise.all(users.slice(2).map((u) => canary.runAs(u, run))))];
    canary.als.disable();
    for (const r of results) expect(r.success, JSON.stringify(r)).toBe(true);
    expect(canary.seen()).toEqual(canary.expected(users));
  });

  it("a run aborted from another request's context tells its tools in its own caller's", async () => {
    // The host's canary: the store a tool's abort listener finds. An abort signalled from elsewhere (a
    // cancel that arrived on another request, a Redis message) ran the run's end in that context.
    const als = new AsyncLocalStorage<{ user: string }>();
    const heard: string[] = [];
    let started!: () => void;
    const called = new Promise<void>((resolve) => (started = resolve));
    const tools = {
      wait: (_args: unknown, ctx: { signal: AbortSignal }) =>
        new Promise<number>(() => {
          ctx.signal.addEventListener('abort', () => heard.push(als.getStore()?.user ?? 'none'));
          started();
        }),
    };
    const e = enclave();
    const abort = new AbortController();
    const run = als.run({ user: 'alice' }, () => e.run(`return await callTool('wait', {});`, { tools, signal: abort.signal }));
    await called;
    als.run({ user: 'mallory' }, () => abort.abort());
    const r = await run;
    als.disable();
    expect(r.success ? 'ok' : r.error.code).toBe('ABORTED');
    expect(heard).toEqual(['alice']);
  });

  it('runs whose entries are due together (one shared deadline) are checked too when the host starts tracking between their entries', async () => {
    // The scheduler enters realms whose tool results arrive in the same turn one after another under one
    // deadline; before the fix only an entry made alone looked at the host first, so two runs resumed
    // together ran on with the host's hooks in their realms: a host function on their promises.
    let hook: ReturnType<typeof createHook> | undefined;
    let called = 0;
    const hostCtx = { call: () => void called++ };
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let waiting = 0;
    const tools = {
      trace: async () => {
        if (++waiting === 2) {
          hook = createHook({
            init(_id, type, _trigger, resource) {
              if (type === 'PROMISE') (resource as { ctx?: unknown }).ctx = hostCtx;
            },
          }).enable();
          open();
        }
        await gate;
        return 1;
      },
    };
    const code = `await callTool('trace', {}); const p = Promise.resolve(1); await p; const c = p.ctx; if (c) c.call(); return Reflect.ownKeys(p).length;`;
    try {
      const e = enclave();
      const results = await Promise.all([e.run(code, { tools }), e.run(code, { tools })]);
      expect(called).toBe(0);
      for (const r of results) {
        if (r.success) expect(r.value).toBe(0);
        else expect(r.error.code).toMatch(/^(INTERNAL_ERROR|VALIDATION_ERROR)$/);
      }
    } finally {
      hook?.disable();
    }
  });

  it.each(['onBefore', 'onAfter'] as const)("what a host's V8 promise hook (%s) writes on a promise when its reaction runs is not the script's to read", async (kind) => {
    // Hooks that see a promise only when a reaction of it runs: the probe once looked only at a promise
    // just made, and runs stayed in this thread with the host's object on their promises.
    let called = 0;
    const hostCtx = { call: () => void called++ };
    const stop = promiseHooks[kind]((promise: object) => {
      try {
        (promise as { ctx?: unknown }).ctx = hostCtx;
      } catch {
        // a frozen promise
      }
    });
    try {
      const e = enclave();
      const r = await e.run(`const p = Promise.resolve(1); const q = p.then((x) => x); await q; await null; const c = q.ctx || p.ctx; if (c) c.call(); return c === undefined;`);
      expect(called).toBe(0);
      if (r.success) expect(r.value).toBe(true);
      else expect(r.error?.code).toBe('VALIDATION_ERROR');
    } finally {
      stop();
    }
  });

  it('a run during which the host starts tracking ends before its next entry, or runs on a worker, and never sees the hooks', async () => {
    let hook: ReturnType<typeof createHook> | undefined;
    try {
      const e = enclave();
      const tools = {
        trace: async () => {
          hook = createHook({
            init(_id, type, _trigger, resource) {
              if (type === 'PROMISE') (resource as { ctx?: unknown }).ctx = 'host';
            },
          }).enable();
          return 1;
        },
      };
      const r = await e.run(`await callTool('trace', {}); const p = Promise.resolve(1); await p; return Reflect.ownKeys(p).length;`, { tools });
      if (r.success) expect(r.value).toBe(0);
      else expect(r.error?.code).toMatch(/^(INTERNAL_ERROR|VALIDATION_ERROR)$/);
    } finally {
      hook?.disable();
    }
  });
});

describe('a deadline after an await, while the host tracks async context', () => {
  // In a child process: before the fix, Node aborted the process.
  it.each([
    ['an AsyncLocalStorage in use', 'const als = new AsyncLocalStorage(); als.enterWith({ request: 1 });'],
    ['an async hook enabled', 'createHook({ init() {}, before() {}, after() {} }).enable();'],
    // Hooks that mark a promise only when its reaction runs, not when it is made: the probe once missed them.
    ['an async hook with only before and after (a per-callback timer)', 'createHook({ before() {}, after() {} }).enable();'],
    ['an async hook with only before', 'createHook({ before() {} }).enable();'],
    ['an async hook with only after', 'createHook({ after() {} }).enable();'],
  ])('with %s, runs that time out inside promise reactions end as TIMEOUT and the host goes on', (_label, setup) => {
    const child = `
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { Enclave } from '@enclave-kit/engine';
${setup}
const e = new Enclave({ timeout: 150, validate: false, transform: false });
const codes = [];
for (const code of ['await null; while (true) {}', 'await Promise.resolve().then(() => { while (true) {} });', 'await Promise.all([1, 2].map(async () => { await null; while (true) {} }));']) {
  codes.push((await e.run(code)).error?.code);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
}
console.log(JSON.stringify(codes));
e.dispose();
`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', child], { cwd: engineDir, encoding: 'utf8', timeout: 60_000 });
    expect(out.stderr).not.toContain('corrupted');
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout.trim())).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
  });
});

describe('the workers that runs started inside a request need', () => {
  // A worker's port keeps the async context it was made in: one started for a request's run (the vm
  // isolation's fallback pool, a worker_threads pool growing on demand) kept that request's store,
  // and whatever it holds, alive for as long as the worker lived.
  it.each([
    ['vm, on its fallback pool', {}],
    ['worker_threads, growing on demand', { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 0, maxWorkers: 2 } }],
  ] as const)('%s: keep nothing of that request once its run has ended', async (_label, options) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const als = new AsyncLocalStorage<{ user: string; payload: number[] }>();
    const e = new Enclave(options as CreateEnclaveOptions);
    enclaves.push(e);
    let store: { user: string; payload: number[] } | undefined = { user: 'first', payload: [1, 2, 3] };
    const gone = new WeakRef(store);
    const r = await als.run(store, () => e.run(`return await callTool('who', {})`, { tools: { who: async () => als.getStore()?.user } }));
    expect(r.success && r.value).toBe('first');
    store = undefined;
    await expect.poll(async () => {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      return gone.deref() === undefined;
    }, { timeout: 10_000 }).toBe(true);
    // The workers are still there for the next run, in its own context.
    const next = await als.run({ user: 'second', payload: [] }, () => e.run(`return await callTool('who', {})`, { tools: { who: async () => als.getStore()?.user } }));
    expect(next.success && next.value).toBe('second');
  });
});

describe("what a run's check leaves behind", () => {
  it("the parser's buffer timers keep nothing of the request whose script was parsed", async () => {
    // oxc's raw-transfer buffers (Node 22 and later) and ours (ast/raw-tree.ts, Node 20) are let go by
    // an idle timer that a parse sets, and a timer keeps the async context it was set in: before the
    // fix the request's store stayed reachable for 10 s after the last parse (oxc), or for as long as
    // parses kept coming (ours). A fresh copy of the parser, so that this parse is the one that sets it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    vi.resetModules();
    const { parseAgentScript } = await import('../../src/ast/parse.js');
    // The first parse of a process takes the JSON path, which has no buffer.
    parseAgentScript('return 0;');
    const als = new AsyncLocalStorage<{ user: string }>();
    let store: { user: string } | undefined = { user: 'first' };
    const gone = new WeakRef(store);
    als.run(store, () => parseAgentScript(`return ${Math.random()};`));
    store = undefined;
    als.disable();
    // Well before either timer's 10 s: collected at the first try since the fix.
    await expect.poll(async () => {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      return gone.deref() === undefined;
    }, { timeout: 5_000 }).toBe(true);
  });

  it("the raw path's set-up after a process's first parse keeps nothing of the request that parsed", async () => {
    // The first parse schedules the raw path's set-up for a later turn (ast/parse.ts), and that set-up
    // parses once, which sets the buffers' idle timer: scheduled in the request's context, both would
    // hold its store, the second for 10 s.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    vi.resetModules();
    const { parseAgentScript } = await import('../../src/ast/parse.js');
    const als = new AsyncLocalStorage<{ user: string }>();
    let store: { user: string } | undefined = { user: 'first' };
    const gone = new WeakRef(store);
    als.run(store, () => parseAgentScript(`return ${Math.random()};`));
    store = undefined;
    // Still enabled while the set-up runs: a disabled storage gives nothing to what starts after it.
    try {
      await expect.poll(async () => {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 10));
        return gone.deref() === undefined;
      }, { timeout: 5_000 }).toBe(true);
    } finally {
      als.disable();
    }
  });
});
