/**
 * A script the pre-scan refuses (its size first) is read no further by `enclave.check()` or
 * `scoreAgentScript`, as by `run()`: the parser is never called on it. Before, `check()` parsed a
 * 1 MB script to look for tool calls (seconds of host time) after refusing it for its size. Counted
 * through the parser's one entry point, which every stage calls; its own file, for the module mock.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';

const parsedTexts = vi.hoisted(() => new Set<string>());
vi.mock('../src/ast/parse.js', async (original) => {
  const real = await original<typeof import('../src/ast/parse.js')>();
  return {
    ...real,
    parseAgentScript: (code: string) => {
      parsedTexts.add(code);
      return real.parseAgentScript(code);
    },
  };
});

const { Enclave, LEVEL_CONFIGS, scoreAgentScript } = await import('../src/index.js');

describe('a script over the size limit', () => {
  const enclave = new Enclave();
  afterAll(() => enclave.dispose());
  const max = LEVEL_CONFIGS.STANDARD.scan.maxCodeBytes;
  // Valid code with a tool call on every line: everything a parse would have something to report on.
  const line = 'await callTool("orders:lst", { n: 1 });\n';
  const code = `${line.repeat(Math.ceil((4 * max) / line.length))}return 1;`;
  const tools = { 'orders:list': async () => [] };

  it('is refused by check() with the issue run() refuses it with, and is never parsed', async () => {
    const report = enclave.check(code, { tools });
    const run = await enclave.run(code, { tools });
    expect(run.error?.code).toBe('VALIDATION_ERROR');
    expect(run.error?.data?.ruleId).toBe('prescan/size');
    const issues = (run.error?.data?.issues ?? []) as object[];
    expect(issues).toHaveLength(1);
    expect(report).toEqual({ ok: false, issues: issues.map((i) => ({ ...i, severity: 'error' })) });
    expect(parsedTexts.has(code)).toBe(false);
  });

  it('gets no score from scoreAgentScript at a level whose limit it is over, and is never parsed', () => {
    expect(scoreAgentScript(code)).toBeUndefined();
    expect(parsedTexts.has(code)).toBe(false);
    // A script within the limit is read and scored (the count sees the parser's calls).
    const small = `${line.repeat(100)}return 1;`;
    expect(scoreAgentScript(small)).toBeDefined();
    expect(parsedTexts.has(small)).toBe(true);
  });

  it('is still read when it passed the pre-scan: a validation error comes with the tool-call warnings', () => {
    const small = 'const a = eval("1");\nreturn await callTool("orders:lst", { a });';
    expect(enclave.check(small, { tools }).issues.map((i) => [i.ruleId, i.severity])).toEqual([
      ['no-eval', 'error'],
      ['unknown-tool', 'warning'],
    ]);
    expect(parsedTexts.has(small)).toBe(true);
  });
});
