/**
 * A run builds the script's `console` only when the script may name it (namesConsole in pipeline.ts):
 * every way of spelling the name still gets one that logs, in both isolations.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';
import { namesConsole } from '../src/pipeline.js';

describe('namesConsole', () => {
  it('is false only for a text with neither `console` nor a `\\u` escape', () => {
    expect(namesConsole('return 1 + 1;')).toBe(false);
    expect(namesConsole("const users = await callTool('users:list', {}); return users.filter((u) => u.active).length;")).toBe(false);
    expect(namesConsole("const s = 'a\\nb'; return s;")).toBe(false);
    expect(namesConsole('console.log(1);')).toBe(true);
    expect(namesConsole('c\\u006fnsole.log(1);')).toBe(true);
    expect(namesConsole('c\\u{6f}nsole.log(1);')).toBe(true);
    expect(namesConsole("const s = 'console'; return s;")).toBe(true);
  });
});

describe.each(['vm', 'worker_threads'] as const)('the console a script names (%s)', (adapter) => {
  const enclave = new Enclave({ adapter });
  afterAll(() => enclave.dispose());

  it('logs however the name is spelled, and a script that cannot name it runs as before', async () => {
    for (const code of ["console.log('a'); return 1;", "c\\u006fnsole.log('a'); return 1;", "c\\u{6f}nsole['log']('a'); return 1;", "const { log } = console; log('a'); return 1;"]) {
      const r = await enclave.run(code);
      expect(r.success && r.value, code).toBe(1);
      expect((r.logs ?? []).map((l) => l.message), code).toEqual(['a']);
    }
    const plain = await enclave.run("const xs = await callTool('t', {}); return xs.map((x) => x * 2);", { tools: { t: async () => [1, 2] } });
    expect(plain.success && plain.value).toEqual([2, 4]);
    expect(plain.logs ?? []).toEqual([]);
  });
});
