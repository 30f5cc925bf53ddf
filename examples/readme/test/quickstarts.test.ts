/**
 * The README's web-server quick starts, tried as a new user would: each framework's code block is copied
 * out of README.md (found by its heading), compiled with tsc as `tsc --init` sets a project up, started
 * with node on a free port (the one edit: `3000` becomes `process.env.PORT` in the output), and probed
 * over real sockets. The Next.js blocks are examples/next's quick-start route and its config, whose smoke
 * test builds that app and probes the route the same way.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks as markdownBlocks } from '../../shared/markdown.js';
import { freePort, probeQuickStart, startNode } from '../../shared/probe.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
// Inside the workspace (and gitignored), so the snippets' imports resolve to this package's dependencies.
const work = path.resolve(here, '../.quickstarts');
const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The servers: [heading, index of the block under it]. */
const QUICK_STARTS = { express: ['### Express 5', 0], hono: ['### Hono 4', 0], nest: ['### NestJS 12', 0], node: ['### Any Fetch server', 1] } as const;
/** The engine's own examples: scripts that run to an end and print what the README says they print. */
const ENGINE_EXAMPLES = {
  top: ['# enclave-kit', 0],
  run: ['## Quick start', 0],
  check: ['## Quick start', 1],
  fetch: ['### Any Fetch server', 0],
} as const;

/** The fenced code blocks of the README section whose heading starts with `heading`. */
const codeBlocks = (heading: string) => markdownBlocks(readme, heading);

/** A block that starts with a `// path` comment naming its file, without that line. */
function fileBlock(block: { code: string } | undefined, file: string): string {
  const [first, ...rest] = (block?.code ?? '').split('\n');
  expect(first).toBe(`// ${file}`);
  return rest.join('\n');
}

let compiled: { status: number | null; output: string } = { status: null, output: 'not compiled' };

const tscRun = (...args: string[]) => spawnSync(process.execPath, [tsc, ...args], { cwd: work, encoding: 'utf8' });

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  for (const [name, [heading, index]] of Object.entries(QUICK_STARTS)) {
    const block = codeBlocks(heading)[index];
    if (block?.lang !== 'ts') throw new Error(`block ${index} under "${heading}" is not TypeScript`);
    mkdirSync(path.join(work, name), { recursive: true });
    writeFileSync(path.join(work, name, 'server.ts'), block.code);
  }
  for (const [name, [heading, index]] of Object.entries(ENGINE_EXAMPLES)) {
    const block = codeBlocks(heading)[index];
    if (block?.lang !== 'ts') throw new Error(`block ${index} under "${heading}" is not TypeScript`);
    mkdirSync(path.join(work, 'engine'), { recursive: true });
    writeFileSync(path.join(work, 'engine', `${name}.ts`), block.code);
  }
  writeFileSync(path.join(work, 'package.json'), '{ "type": "module", "private": true }\n');
  // A new project's tsconfig (strict and more), plus the decorator options every Nest project has.
  tscRun('--init');
  const result = tscRun('-p', '.', '--experimentalDecorators', '--emitDecoratorMetadata', '--rootDir', '.', '--outDir', 'dist');
  compiled = { status: result.status, output: `${result.stdout}${result.stderr}` };
  // The one edit to what the user wrote: the port, so that test runs do not need port 3000 free.
  for (const name of Object.keys(QUICK_STARTS)) {
    const file = path.join(work, 'dist', name, 'server.js');
    const js = readFileSync(file, 'utf8');
    if (js.match(/\b3000\b/g)?.length !== 1) throw new Error(`${name}: the quick start should name port 3000 once`);
    writeFileSync(file, js.replace(/\b3000\b/, 'Number(process.env.PORT)'));
  }
});

describe('README quick starts', () => {
  it('Express, Hono, NestJS, node:http and the engine examples compile as they are (tsc --init settings)', () => {
    expect(compiled.output).toBe('');
    expect(compiled.status).toBe(0);
  });

  it('the Next.js blocks are examples/next’s quick-start route.ts and next.config.mjs', () => {
    const [route, config] = codeBlocks('### Next.js 16');
    expect([route?.lang, config?.lang]).toEqual(['ts', 'js']);
    const example = (file: string) => readFileSync(path.join(root, 'examples/next', file), 'utf8');
    // Built beside the example's own /enclave route (the shared tools of every example), at /quickstart/enclave.
    expect(fileBlock(route, 'app/enclave/[[...route]]/route.ts')).toBe(example('app/quickstart/enclave/[[...route]]/route.ts'));
    expect(fileBlock(config, 'next.config.mjs')).toBe(example('next.config.mjs'));
  });
});

describe('README engine examples, run with node', () => {
  const run = (name: keyof typeof ENGINE_EXAMPLES) => {
    const r = spawnSync(process.execPath, [path.join('dist', 'engine', `${name}.js`)], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  it('the first example prints the two active users and the log line', () => {
    const result = JSON.parse(run('top')) as { success: boolean; value: unknown; logs: { message: string }[] };
    expect(result.success).toBe(true);
    expect(result.value).toEqual({ active: 2, names: ['Ada', 'Grace'] });
    expect(result.logs.map((l) => l.message)).toEqual(['active users: 2']);
  });

  it('the quick start ends with the tool error of another user\'s order, at the line that called it', () => {
    expect(run('run')).toBe("TOOL_ERROR No order 3 { line: 3, column: 21 }\n");
  });

  it('the Fetch handler answers a Request with the run\'s result', () => {
    expect(run('fetch')).toMatch(/^200 \{\n? *success: true,\n? *value: 200,/);
  });

  it('the check example reports the constructor chain with a hint', () => {
    const lines = run('check').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\d+:\d+ \[[\w-]+\] .+ Hint: .+/);
    expect(lines.some((l) => l.startsWith('2:'))).toBe(true);
  });
});

for (const name of Object.keys(QUICK_STARTS)) {
  probeQuickStart(
    `README quick start: ${name}`,
    // tsc emits despite type errors: the others still run, and a missing name shows as this server's crash.
    async () => startNode([path.join('dist', name, 'server.js')], { cwd: work, port: await freePort() }),
    // Nest's body parser reads JSON before the route and answers malformed and big bodies itself (README, NestJS).
    { parserAnswersFirst: name === 'nest' },
  );
}
