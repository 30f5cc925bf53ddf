/**
 * `enclave.check()`: what `run()` would refuse, at the instance's level and with its globals, plus the
 * calls of tools a run would not have (warnings whose suggestions name only that run's tools).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, EnclaveConfigError } from '../src/index.js';

describe('enclave.check()', () => {
  const enclave = new Enclave();
  afterAll(() => enclave.dispose());

  it('finds what run() would refuse, at the instance’s level, every problem with its location', () => {
    const report = enclave.check('const a = eval("1");\nreturn a + undeclared;');
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => [i.ruleId, i.severity, i.line, i.column])).toEqual([
      ['no-eval', 'error', 1, 11],
      ['unknown-global', 'error', 2, 12],
    ]);
    const strict = new Enclave({ securityLevel: 'STRICT' });
    try {
      expect(enclave.check('let i = 0; while (i < 2) i++; return i;').ok).toBe(true);
      expect(strict.check('let i = 0; while (i < 2) i++; return i;').issues.map((i) => i.ruleId)).toContain('no-while');
    } finally {
      strict.dispose();
    }
  });

  it('gives the closest names as suggestions: of globals, and of the run’s tools only', () => {
    const tools = { 'orders:list': async () => [], 'orders:get': async () => ({}) };
    const report = enclave.check('const n = 1;\nreturn await callTool("orders:lst", { n });', { tools });
    expect(report.issues).toEqual([
      expect.objectContaining({ ruleId: 'unknown-tool', severity: 'warning', line: 2, column: 23, endColumn: 35, suggestions: ['orders:list', 'orders:get'] }),
    ]);
    const unknownGlobal = enclave.check('return Jsn.stringify(1);');
    expect(unknownGlobal.issues[0]).toMatchObject({ ruleId: 'unknown-global', suggestions: ['JSON'] });
    // A warning alone leaves the script runnable: the call fails at run time, where a script may catch it.
    expect(enclave.check('try { await callTool("nope"); } catch { return 1; }', { tools })).toMatchObject({ ok: true, issues: [{ ruleId: 'unknown-tool', severity: 'warning' }] });
  });

  it('counts the instance’s and the run’s globals as declared, and a tool handler as serving every name', () => {
    const withGlobals = new Enclave({ globals: { region: 'eu' } });
    try {
      expect(withGlobals.check('return region + tenant;', { globals: { tenant: 't1' } })).toEqual({ ok: true, issues: [] });
      expect(enclave.check('return region;').ok).toBe(false);
    } finally {
      withGlobals.dispose();
    }
    expect(enclave.check('return await callTool("anything")', { toolHandler: async () => 1 })).toEqual({ ok: true, issues: [] });
    expect(enclave.check('return await callTool("anything")', { tools: {} }).issues).toEqual([expect.objectContaining({ ruleId: 'unknown-tool', severity: 'warning' })]);
  });

  it('reports a syntax error as run() does, and nothing else', () => {
    const report = enclave.check('return (1 +;');
    expect(report.ok).toBe(false);
    expect(report.issues).toHaveLength(1);
    expect(report.issues[0]).toMatchObject({ severity: 'error', line: 1 });
  });

  it('refuses bad options and a non-string script with an EnclaveConfigError naming them', () => {
    expect(() => enclave.check('return 1', { tool: {} } as never)).toThrow(EnclaveConfigError);
    expect(() => enclave.check('return 1', { tool: {} } as never)).toThrow(/check\(code, options\): unknown option "tool"/);
    expect(() => enclave.check(42 as never)).toThrow(/code must be a string, got number/);
  });

});

describe('the rewritten text’s size', () => {
  // STRICT: 32 KB of code at most, so 384 KB of rewritten text.
  const strict = new Enclave({ securityLevel: 'STRICT' });
  afterAll(() => strict.dispose());
  const lines = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\n');

  it('refuses a script of tiny guarded expressions whose rewrite grows past twelve times the level’s largest script', async () => {
    // 30 KB of `a+b,` grows 22-fold: 650 KB for V8 to pre-parse and compile.
    const code = `const a = 1, b = 2;\n${lines(15, (i) => `const x${i} = [${'a+b,'.repeat(490)}0];`)}\nreturn x0.length;`;
    const report = strict.check(code);
    expect(report.ok).toBe(false);
    expect(report.issues.map((i) => i.ruleId)).toEqual(['rewrite/size']);
    const r = await strict.run(code);
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.message).toContain('rewrite/size');
  });

  it('accepts ordinary code of the largest size the level allows', async () => {
    // Callbacks and string building, each line about 120 bytes: 3.7 times as long rewritten.
    const code = `const items = await callTool('items:list', {});\n${lines(270, (i) => `const v${i} = items.filter((x) => x.active && x.id > ${i} - 1000).map((x) => x.name + ':' + x.id).join(', ');`)}\nreturn v0;`;
    expect(code.length).toBeGreaterThan(28 * 1024);
    const tools = { 'items:list': async () => [{ active: true, name: 'a', id: 1 }, { active: false, name: 'b', id: 2 }] };
    const report = strict.check(code, { tools });
    expect(report.issues).toEqual([]);
    const r = await strict.run(code, { tools });
    expect(r.error).toBeUndefined();
    expect(r.value).toBe('a:1');
  });
});
