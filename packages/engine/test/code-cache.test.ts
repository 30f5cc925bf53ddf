/**
 * The realm runtime's compiled code is kept across processes only where the host keeps Node's module
 * compile cache (NODE_COMPILE_CACHE), is used as it was saved, and a file V8 refuses (another build,
 * another Node, garbage) costs a compile, never a run. Each case is a new process on the built package
 * (dist/ is built once per test run by vitest.global-setup.ts). The last case reads how V8 compiles
 * the runtime in such a process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const bundle = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/bundle/index.js');
const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'enclave-code-cache-'));
  made.push(dir);
  return dir;
}

/** One run in a new process; its value. */
function runOnce(env: Record<string, string>): unknown {
  const script = `const { Enclave } = await import(${JSON.stringify(bundle)}); const r = await new Enclave().run('return [1, 2].map((x) => x * 21)[1]'); console.log(JSON.stringify(r.success ? r.value : r.error));`;
  const { NODE_COMPILE_CACHE: _c, NODE_DISABLE_COMPILE_CACHE: _d, ...inherited } = process.env;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...inherited, ...env } });
  expect(out.stderr).toBe('');
  return JSON.parse(out.stdout) as unknown;
}

/** The realm's cache files under `dir` (Node 22 and later put theirs in a folder per version). */
function realmFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /(^|\/)enclave-kit-realm-[^/]*\.bin$/.test(f))
    .map((f) => path.join(dir, f));
}

it('saves the compiled runtime where NODE_COMPILE_CACHE points, and the next process uses it as saved', () => {
  const dir = tempDir();
  expect(runOnce({ NODE_COMPILE_CACHE: dir })).toBe(42);
  const [file, ...more] = realmFiles(dir);
  expect(more).toEqual([]);
  const saved = statSync(file as string);
  expect(saved.size).toBeGreaterThan(1000);

  // Accepted: not written again (a rewrite renames a new file over it).
  expect(runOnce({ NODE_COMPILE_CACHE: dir })).toBe(42);
  const after = statSync(file as string);
  expect([after.ino, after.mtimeMs]).toEqual([saved.ino, saved.mtimeMs]);
});

it('compiles as usual and saves anew when V8 refuses the saved file', () => {
  const dir = tempDir();
  runOnce({ NODE_COMPILE_CACHE: dir });
  const [file] = realmFiles(dir);
  const garbage = Buffer.alloc(statSync(file as string).size, 0x5a);
  writeFileSync(file as string, garbage);
  const before = statSync(file as string);

  expect(runOnce({ NODE_COMPILE_CACHE: dir })).toBe(42);
  const after = statSync(file as string);
  expect(after.ino).not.toBe(before.ino);
  expect(runOnce({ NODE_COMPILE_CACHE: dir })).toBe(42);
});

it('writes nothing when the compile cache is off', () => {
  const dir = tempDir();
  expect(runOnce({ NODE_COMPILE_CACHE: dir, NODE_DISABLE_COMPILE_CACHE: '1' })).toBe(42);
  expect(realmFiles(dir)).toEqual([]);
});

/** V8's function events for the realm runtime in a new process that imports the engine and runs once. */
function runtimeFunctionEvents(): { event: string; start: number; end: number; name: string }[] {
  const dir = tempDir();
  const log = path.join(dir, 'v8.log');
  const script = `const { Enclave } = await import(${JSON.stringify(bundle)}); const r = await new Enclave().run('return 1 + 1'); console.log(JSON.stringify(r.success && r.value));`;
  const { NODE_COMPILE_CACHE: _c, NODE_DISABLE_COMPILE_CACHE: _d, ...inherited } = process.env;
  const out = spawnSync(process.execPath, ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', '--input-type=module', '-e', script], { encoding: 'utf8', env: inherited });
  expect(out.stdout.trim()).toBe('2');
  const lines = readFileSync(log, 'utf8').split('\n');
  // script-details,<id>,<name>,... ; function,<event>,<script id>,<start>,<end>,<ms>,<timestamp>,<function name>
  const id = lines.map((l) => l.split(',')).find((f) => f[0] === 'script-details' && f[2] === 'enclave:runtime')?.[1];
  expect(id).toBeDefined();
  return lines
    .map((l) => l.split(','))
    .filter((f) => f[0] === 'function' && f[2] === id)
    .map((f) => ({ event: f[1] as string, start: Number(f[3]), end: Number(f[4]), name: f.slice(7).join(',') }));
}

it('compiles the realm runtime lazily, the wrapper around it with the script and never again', () => {
  // Compiled whole, a cold start paid for functions its first run never calls (7 M instructions on Node
  // 20, 23 M on Node 24); compiled lazily with an arrow as the wrapper, V8 parsed the wrapper, the whole
  // runtime, a second time at the first install. See runtime() in sandbox/realm.ts.
  const events = runtimeFunctionEvents();
  const compiled = (name: string) => events.some((e) => e.event === 'interpreter' && e.name === name);
  expect(compiled('install')).toBe(true);
  // No tool call in the run: the error a failed tool call makes is never compiled.
  expect(compiled('makeToolError')).toBe(false);
  const wholeParses = events.filter((e) => e.event === 'parse-function' && e.end - e.start > 64 * 1024);
  expect(wholeParses).toEqual([]);
});

it("a process's first run that exhausts the stack calls into the runtime's uncompiled functions at that depth and still ends cleanly", () => {
  // Compiled lazily, the runtime's functions a run reaches first at the bottom of a full stack are
  // compiled there: that may fail as a RangeError in the script (as calling them may), never worse.
  const code = `let depth = 0;
function down(n) {
  try { depth = n; return down(n + 1); }
  catch (err) {
    try { console.log('at', n); } catch {}
    try { callTool('t', {}).catch(() => {}); } catch {}
    return [1, 2].map((x) => x + n).length + ':' + err.name;
  }
}
return { r: down(0), deep: depth > 1000 };`;
  for (const adapter of ['vm', 'worker_threads']) {
    const script = `const { Enclave } = await import(${JSON.stringify(bundle)});
const e = new Enclave({ adapter: ${JSON.stringify(adapter)}, securityLevel: 'PERMISSIVE', transform: false });
const first = await e.run(${JSON.stringify(code)}, { tools: { t: async () => 1 } });
const second = await e.run('return [1, 2, 3].map((x) => x * 2)');
console.log(JSON.stringify([first.success ? first.value : first.error, second.success ? second.value : second.error]));
e.dispose();`;
    const { NODE_COMPILE_CACHE: _c, NODE_DISABLE_COMPILE_CACHE: _d, ...inherited } = process.env;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: inherited });
    expect(out.stderr, adapter).toBe('');
    expect(JSON.parse(out.stdout), adapter).toEqual([{ r: '2:RangeError', deep: true }, [2, 4, 6]]);
  }
});
