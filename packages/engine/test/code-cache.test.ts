/**
 * The realm runtime's compiled code is kept across processes only where the host keeps Node's module
 * compile cache (NODE_COMPILE_CACHE), is used as it was saved, and a file V8 refuses (another build,
 * another Node, garbage) costs a compile, never a run. Each case is a new process on the built package
 * (dist/ is built once per test run by vitest.global-setup.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
