import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

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

export default defineConfig({
  resolve: { alias, conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'test/**/*.test.ts'],
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
    // the suite about 1.6 times sooner there, on a machine loaded by other work too.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
