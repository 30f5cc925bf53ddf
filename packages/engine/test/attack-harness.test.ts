/**
 * The attack harness watches what an attack's detached work does after its run settled for at least
 * 20 ms, past the attack's own test (runAttack leaves the window open; the next attack, or the row's or
 * the file's end, checks it). These cases do such work on purpose, from the host, just after runAttack
 * returned (where the attack's own checks can no longer see it), and expect the harness to name the
 * attack.
 */
import { describe, expect, it } from 'vitest';
import type { ToolKit } from './helpers.js';
import { ADAPTERS, closeAttackWindows, expectHostIntact, hostSnapshot, runAttack } from './helpers.js';

const row = ADAPTERS[0];
if (row === undefined) throw new Error('no attack row');
const g = globalThis as Record<string, unknown>;
/** The host global an escaped payload sets (see PWN in helpers.ts). */
const PWNED = '__pwned';

describe('runAttack keeps watching an attack after its test', () => {
  it('a tool call after the attack\'s test is found and named', async () => {
    let attackKit: ToolKit | undefined;
    await runAttack(row, {
      name: 'leaves a late tool call',
      code: 'return 1;',
      expect: ['OK'],
      run: (kit) => {
        attackKit = kit;
        return { tools: kit.tools };
      },
    });
    attackKit?.calls.push({ name: 'echo', args: {}, afterSettled: true });
    await expect(closeAttackWindows(true)).rejects.toThrow(/leaves a late tool call[\s\S]*tools were called after run\(\) resolved/);
  });

  it('a host canary set after the attack\'s test is found before the next attack resets it', async () => {
    await runAttack(row, { name: 'sets a canary late', code: 'return 1;', expect: ['OK'] });
    g[PWNED] = 1;
    try {
      // The next attack checks the open window first, then resets the canaries for itself.
      await expect(runAttack(row, { name: 'the next attack', code: 'return 2;', expect: ['OK'] })).rejects.toThrow(/sets a canary late[\s\S]*__pwned/);
    } finally {
      delete g[PWNED];
    }
    await closeAttackWindows(true);
  });
});

/**
 * The snapshots keep keys in V8's order and sort them only when two lists differ: a key added anywhere
 * is still found, while a key deleted and added again (same set, new order) is still no change.
 */
describe('expectHostIntact compares the host\'s keys as sets', () => {
  const KEY = '__ekHarnessProbe';
  it('a new host global, environment variable or prototype key is found', () => {
    const cases: [string, () => void, () => void, RegExp][] = [
      ['global', () => (g[KEY] = 1), () => delete g[KEY], /new host globals appeared/],
      ['env', () => (process.env.EK_HARNESS_PROBE = '1'), () => delete process.env.EK_HARNESS_PROBE, /expected/],
      // oxlint-disable-next-line no-extend-native -- a canary the harness must report, removed at once
      ['Array.prototype', () => Object.defineProperty(Array.prototype, KEY, { value: 1, configurable: true }), () => delete (Array.prototype as unknown as Record<string, unknown>)[KEY], /expected/],
      // oxlint-disable-next-line no-extend-native -- a canary the harness must report, removed at once
      ['Error.prototype', () => Object.defineProperty(Error.prototype, KEY, { value: 1, configurable: true }), () => delete (Error.prototype as unknown as Record<string, unknown>)[KEY], /expected/],
    ];
    for (const [where, add, remove, message] of cases) {
      const before = hostSnapshot();
      add();
      try {
        expect(() => expectHostIntact(before), where).toThrow(message);
      } finally {
        remove();
      }
      expectHostIntact(before);
    }
  });

  it('a key deleted and added again is no change, and what opts leaves out is not compared', () => {
    const first = Object.keys(process.env)[0] as string;
    const value = process.env[first];
    const before = hostSnapshot();
    delete process.env[first];
    process.env[first] = value;
    const timer = Object.getOwnPropertyDescriptor(globalThis, 'setTimeout') as PropertyDescriptor;
    delete g.setTimeout;
    Object.defineProperty(globalThis, 'setTimeout', timer);
    // Both lists came back in another order: the check must not take that for a change.
    expect(Object.keys(process.env).at(-1)).toBe(first);
    expectHostIntact(before);
    g[KEY] = 1;
    process.env.EK_HARNESS_PROBE = '1';
    try {
      expectHostIntact(before, { globals: false, env: false });
    } finally {
      delete g[KEY];
      delete process.env.EK_HARNESS_PROBE;
    }
  });
});
