import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enclave } from '../enclave.js';
import { LineIndex } from '../source.js';
import type { CliIO } from './app.js';
import { main } from './app.js';
import { checkSource } from './check.js';
import { charWidth, codeFrame, formatIssue } from './frame.js';
import { stringifySafe, toJSONSafe } from './json-safe.js';
import { loadMcpModule, mcpSearchPaths } from './mcp.js';
import { formatLog, formatRunResult, loadTools } from './run.js';
import { createStyle, escapeJSONText, escapeText, shouldColor } from './terminal.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const BIN = join(ROOT, 'packages/engine/dist/bundle/cli.js');
const DEMO = join(ROOT, 'examples/demo');
const PKG_VERSION = (JSON.parse(readFileSync(join(ROOT, 'packages/engine/package.json'), 'utf8')) as { version: string }).version;
const plain = createStyle(false);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'enclave-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs `main()` in-process with string-collecting streams. */
async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
    cwd: dir,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

describe('checkSource', () => {
  it('returns nothing for a clean script', () => {
    expect(checkSource('const users = await callTool("users:list", {});\nreturn users.length;', 'STANDARD')).toEqual([]);
  });

  it('locates AST problems in the user source', () => {
    const issues = checkSource('const a = 1;\nconst b = eval("a");\nreturn b;', 'STANDARD');
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ ruleId: 'no-eval', line: 2, column: 11 });
    expect(issues[0]?.hint).toBeTruthy();
  });

  it('reports syntax errors and stops there', () => {
    const issues = checkSource('const x = ;\neval("1");', 'STANDARD');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.ruleId === 'syntax')).toBe(true);
    expect(issues[0]?.line).toBe(1);
  });

  it('reports pre-scan problems first and stops there', () => {
    const issues = checkSource('const s = "\u202E";\neval("1");', 'STANDARD');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.ruleId.startsWith('prescan/'))).toBe(true);
    expect(issues[0]).toMatchObject({ line: 1 });
  });

  it('applies the dialect of the level', () => {
    const code = 'let i = 0;\nwhile (i < 3) { i++; }\nreturn i;';
    expect(checkSource(code, 'STANDARD')).toEqual([]);
    expect(checkSource(code, 'STRICT').map((i) => i.ruleId)).toContain('no-while');
  });

  it('accepts host globals named with extraGlobals', () => {
    const code = 'return tenant.id;';
    expect(checkSource(code, 'STANDARD').map((i) => i.ruleId)).toContain('unknown-global');
    expect(checkSource(code, 'STANDARD', ['tenant'])).toEqual([]);
  });

  it('provides callTool and input at every level', () => {
    expect(checkSource('const r = await callTool("x", input);\nreturn r;', 'STRICT')).toEqual([]);
  });
});

describe('codeFrame', () => {
  it('shows the previous line and a caret under the column', () => {
    const frame = codeFrame('const a = 1;\nconst b = eval("a");', { line: 2, column: 11 });
    expect(frame).toBe(['  1 | const a = 1;', '> 2 | const b = eval("a");', '    |           ^'].join('\n'));
  });

  it('underlines the span up to endColumn on the same line', () => {
    const frame = codeFrame('return eval("1");', { line: 1, column: 8, endLine: 1, endColumn: 12 });
    expect(frame.split('\n')[1]).toBe('    |        ^^^^');
  });

  it('skips a blank previous line and pads the gutter to the widest number', () => {
    const source = `${'x;\n'.repeat(8)}\nfoo();`;
    expect(codeFrame(source, { line: 10, column: 1 })).toBe(['> 10 | foo();', '     | ^'].join('\n'));
  });

  it('keeps the caret aligned after tabs and wide characters', () => {
    const frame = codeFrame('\tconst s = "日本"; bad();', { line: 1, column: 18 }).split('\n');
    const shown = frame[0] as string;
    const caret = frame[1] as string;
    // Both lines share the gutter, so the caret's column in the caret line is the display column.
    const text = shown.slice('> 1 | '.length);
    const caretCol = caret.indexOf('^') - '    | '.length;
    expect(text).toBe('    const s = "日本"; bad();');
    // 4 (tab) + 11 ('const s = "') + 4 (two wide chars) + 2 ('";') + 1 (space)
    expect(caretCol).toBe(22);
    expect(charWidth(0x65e5, '日')).toBe(2);
  });

  it('shows invisible and BiDi characters as labels and aligns the caret after them', () => {
    const frame = codeFrame('let s = "\u202E"; x();', { line: 1, column: 14 }).split('\n');
    expect(frame[0]).toBe('> 1 | let s = "<U+202E>"; x();');
    expect(frame.join('\n')).not.toContain('\u202E');
    expect((frame[1] as string).indexOf('^')).toBe((frame[0] as string).indexOf('x()'));
  });

  it('never passes terminal escape sequences through', () => {
    const frame = codeFrame('const s = "\u001b[2J"; boom();', { line: 1, column: 18 });
    expect(frame).not.toContain('\u001b');
    expect(frame).toContain('<U+001B>[2J');
  });

  it('cuts long lines to a window around the caret', () => {
    const line = `${'a'.repeat(500)}BAD${'b'.repeat(500)}`;
    const frame = codeFrame(line, { line: 1, column: 501 }, { maxWidth: 60 }).split('\n');
    const shown = frame[0] as string;
    expect(shown.length).toBeLessThan(80);
    expect(shown).toContain('…');
    expect(shown.indexOf('BAD')).toBe((frame[1] as string).indexOf('^'));
  });

  it('does not cut a context line that is longer than the reported one', () => {
    const frame = codeFrame('const users = await callTool("users:list", {});\nx();', { line: 2, column: 1 });
    expect(frame.split('\n')[0]).toBe('  1 | const users = await callTool("users:list", {});');
  });

  it('returns nothing for a line that does not exist and clamps columns past the end', () => {
    expect(codeFrame('x', { line: 5, column: 1 })).toBe('');
    expect(codeFrame('ab', { line: 1, column: 10 }).split('\n')[1]).toBe('    |   ^');
  });

  it('formats an issue with file, position, rule, message, hint and frame', () => {
    const text = formatIssue('agent.js', { ruleId: 'no-eval', message: 'No eval.', hint: 'Write code.', line: 1, column: 8 }, new LineIndex('return eval("1");'));
    expect(text).toBe(['agent.js:1:8 - error [no-eval] No eval.', '> 1 | return eval("1");', '    |        ^', '  hint: Write code.'].join('\n'));
  });

  it('adds colors only when asked', () => {
    const colored = codeFrame('x();', { line: 1, column: 1 }, { style: createStyle(true) });
    expect(colored).toContain('\u001b[');
    expect(shouldColor({ isTTY: true }, {})).toBe(true);
    expect(shouldColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(shouldColor({}, {})).toBe(false);
  });
});

describe('escaping', () => {
  it('escapeText labels controls, keeps tabs, and keeps newlines only when asked', () => {
    expect(escapeText('a\u001b[31mb\tc\nd')).toBe('a<U+001B>[31mb\tc<U+000A>d');
    expect(escapeText('a\r\nb\u200Bc', { keepNewlines: true })).toBe('a\nb<U+200B>c');
    expect(escapeText('café naïve')).toBe('café naïve');
  });

  it('escapeJSONText keeps the JSON meaning', () => {
    const json = JSON.stringify({ s: 'x\u202Ey\u0085z\u{E0041}' }, null, 2);
    const safe = escapeJSONText(json);
    expect(safe).not.toMatch(/[\u202E\u0085]/);
    expect(JSON.parse(safe)).toEqual(JSON.parse(json));
  });
});

describe('toJSONSafe', () => {
  it('renders values JSON cannot carry', () => {
    const value = {
      big: 12345678901234567890n,
      nan: NaN,
      inf: -Infinity,
      negZero: -0,
      date: new Date('2024-05-01T09:05:00.000Z'),
      bad: new Date(NaN),
      set: new Set([1, 'a']),
      map: new Map([['k', 1]]),
      objMap: new Map<unknown, unknown>([[1, 'one'], [{ id: 2 }, 'two']]),
      re: /a+b/gi,
      err: new TypeError('boom'),
      fn: function named() {},
      sym: Symbol('s'),
      gone: undefined,
      arr: [undefined, 1],
    };
    expect(toJSONSafe(value)).toEqual({
      big: '12345678901234567890n',
      nan: 'NaN',
      inf: '-Infinity',
      negZero: 0,
      date: '2024-05-01T09:05:00.000Z',
      bad: 'Invalid Date',
      set: [1, 'a'],
      map: { k: 1 },
      objMap: [
        [1, 'one'],
        [{ id: 2 }, 'two'],
      ],
      re: '/a+b/gi',
      err: { name: 'TypeError', message: 'boom' },
      fn: '[Function named]',
      sym: 'Symbol(s)',
      arr: [null, 1],
    });
    expect(toJSONSafe(undefined)).toBeUndefined();
    expect(stringifySafe(undefined)).toBe('undefined');
  });

  it('marks cycles but expands shared references', () => {
    const shared = { n: 1 };
    const a: Record<string, unknown> = { x: shared, y: shared };
    a.self = a;
    expect(toJSONSafe(a)).toEqual({ x: { n: 1 }, y: { n: 1 }, self: '[Circular]' });
  });

  it('keeps a "__proto__" key as a key', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object;
    const out = toJSONSafe(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true},"a":1}');
  });

  it('bounds exponentially shared structures and deep nesting', () => {
    let v: unknown = [1];
    for (let i = 0; i < 60; i++) v = [v, v];
    const text = JSON.stringify(toJSONSafe(v, { maxNodes: 10_000 }));
    expect(text).toContain('[Truncated]');
    expect(text.length).toBeLessThan(200_000);

    let deep: unknown = 'leaf';
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(JSON.stringify(toJSONSafe(deep, { maxDepth: 100 }))).toContain('[Truncated]');
  });
});

describe('run report', () => {
  const source = new LineIndex('const x = 1;\nthrow new Error("nope");');

  it('prints the value on stdout, logs before it and stats after it', () => {
    const text = formatRunResult(
      {
        success: true,
        value: { n: 1n, when: new Date(0) },
        stats: { duration: 1.5, toolCallCount: 3, iterationCount: 1 },
        logs: [{ level: 'log', message: 'hello\nworld', time: 1 }],
      },
      'a.js',
      source,
      plain,
    );
    expect(text.head).toBe('[log] hello\n      world\n');
    expect(JSON.parse(text.value)).toEqual({ n: '1n', when: '1970-01-01T00:00:00.000Z' });
    expect(text.tail).toBe('duration 1.50 ms · 3 tool calls · 1 iteration\n');
  });

  it('prints the error code, name, message and a frame at the location', () => {
    const text = formatRunResult(
      {
        success: false,
        error: { code: 'RUNTIME_ERROR', name: 'Error', message: 'nope', location: { line: 2, column: 1 } },
        stats: { duration: 1, toolCallCount: 0, iterationCount: 0 },
      },
      'a.js',
      source,
      plain,
    );
    expect(text.value).toBe('');
    expect(text.head).toContain('error RUNTIME_ERROR Error: nope');
    expect(text.head).toContain('--> a.js:2:1');
    expect(text.head).toContain('> 2 | throw new Error("nope");');
  });

  it('shows the failing tool of a TOOL_ERROR', () => {
    const text = formatRunResult(
      {
        success: false,
        error: { code: 'TOOL_ERROR', name: 'ToolError', message: 'Tool "x" failed.', data: { tool: 'x', toolErrorCode: 'TOOL_FAILED' } },
        stats: { duration: 1, toolCallCount: 1, iterationCount: 0 },
      },
      'a.js',
      source,
      plain,
    );
    expect(text.head).toContain('tool: x (TOOL_FAILED)');
  });

  it('escapes what a script logs', () => {
    expect(formatLog({ level: 'warn', message: 'x\u001b]0;pwned\u0007', time: 0 }, plain)).toBe('[warn] x<U+001B>]0;pwned<U+0007>');
  });
});

describe('loadTools', () => {
  it('loads a default export or a named "tools" export', async () => {
    file('default-tools.mjs', 'export default { "a:b": async (args) => args };');
    file('named-tools.mjs', 'export const tools = { c: async () => 1 };');
    expect(Object.keys(await loadTools('default-tools.mjs', dir))).toEqual(['a:b']);
    expect(Object.keys(await loadTools('named-tools.mjs', dir))).toEqual(['c']);
  });

  it('loads defineTool() definitions, in a record or an array', async () => {
    // Brand objects as another copy of the engine's defineTool makes them (the brand is a registered symbol).
    file('defined.mjs', `export default [{ name: 'd', handler: () => 1, [Symbol.for('enclave-kit.tool')]: true }];`);
    file('mixed.mjs', `export default { e: async () => 1, f: { name: 'f', handler: () => 2, [Symbol.for('enclave-kit.tool')]: true } };`);
    expect((await loadTools('defined.mjs', dir)) as unknown[]).toHaveLength(1);
    expect(Object.keys(await loadTools('mixed.mjs', dir))).toEqual(['e', 'f']);
    file('bad-array.mjs', 'export default [async () => 1];');
    await expect(loadTools('bad-array.mjs', dir)).rejects.toThrow(/item 0 must be a defineTool\(\) definition/);
  });

  it('explains what is wrong with a tools module', async () => {
    file('no-export.mjs', 'export const other = 1;');
    file('bad-tool.mjs', 'export default { a: 1 };');
    file('broken.mjs', 'export default {');
    await expect(loadTools('missing.mjs', dir)).rejects.toThrow(/file not found/);
    await expect(loadTools('no-export.mjs', dir)).rejects.toThrow(/no default export/);
    await expect(loadTools('bad-tool.mjs', dir)).rejects.toThrow(/tool "a" must be a function/);
    await expect(loadTools('broken.mjs', dir)).rejects.toThrow(/^cannot load tools module broken\.mjs: /);
  });
});

describe('main (in-process)', () => {
  it('prints help and version', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('enclave check <file...>');
    expect((await cli(['run', '--help'])).stdout).toContain('--input-file');
    // Every command takes -h, before anything else it checks (check and run need a file, mcp takes none).
    expect(await cli(['check', '-h'])).toEqual({ code: 0, stdout: expect.stringContaining('Usage: enclave check'), stderr: '' });
    expect(await cli(['mcp', '-h', 'extra'])).toEqual({ code: 0, stdout: expect.stringContaining('Usage: enclave mcp'), stderr: '' });
    expect(await cli(['run', '-h'])).toEqual({ code: 0, stdout: expect.stringContaining('Usage: enclave run'), stderr: '' });
    expect((await cli(['help', 'mcp'])).stdout).toContain('"args": ["enclave", "mcp", "--tools", "/absolute/path/to/tools.mjs"]');
    const v = await cli(['--version']);
    expect(v).toEqual({ code: 0, stdout: `${PKG_VERSION}\n`, stderr: '' });
  });

  it('treats bad invocations as usage errors (exit 2, one message, no stack)', async () => {
    for (const argv of [[], ['frobnicate'], ['--nope'], ['check'], ['check', 'missing.js'], ['check', 'x.js', '--bogus'], ['check', 'x.js', '--level', 'LAX'], ['run', 'a.js', 'b.js'], ['run', 'x.js', '--timeout', '-5'], ['run', 'x.js', '--input', '{bad'], ['mcp', 'x.js'], ['mcp', '--level', 'LAX'], ['mcp', '--tools', 'missing.mjs']]) {
      file('x.js', 'return 1;');
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    const unknown = await cli(['check', 'x.js', '--bogus']);
    expect(unknown.stderr).toBe('enclave: check: unknown option --bogus\nRun "enclave check --help" for usage.\n');
    const bad = await cli(['run', 'x.js', '--input', '{bad']);
    expect(bad.stderr).toMatch(/^enclave: --input is not valid JSON/);
  });

  it('mcp: --tools is optional, as the usage line, the command’s help and the README say alike', async () => {
    expect((await cli(['--help'])).stdout).toContain('enclave mcp [--tools tools.mjs]');
    expect((await cli(['mcp', '--help'])).stdout).toMatch(/--tools FILE[^]*optional: without it the catalog is empty/);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const usage = readme.split('\n').filter((line) => line.startsWith('npx enclave mcp'));
    expect(usage).toEqual([expect.stringMatching(/^npx enclave mcp \[--tools tools\.mjs\] /)]);
    expect(readme).toContain('`--tools` is optional: without it the catalog is\nempty');
  });

  it('mcp: without @enclave-kit/mcp next to the tools module, says how to install it', async () => {
    expect(mcpSearchPaths('tools/t.mjs', dir).slice(0, 2)).toEqual([join(dir, 'tools'), dir]);
    // Found nowhere (this workspace has the package, so Node's own resolution would find it).
    const nowhere = (from: string) => {
      throw Object.assign(new Error(`Cannot find module from ${from}`), { code: 'MODULE_NOT_FOUND' });
    };
    await expect(loadMcpModule([dir, join(dir, 'tools')], nowhere)).rejects.toThrow(/"enclave mcp" needs the @enclave-kit\/mcp package: run "npm install @enclave-kit\/mcp"/);
  });

  it('checks several files and accepts lower-case levels', async () => {
    file('ok.js', 'return 1;');
    file('bad.js', 'return eval("1");');
    const r = await cli(['check', 'ok.js', 'bad.js', '--level', 'secure']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ok.js: OK (level SECURE)');
    expect(r.stdout).toContain('bad.js:1:8 - error [no-eval]');
    expect(r.stdout).toContain('bad.js: 1 problem (level SECURE)');
  });

  it('prints check results as JSON with --json', async () => {
    file('bad.js', 'return eval("1");');
    const r = await cli(['check', 'bad.js', '--json']);
    expect(r.code).toBe(1);
    const reports = JSON.parse(r.stdout) as { file: string; ok: boolean; issues: { ruleId: string }[] }[];
    expect(reports[0]).toMatchObject({ file: 'bad.js', level: 'STANDARD', ok: false });
    expect(reports[0]?.issues[0]?.ruleId).toBe('no-eval');
  });

  it('gives each issue of --json its severity, as enclave.check() and POST {path}/check report it', async () => {
    const code = 'const x = 1;\nreturn eval("1") + undefinedThing;';
    file('bad.js', code);
    const r = await cli(['check', 'bad.js', '--json']);
    const reports = JSON.parse(r.stdout) as { issues: { ruleId: string; severity?: string }[] }[];
    expect(reports[0]?.issues.length).toBeGreaterThan(0);
    expect(reports[0]?.issues.map((i) => i.severity)).toEqual(reports[0]?.issues.map(() => 'error'));
    const enclave = new Enclave();
    try {
      expect(reports[0]?.issues).toEqual(enclave.check(code).issues);
    } finally {
      enclave.dispose();
    }
  });

  it('runs with input and reports a tool failure', async () => {
    file('in.js', 'return { doubled: input.n * 2 };');
    file('in.json', '{"n": 21}');
    const r = await cli(['run', 'in.js', '--input-file', 'in.json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ doubled: 42 });

    file('failing-tools.mjs', 'export default { "db:query": async () => { throw new Error("password=hunter2 at /srv/db.js"); } };');
    file('call.js', 'const rows = await callTool("db:query", {});\nreturn rows;');
    const t = await cli(['run', 'call.js', '--tools', 'failing-tools.mjs']);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('error TOOL_ERROR');
    expect(t.stderr).toContain('tool: db:query');
    expect(t.stderr).not.toContain('hunter2');
  });
});

/** What one CLI process may take before it counts as hung (then spawnSync kills it and the test fails on its status). */
const BIN_MS = 60_000;
/** The most CLI processes one test below starts, one after the other (the stack-overflow test: 3 scripts at 2 levels). */
const MOST_BINS = 6;

// A test here is synchronous: its time is the sum of its processes' (each a Node start and a bundle
// load), which a loaded machine multiplies; 6 of them took over 20 s at 2 s each. A hang is caught per
// process by BIN_MS, so the test's own limit is only the sum of those, never a deadline of its own.
describe('enclave CLI (built bin)', { timeout: MOST_BINS * BIN_MS }, () => {
  // dist/ is built once for the whole test run by vitest.global-setup.ts.
  const BIN_ENV = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined };
  function bin(args: string[], input?: string) {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', input, timeout: BIN_MS, env: BIN_ENV });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  /** bin() without blocking this process, for CLI processes that a test starts together. */
  function binAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, timeout: BIN_MS, env: BIN_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
  }

  it('run: scripts that overflow the stack where promises settle print only the CLI’s own report (issue 13)', async () => {
    // The promise chain never overflows: it grows until its memory budget ends it, 3 s of work at
    // STANDARD's 64 MB and 8 s at PERMISSIVE's 256 MB on an idle machine, which a loaded one stretched
    // towards the level's deadline and this process's 60 s. Its run gets a deadline of 5 s: the budget
    // or the deadline ends it, whichever comes first, and either end's report is what is judged here.
    // At PERMISSIVE that was always the deadline, after 5 s of CPU: 2 s ends it the same way.
    const scripts: [string, Record<string, string[]>][] = [
      ['async function f(n) { return f(n + 1); } return await f(0);', {}],
      ['return await Promise.resolve().then(function r() { return r(); });', {}],
      ['function chain(n) { return Promise.resolve(n).then((v) => chain(v + 1)); } return await chain(0);', { STANDARD: ['--timeout', '5000'], PERMISSIVE: ['--timeout', '2000'] }],
    ];
    // The six processes run at once: one after the other, the test took their sum, most of it the
    // PERMISSIVE chain waiting out its deadline; each process is judged alone, as before.
    const runs = scripts.flatMap(([code, byLevel], i) => {
      const path = file(`overflow-${i}.js`, `${code}\n`);
      return ['STANDARD', 'PERMISSIVE'].map((level) => {
        const args = byLevel[level] ?? [];
        return { args, started: binAsync(['run', path, '--level', level, ...args]) };
      });
    });
    for (const { args, started } of runs) {
      const ends = `RUNTIME_ERROR|MEMORY_LIMIT_EXCEEDED|MAX_ITERATIONS${args.length > 0 ? '|TIMEOUT' : ''}`;
      const r = await started;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout).toBe('');
      // The error line and the stats line: no V8 "Exception in PromiseRejectCallback", no rewritten code.
      expect(r.stderr).toMatch(new RegExp(`^error (${ends}) [^\\n]+\\n(.*\\n)*duration [^\\n]+\\n$`));
      expect(r.stderr).not.toMatch(/PromiseRejectCallback|agentscript\.js|__ek|RangeError: Maximum call stack/);
    }
  });

  it('run: a tools module that fails outside the sandbox with text the script chose prints it escaped, on one line', () => {
    // The tool puts its argument into an error thrown from a timer: the script picks what the CLI prints
    // (written with escapes in the script's source, which the pre-scan would otherwise refuse). The tool
    // never settles, so the run cannot end (exit 0) before the timer fires, however loaded the machine.
    file('echo-fail-tools.mjs', 'export default { "db:get": ({ id }) => { setTimeout(() => { throw new Error(`no row ${id}`); }); return new Promise(() => {}); } };');
    const payload = 'x\u001b]0;owned\u0007\u001b[2J\u001b[32mOK\u202e\nforged line';
    file('echo-fail.js', `await callTool("db:get", { id: ${JSON.stringify(payload).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)} });\nreturn 1;\n`);
    const r = bin(['run', 'echo-fail.js', '--tools', 'echo-fail-tools.mjs']);
    expect(r.code).toBe(1);
    // Host-side canary: the bytes the terminal would obey never reach it.
    expect(escapeText(r.stderr, { keepNewlines: true })).toBe(r.stderr);
    expect(r.stderr).toContain('enclave: uncaught error outside the sandbox (tools module?): Error: no row x<U+001B>]0;owned<U+0007><U+001B>[2J<U+001B>[32mOK<U+202E><U+000A>forged line\n');
    expect(r.stderr.split('\n').filter((line) => line.startsWith('forged'))).toEqual([]);
  });

  it('check: a clean file exits 0', () => {
    const path = file('clean.js', 'const users = await callTool("users:list", {});\nreturn users.length;\n');
    const r = bin(['check', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${path}: OK (level STANDARD)\n`);
  });

  it('check: problems exit 1 with code frames', () => {
    file('problems.js', 'const total = 1;\nconst f = eval("total");\nwhile (true) {}\nreturn process.env;\n');
    const r = bin(['check', 'problems.js', '--level', 'STRICT']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('problems.js:2:11 - error [no-eval]');
    expect(r.stdout).toContain('> 2 | const f = eval("total");\n    |           ^^^^');
    expect(r.stdout).toContain('hint: ');
    expect(r.stdout).toContain('[no-while]');
    expect(r.stdout).toContain('problems.js:4:8 - error');
    expect(r.stdout).toMatch(/problems\.js: \d+ problems \(level STRICT\)\n$/);
  });

  it('check: the demo passes at STANDARD and lists what STRICT forbids', () => {
    const agent = join(DEMO, 'agent.js');
    expect(bin(['check', agent])).toMatchObject({ code: 0, stdout: `${agent}: OK (level STANDARD)\n` });
    const strict = bin(['check', agent, '--level', 'STRICT']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('[no-throw]');
    expect(strict.stdout).toMatch(/`console` is not defined/);
  });

  it('check: reads standard input with "-"', () => {
    const r = bin(['check', '-'], 'return 1 +;');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('<stdin>:1:');
    expect(r.stdout).toContain('[syntax]');
  });

  it('run and check with a script piped in but no file: a usage error that says how to read standard input; with "-" it runs', () => {
    for (const command of ['run', 'check']) {
      const r = bin([command], 'return 1 + 1');
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('"-" reads the script from standard input');
    }
    const piped = bin(['run', '-', '--json'], 'return 1 + 1');
    expect(piped.code).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ success: true, value: 2 });
  });

  it('run: the demo succeeds and prints its summary, logs and stats', () => {
    const r = bin(['run', join(DEMO, 'agent.js'), '--tools', join(DEMO, 'tools.mjs')]);
    expect(r.stderr).toContain('[log] 4 of 4 active users have paid orders, 5 in all');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      status: 'paid',
      revenue: '831.50 EUR',
      averageOrder: 16630,
      countries: ['GB', 'US'],
      latestOrder: '2024-05-01T09:05:00.000Z',
      topCustomers: [
        { name: 'Alan Turing', spent: 30000 },
        { name: 'Grace Hopper', spent: 25250 },
        { name: 'Barbara Liskov', spent: 15400 },
      ],
    });
    expect(r.stderr).toMatch(/duration [\d.]+ m?s · 6 tool calls · \d+ iterations\n$/);
  });

  it('run: the demo takes input and --json prints the whole ExecutionResult', () => {
    const r = bin(['run', join(DEMO, 'agent.js'), '--tools', join(DEMO, 'tools.mjs'), '--input', '{"status":"pending"}', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { success: boolean; value: { revenue: string }; stats: { toolCallCount: number }; logs: { message: string }[] };
    expect(result.success).toBe(true);
    expect(result.value.revenue).toBe('21.00 EUR');
    expect(result.stats.toolCallCount).toBe(6);
    expect(result.logs[0]?.message).toContain('1 of 4 active users have pending orders');
    expect(r.stderr).toBe('');
  });

  it('run: a throwing script exits 1 with the error and a code frame', () => {
    file('throws.js', 'const items = [1, 2, 3];\nconst sum = items.reduce((a, b) => a + b, 0);\nthrow new RangeError(`sum too small: ${sum}`);\n');
    const r = bin(['run', 'throws.js']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error RUNTIME_ERROR RangeError: sum too small: 6');
    expect(r.stderr).toContain('--> throws.js:3:');
    expect(r.stderr).toContain('> 3 | throw new RangeError');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('run: a rejected script shows every problem and nothing runs', () => {
    file('rejected.js', 'const x = eval("1");\nreturn x;\n');
    const r = bin(['run', 'rejected.js']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error VALIDATION_ERROR');
    expect(r.stderr).toContain('rejected.js:1:11 - error [no-eval]');
  });

  it('run: a script over its deadline ends as TIMEOUT', () => {
    file('spin.js', 'let n = 0;\nfor (let i = 0; i < 1e12; i++) { n++; }\nreturn n;\n');
    const r = bin(['run', 'spin.js', '--timeout', '200', '--level', 'PERMISSIVE']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error (TIMEOUT|MAX_ITERATIONS)/);
  });

  it('usage errors exit 2 without a stack trace', () => {
    for (const args of [['check', 'nope.js'], ['run'], ['check', 'clean.js', '--frobnicate'], ['run', 'clean.js', '--tools', 'missing-tools.mjs']]) {
      file('clean.js', 'return 1;');
      const r = bin(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^enclave: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--version and --help', () => {
    expect(bin(['--version'])).toMatchObject({ code: 0, stdout: `${PKG_VERSION}\n` });
    expect(bin(['--help']).stdout).toContain('Usage:');
  });
});
