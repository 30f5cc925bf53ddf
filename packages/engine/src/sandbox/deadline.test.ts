/**
 * The deadline every `vm` realm entry runs under, by each of its two mechanisms: the inspector's
 * `Runtime.evaluate` with a timeout (this thread's session) and Node's watchdog (`runInContext` with a
 * timeout). Both must halt code that runs past the deadline, whatever it catches; leave the host's own
 * code after the entry alone (a deadline must not land late); and add nothing to the host's globals.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildEngineForChildren } from '../../test/helpers.js';
import { deadlineMechanism, enterUnderDeadline, underDeadline, useInspectorDeadlines } from './deadline.js';

const realm = () => vm.createContext({}, { codeGeneration: { strings: false, wasm: false } });
const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
  return true;
};

/**
 * `useInspectorDeadlines`, asked again (twice at most) when the inspector was asked for and its probe
 * failed: the probe needs one of V8's platform threads to fire a 1 ms deadline within 500 ms, which a
 * machine loaded by other test processes has missed once (Node 24, CI). A broken inspector fails all three.
 */
function use(on: boolean, set: typeof useInspectorDeadlines = useInspectorDeadlines): ReturnType<typeof useInspectorDeadlines> {
  let got = set(on);
  if (!on) return got;
  for (let i = 0; got !== 'inspector' && i < 2; i++) got = set(true);
  return got;
}

afterAll(() => use(true));

describe.each(['inspector', 'watchdog'] as const)('entries under a deadline (%s)', (mechanism) => {
  it('uses the mechanism asked for', () => {
    expect(use(mechanism === 'inspector')).toBe(mechanism);
    expect(deadlineMechanism()).toBe(mechanism);
  });

  it('halts a loop in a realm, even one that catches everything, and the host goes on', () => {
    expect(use(mechanism === 'inspector')).toBe(mechanism);
    const context = realm();
    for (const code of ['for (;;) {}', 'for (;;) { try { for (;;) {} } catch {} finally { for (;;) {} } }', 'const f = () => { try { f(); } catch { f(); } }; for (;;) f();']) {
      expect(enterUnderDeadline(30, new vm.Script(code), context), code).toBe('timeout');
      // The host's own code right after the entry runs to its end.
      expect(spin(20)).toBe(true);
    }
  });

  it('reports an entry that returns or throws, and runs it once', () => {
    use(mechanism === 'inspector');
    const context = realm();
    vm.runInContext('globalThis.n = 0', context);
    expect(enterUnderDeadline(1000, new vm.Script('n++'), context)).toBe('returned');
    expect(enterUnderDeadline(1000, new vm.Script('n++; throw new Error("x")'), context)).toBe('failed');
    expect(vm.runInContext('n', context)).toBe(2);
    let calls = 0;
    expect(underDeadline(1000, () => void calls++)).toBe('returned');
    expect(underDeadline(1000, () => {
      calls++;
      throw new Error('host');
    })).toBe('failed');
    expect(calls).toBe(2);
  });

  it('never halts the host after an entry that returned before its deadline', () => {
    use(mechanism === 'inspector');
    const context = realm();
    let returned = 0;
    for (let i = 0; i < 20; i++) {
      // On a loaded machine even this entry may outlast 10 ms; what counts is what comes after it.
      if (enterUnderDeadline(10, new vm.Script(`${i}`), context) === 'returned') returned++;
      // Outlives the deadline of the entry before it: a deadline that landed late would cut this off
      // (the test's own code, not a realm's) and fail the test.
      spin(15);
    }
    expect(returned).toBeGreaterThan(0);
  });

  it('runs a group of entries under one deadline, and a nested call inside the outer one', () => {
    use(mechanism === 'inspector');
    const context = realm();
    const seen: string[] = [];
    const outcome = underDeadline(40, () => {
      seen.push(enterUnderDeadline(60_000, new vm.Script('1'), context));
      seen.push('between');
      enterUnderDeadline(60_000, new vm.Script('for (;;) {}'), context);
      seen.push('never');
    });
    expect(outcome).toBe('timeout');
    expect(seen).toEqual(['returned', 'between']);
  });

  it('adds nothing to the host’s globals', () => {
    const before = Object.getOwnPropertyNames(globalThis).sort();
    use(mechanism === 'inspector');
    enterUnderDeadline(1000, new vm.Script('0'), realm());
    expect(Object.getOwnPropertyNames(globalThis).sort()).toEqual(before);
  });
});

describe('outstanding armed tasks', () => {
  it('past 20,000 entries whose deadlines are still to come, entries use Node\'s watchdog', () => {
    expect(use(true)).toBe('inspector');
    const { Session } = process.getBuiltinModule('node:inspector') as typeof import('node:inspector');
    const post = Session.prototype.post;
    let evaluated = 0;
    Session.prototype.post = function (this: unknown, ...args: unknown[]) {
      if (args[0] === 'Runtime.evaluate') evaluated++;
      return Reflect.apply(post, this, args) as unknown;
    } as typeof post;
    try {
      const context = realm();
      const script = new vm.Script('0');
      const outcomes = new Set<string>();
      // A long deadline: every task armed here is still queued when the last entry is made.
      for (let i = 0; i < 20_100; i++) outcomes.add(enterUnderDeadline(120_000, script, context));
      expect([...outcomes]).toEqual(['returned']);
      expect(evaluated).toBeGreaterThan(19_000);
      expect(evaluated).toBeLessThanOrEqual(20_000);
      // The watchdog still halts what runs past its deadline.
      expect(enterUnderDeadline(30, new vm.Script('for (;;) {}'), context)).toBe('timeout');
    } finally {
      Session.prototype.post = post;
    }
  });
});

describe('two copies of the engine in one process', () => {
  it('each finds its own private context and keeps the inspector', async () => {
    expect(use(true)).toBe('inspector');
    vi.resetModules();
    const second = await import('./deadline.js');
    expect(second.underDeadline).not.toBe(underDeadline);
    expect(use(true, second.useInspectorDeadlines)).toBe('inspector');
    // Opened again now that both private contexts exist: each must still pick its own.
    expect(use(true)).toBe('inspector');
    const context = realm();
    for (let i = 0; i < 3; i++) {
      expect(second.enterUnderDeadline(1000, new vm.Script('1'), context)).toBe('returned');
      expect(enterUnderDeadline(1000, new vm.Script('1'), context)).toBe('returned');
    }
    expect(second.deadlineMechanism()).toBe('inspector');
    expect(second.enterUnderDeadline(30, new vm.Script('for (;;) {}'), context)).toBe('timeout');
    expect(enterUnderDeadline(30, new vm.Script('for (;;) {}'), context)).toBe('timeout');
    second.useInspectorDeadlines(false);
  });
});

describe('a probe that missed its deadline', () => {
  /** A fresh copy of the module (its own private context, nothing opened yet), under fake timers. */
  async function withFreshCopy(test: (fresh: typeof import('./deadline.js')) => void): Promise<void> {
    vi.resetModules();
    const fresh = await import('./deadline.js');
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate'] });
    try {
      test(fresh);
    } finally {
      vi.useRealTimers();
      fresh.useInspectorDeadlines(false);
    }
  }

  it('is tried again later, so a process that started on a busy machine gets the inspector', () =>
    withFreshCopy((fresh) => {
      fresh.missNextProbes(2);
      fresh.prepareDeadlines();
      // The first try, a turn after the first run, and the first retry miss; the watchdog bounds entries meanwhile.
      vi.advanceTimersToNextTimer();
      expect(fresh.deadlineMechanism()).toBe('watchdog');
      vi.advanceTimersByTime(30_000);
      expect(fresh.deadlineMechanism()).toBe('watchdog');
      expect(fresh.enterUnderDeadline(30, new vm.Script('for (;;) {}'), realm())).toBe('timeout');
      // The second retry is a real probe. On a loaded machine it can miss too, which is the case retries are
      // for (its 1 ms deadline came after its 500 ms spin, or before its hook ran): the last retry follows.
      vi.advanceTimersByTime(30_000);
      if (fresh.deadlineMechanism() === 'watchdog') vi.advanceTimersByTime(30_000);
      expect(fresh.deadlineMechanism()).toBe('inspector');
      expect(fresh.enterUnderDeadline(30, new vm.Script('for (;;) {}'), realm())).toBe('timeout');
      expect(spin(20)).toBe(true);
    }));

  it('is not tried again once the mechanism was set outright', () =>
    withFreshCopy((fresh) => {
      fresh.missNextProbes(1);
      fresh.prepareDeadlines();
      vi.advanceTimersToNextTimer();
      fresh.useInspectorDeadlines(false);
      vi.advanceTimersByTime(120_000);
      expect(fresh.deadlineMechanism()).toBe('watchdog');
    }));
});

describe('off the main thread', () => {
  it('uses Node’s watchdog, and a vm Enclave there still halts a loop after a tool result', async () => {
    // The built engine's index, as a file URL.
    const index = buildEngineForChildren();
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ek-deadline-')), 'worker.mjs');
    writeFileSync(file, `
      import { parentPort } from 'node:worker_threads';
      import { Enclave } from ${JSON.stringify(index)};
      import { deadlineMechanism } from ${JSON.stringify(new URL('sandbox/deadline.js', index).href)};
      // The worker's first run builds its realm: on a loaded machine that alone can take longer than the
      // looping run's deadline, so only that run has a short one.
      const e = new Enclave({ validate: false, transform: false, timeout: 60_000 });
      const tools = { t: async () => 1 };
      const first = await e.run('return 1');
      await new Promise((r) => setTimeout(r, 20));
      const looped = await e.run('await callTool("t", {}); for (;;) {}', { tools, timeout: 200 });
      const after = await e.run('return (await callTool("t", {})) + 1', { tools });
      e.dispose();
      parentPort.postMessage({ first: first.value, looped: looped.error && looped.error.code, after: after.value, mechanism: deadlineMechanism() });
    `);
    const worker = new Worker(file);
    const got = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(got).toEqual({ first: 1, looped: 'TIMEOUT', after: 2, mechanism: 'watchdog' });
  }, 120_000);
});
