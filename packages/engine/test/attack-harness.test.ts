/**
 * The attack harness watches what an attack's detached work does after its run settled for at least
 * 20 ms, past the attack's own test (runAttack leaves the window open; the next attack, or the row's or
 * the file's end, checks it). These cases do such work on purpose, from the host, just after runAttack
 * returned (where the attack's own checks can no longer see it), and expect the harness to name the
 * attack.
 */
import { describe, expect, it } from 'vitest';
import type { ToolKit } from './helpers.js';
import { ADAPTERS, closeAttackWindows, runAttack } from './helpers.js';

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
