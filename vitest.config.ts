import type { Dirent } from 'node:fs';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { forksOn, nodeBinDir } from './test/node-pool.js';

// Tests import the workspace packages by name and get their TypeScript sources, so no build is needed
// before `vitest run`. The map is the `paths` of tsconfig.base.json, which typecheck uses too: one list
// of entries, kept out of the packages' `exports` (those name only files the tarballs ship). Plain
// `node` (examples, CLI, child processes) uses dist/.
const root = path.dirname(fileURLToPath(import.meta.url));
const { paths } = (JSON.parse(readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8')) as { compilerOptions: { paths: Record<string, string[]> } })
  .compilerOptions;
const alias = Object.entries(paths).map(([name, [target]]) => ({
  // Whole specifiers only: `@enclave-kit/engine` must not also rewrite `@enclave-kit/engine/http`.
  find: new RegExp(`^${name.replaceAll('/', '\\/')}$`),
  replacement: path.join(root, target ?? ''),
}));
// Dependencies resolve as Node itself resolves them (no bundler "module" builds, which Node's own
// loader may refuse: @opentelemetry/api's uses extensionless imports).
const conditions = ['node', 'development|production'];

/**
 * Test files of the engine that get a worker process of their own, as every file of the other
 * packages, the adapters, the examples and the tarball tests does: they change what the whole process sees
 * (environment variables, process listeners, V8 flags, a global tracer provider, host prototypes as
 * canaries, the host's `Error.prepareStackTrace`) or count what the engine's module state holds
 * (registered factories, compiled scripts), which other files' runs change. The engine's other files
 * share worker processes (see `projects`): their tests build their own Enclaves, pools and servers and
 * leave nothing behind in the process (test/shared-process.ts checks what it can of that).
 */
const OWN_PROCESS = new Set([
  'packages/engine/src/sandbox/compile.test.ts',
  'packages/engine/src/sandbox/deadline.test.ts',
  'packages/engine/src/sandbox/realm-code.test.ts',
  // Reads the host's global names, which dependencies other files load add to (zod's config).
  'packages/engine/src/validate/validate.test.ts',
  'packages/engine/src/tools/audit.test.ts',
  'packages/engine/test/attack-harness.test.ts',
  // Mocks the parser's module to count its calls.
  'packages/engine/test/check-size.test.ts',
  'packages/engine/src/tools/define.test.ts',
  'packages/engine/test/attacks/inv2-host-functions.test.ts',
  'packages/engine/test/attacks/inv3-locked-realm.test.ts',
  'packages/engine/test/attacks/inv6-no-leaks.test.ts',
  'packages/engine/test/attacks/inv7-independence.test.ts',
  'packages/engine/test/attacks/inv8-quiet-host.test.ts',
  'packages/engine/test/attacks/inv8-realm-promises.test.ts',
  'packages/engine/test/attacks/published-escapes.test.ts',
  'packages/engine/test/attacks/runtime-alone.test.ts',
  'packages/engine/test/attacks/vm2-categories.test.ts',
  'packages/engine/test/durable.test.ts',
  'packages/engine/test/factory-registrations.test.ts',
  'packages/engine/test/http/finished-sessions.test.ts',
  'packages/engine/test/http/playground.test.ts',
  'packages/engine/test/runtime.test.ts',
  'packages/engine/test/tracing.test.ts',
  'packages/engine/test/attacks/inv1-async-context.test.ts',
  // These register the test tracer (test/otel.ts), whose context manager keeps an AsyncLocalStorage in
  // use: vm runs of every later file in the process would go to worker threads (sandbox/async-context.ts).
  'packages/engine/test/http/core.test.ts',
  'packages/engine/test/http/node-linger.test.ts',
  'packages/engine/test/http/session-events.test.ts',
  'packages/engine/test/http/streaming-conformance.test.ts',
]);
const SHARING_PACKAGES = /^packages\/engine\//;

/** Every test file under `dir` (relative to the root), skipping node_modules and dist. */
function testFiles(dir: string): string[] {
  const found: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist') found.push(...testFiles(rel));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(rel);
  }
  return found;
}
const subdirs = (dir: string): string[] => readdirSync(path.join(root, dir), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${dir}/${d.name}`);
const files = [...subdirs('packages').flatMap((p) => [...testFiles(`${p}/src`), ...testFiles(`${p}/test`)]), ...subdirs('examples').flatMap((e) => testFiles(`${e}/test`)), ...testFiles('test')];
/**
 * With ENCLAVE_TEST_NODES=22,24, the engine's and the four adapters' files run a second and third time,
 * in test processes of those Node versions (binaries that scripts/test-matrix.mjs installs into its
 * cache), in this one Vitest run. An opt-in: measured on one commit, one queue (1,038 s) did not beat
 * .ci/run's three runs one after the other (1,013 s), which CI keeps.
 */
const hostMajor = process.versions.node.split('.')[0] ?? '';
const MATRIX = /^packages\/(engine|express|hono|nest|next)\//;
const otherNodes = (process.env.ENCLAVE_TEST_NODES ?? '')
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean)
  .map((major) => ({ major, bin: nodeBinDir(major) }));

// scripts/test-matrix.mjs sets ENCLAVE_TEST_REPEAT=1: its runs repeat the suite on other Node versions,
// so the checks that give the same answer on any Node skip there (packages/engine/test/repeat-run.ts).
const repeatRun = process.env.ENCLAVE_TEST_REPEAT === '1';

// ENCLAVE_TEST_CPU_LOG=<file>: each test file appends its wall time and CPU there (test/cpu-log.ts).
const cpuLog = process.env.ENCLAVE_TEST_CPU_LOG ? ['./test/cpu-log.ts'] : [];

/**
 * ENCLAVE_TEST_PART=matrix: only the files the Node 22 and 24 runs repeat (MATRIX: the engine's and the
 * adapters'); ENCLAVE_TEST_PART=others: only the rest (the other packages, the examples, the tarballs).
 * .ci/run runs the two parts of its first run at once: the others mostly wait (servers, browsers, Redis's
 * timeouts, npm) while the engine's files mostly compute. Unset: every file.
 */
const part = process.env.ENCLAVE_TEST_PART ?? '';
if (!['', 'matrix', 'others'].includes(part)) throw new Error(`ENCLAVE_TEST_PART is "${part}": it may be "matrix", "others" or unset`);
const partFiles = part === '' ? files : files.filter((f) => MATRIX.test(f) === (part === 'matrix'));

const shared = partFiles.filter((f) => SHARING_PACKAGES.test(f) && !OWN_PROCESS.has(f));
const ownProcess = partFiles.filter((f) => !shared.includes(f));

export default defineConfig({
  // The part run beside the other keeps its own results cache (the files' durations, by which Vitest
  // orders them): each run writes back the whole cache it read, and the Node 22 and 24 runs order
  // theirs by what the engine's part wrote.
  ...(part === 'others' ? { cacheDir: 'node_modules/.vite-others' } : {}),
  resolve: { alias, conditions },
  ssr: { resolve: { conditions } },
  test: {
    // Vitest starts a new worker process for every test file by default: about a second of CPU each
    // (Node's start, Vitest's runner, the engine's modules through Vite), paid for each of the engine's
    // hundred files on every Node version CI runs. The shared project's files run one after another in
    // the same workers: the engine's unit and HTTP files took 39 s of CPU instead of 71 (34 files), its
    // attack files 336 s instead of 392 and 179 s of wall time instead of 243, back to back.
    projects: [
      { extends: true, test: { name: 'shared', include: shared, isolate: false, setupFiles: ['./packages/engine/test/shared-process.ts', ...cpuLog], provide: { nodeMajor: hostMajor, repeatRun } } },
      { extends: true, test: { name: 'own-process', include: ownProcess, isolate: true, setupFiles: cpuLog, provide: { nodeMajor: hostMajor, repeatRun } } },
      ...otherNodes.flatMap(({ major, bin }) => {
        const pool = forksOn(major, bin);
        return [
          { extends: true as const, test: { name: `shared@${major}`, include: shared, isolate: false, pool, setupFiles: ['./packages/engine/test/shared-process.ts', ...cpuLog], provide: { nodeMajor: major, repeatRun: true } } },
          { extends: true as const, test: { name: `own-process@${major}`, include: ownProcess.filter((f) => MATRIX.test(f)), isolate: true, pool, setupFiles: cpuLog, provide: { nodeMajor: major, repeatRun: true } } },
        ];
      }),
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // expect.poll waits for an event (a tool entered, a stream cancelled, a span exported): its
    // default of 1 s was a deadline a loaded machine can miss with correct code (an HTTP run reaching
    // its tool took longer). A poll that never holds still fails, with its own message, before the
    // test's timeout; one that holds returns as soon as it does.
    expect: { poll: { timeout: 15_000 } },
    pool: 'forks',
    // Vitest's default is one worker per core but one, so a 2-core machine ran the files one at a time.
    // Much of the suite waits (deadlines, child processes, servers, npm), so two files at once finished
    // the suite about 1.6 times sooner there, on a machine loaded by other work too. CI runs three for
    // the engine's and the adapters' files, beside two for the others (.ci/run sets VITEST_MAX_WORKERS,
    // which overrides this): they fill more of those waits.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
