/**
 * The packages as a user gets them: packed with `pnpm pack`, installed with npm from the tarballs (the
 * frameworks from the registry) into one scratch project, then compiled and run the ways users set
 * projects up:
 * - ES modules in TypeScript 7 with the settings `tsc --init` writes (module nodenext): every package
 *   README's example, run as written, and fixtures/app.ts, which uses every package: a request through
 *   every adapter, the client and MCP against the engine's handler with its stores on a real Redis, the
 *   React provider and hook rendered on the server;
 * - CommonJS in TypeScript 5 with `module: commonjs`, as the Nest CLI sets projects up: the same app.ts;
 * - plain JavaScript, .cjs (`require`) and .mjs (`import`);
 * - the `enclave` command;
 * - every public entry under each module setting of TypeScript 5 and 7 (type-check only).
 * One redis-server (Debian's, started on a free port) serves every program. Every project shares the one install. npm's cache is in the system's temp dir, so a second run
 * downloads nothing. Nothing comes from anywhere but the registry and the tarballs (checked).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks } from '../../examples/shared/markdown.js';
import { freePort, startNode } from '../../examples/shared/probe.js';
import type { RedisServer } from '../../scripts/redis-server.mjs';
import { requireRedisServer, startRedisServer } from '../../scripts/redis-server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const fixtures = path.join(here, 'fixtures');
const PACKAGES = ['engine', 'express', 'hono', 'nest', 'next', 'mcp', 'redis', 'client', 'react'] as const;
type Package = (typeof PACKAGES)[number];
/** TypeScript 5 for the CommonJS project and the matrix: the last 5.x, from npm, for this check only. */
const TYPESCRIPT_5 = '5.9.3';
/** What the consumer project installs besides our tarballs, at the versions the workspace tests with. */
const FRAMEWORKS = ['express', 'hono', '@hono/node-server', '@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs', 'next', 'react', 'react-dom', 'ioredis'];
const TOOLS = ['@types/express', '@types/node', '@types/react', '@types/react-dom', 'typescript'];
const npmCache = path.join(os.tmpdir(), 'enclave-kit-npm-cache');

interface Manifest {
  name: string;
  version: string;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  typesVersions?: Record<string, Record<string, string[]>>;
  devDependencies?: Record<string, string>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as Manifest;

/** The version the workspace pins for `name` (one place to change a framework version: the package that tests with it). */
function pinned(name: string): string {
  for (const dir of ['.', ...PACKAGES.map((p) => `packages/${p}`)]) {
    const version = manifest(dir).devDependencies?.[name];
    if (version) return version;
  }
  throw new Error(`no devDependency pins ${name} in the workspace`);
}

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  command: string;
}

/** Runs a command to its end (killed after `timeout` ms), collecting its output. */
function run(command: string, args: readonly string[], cwd: string, timeout = 60_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${timeout} ms]`;
      child.kill('SIGKILL');
    }, timeout);
    child.on('error', (error) => (stderr += `\n${String(error)}`));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, command: `${path.basename(command)} ${args.join(' ')} (in ${cwd})` });
    });
  });
}

const tail = (text: string) => (text.length > 4000 ? `...${text.slice(-4000)}` : text);
const report = (r: Ran) => `${r.command} exited with ${r.status}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;

/** Succeeded, and printed nothing on stderr: no error and no warning. */
function expectClean(r: Ran): void {
  expect(r.status, report(r)).toBe(0);
  expect(r.stderr, report(r)).toBe('');
}

const OK_LINES = ['ok engine', 'ok engine/node', 'ok client', 'ok mcp', 'ok redis', 'ok react', 'ok express', 'ok hono', 'ok nest', 'ok next'];

/** The type-check matrix: [name, directory (its package.json sets the module format), options]. */
const COMMON = { strict: true, skipLibCheck: true, types: ['node'], target: 'es2022', noEmit: true };
const SETTINGS: readonly [string, 'matrix/esm' | 'matrix/cjs', Record<string, string>][] = [
  ['ESM nodenext', 'matrix/esm', { module: 'nodenext' }],
  ['ESM node16', 'matrix/esm', { module: 'node16' }],
  ['ESM bundler', 'matrix/esm', { module: 'esnext', moduleResolution: 'bundler' }],
  ['CommonJS commonjs', 'matrix/cjs', { module: 'commonjs' }],
  ['CommonJS nodenext', 'matrix/cjs', { module: 'nodenext' }],
  ['CommonJS node20', 'matrix/cjs', { module: 'node20' }],
  ['CommonJS node16', 'matrix/cjs', { module: 'node16' }],
];
/** node10 exists in TypeScript 5 only (TypeScript 7 removed it: error TS5108). */
const SETTINGS_TS5_ONLY: typeof SETTINGS = [
  ['ESM node10', 'matrix/esm', { module: 'esnext', moduleResolution: 'node10' }],
  ['CommonJS node10', 'matrix/cjs', { module: 'commonjs', moduleResolution: 'node10' }],
];

/** The Nest CLI's kind of tsconfig.json: CommonJS, decorators with metadata, out to dist/. */
const NEST_TSCONFIG = {
  compilerOptions: {
    module: 'commonjs',
    target: 'ES2023',
    declaration: true,
    removeComments: true,
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
    esModuleInterop: true,
    sourceMap: true,
    outDir: './dist',
    incremental: true,
    skipLibCheck: true,
    strict: true,
  },
};

let work = '';
let app = '';
let redis: RedisServer | undefined;
const redisUrlBefore = process.env.REDIS_URL;
let install: Ran | undefined;
let failed = false;
/**
 * TypeScript 5 parses Next's ~900 declaration files per program, so its work (the CommonJS project, then
 * the matrix) starts in the background right after the install, while the other checks run.
 */
let typescript5Compile: Promise<Ran>;
let typescript5Matrix: Promise<Ran>;

const at = (...parts: string[]) => path.join(app, ...parts);
const copy = (names: readonly string[], dir: string) => {
  for (const name of names) copyFileSync(path.join(fixtures, name), path.join(dir, name));
};
const tsc7 = () => at('node_modules/typescript/bin/tsc');
const tsc5 = () => at('node_modules/typescript5/bin/tsc');
const readmeOf = (p: Package) => readFileSync(path.join(root, 'packages', p, 'README.md'), 'utf8');
/** A package README's program: the TypeScript (or TSX) block under `heading` ("## Example" by default). */
const exampleOf = (p: Package, heading = '## Example') => {
  const block = codeBlocks(readmeOf(p), heading).find((b) => b.lang === 'ts' || b.lang === 'tsx');
  if (!block) throw new Error(`packages/${p}/README.md has no TypeScript block under "${heading}"`);
  return block;
};

/** Writes a directory of the scratch project: a package.json with `type`, and files. */
function project(dir: string, type: 'module' | 'commonjs' | undefined, files: Record<string, string> = {}): string {
  mkdirSync(at(dir), { recursive: true });
  if (type) writeFileSync(at(dir, 'package.json'), `${JSON.stringify({ type })}\n`);
  for (const [name, text] of Object.entries(files)) writeFileSync(at(dir, name), text);
  return at(dir);
}

beforeAll(async () => {
  // Every program the check starts (they inherit this process's environment) finds the stores' Redis here.
  requireRedisServer();
  redis = await startRedisServer();
  process.env.REDIS_URL = redis.url;
  work = mkdtempSync(path.join(os.tmpdir(), 'enclave-kit-tarballs-'));
  // pnpm packs: it writes the engine's version where the adapters say workspace:^. The one on PATH, else
  // the one README.md installs the workspace with, through npx (Node and npm are all `npm test` needs).
  const pnpm = (await run('pnpm', ['--version'], root)).status === 0 ? ['pnpm'] : ['npx', '--yes', 'pnpm@12.21.0'];
  const packed = await run(pnpm[0]!, [...pnpm.slice(1), '--filter', './packages/*', 'pack', '--pack-destination', path.join(work, 'tarballs')], root);
  expect(packed.status, report(packed)).toBe(0);

  app = path.join(work, 'app');
  mkdirSync(app);
  const dependencies: Record<string, string> = {};
  for (const p of PACKAGES) dependencies[`@enclave-kit/${p}`] = `file:../tarballs/enclave-kit-${p}-${manifest(`packages/${p}`).version}.tgz`;
  for (const name of FRAMEWORKS) dependencies[name] = pinned(name);
  const devDependencies: Record<string, string> = { typescript5: `npm:typescript@${TYPESCRIPT_5}` };
  for (const name of TOOLS) devDependencies[name] = pinned(name);
  writeFileSync(at('package.json'), `${JSON.stringify({ name: 'consumer', private: true, dependencies, devDependencies }, null, 2)}\n`);
  install = await run('npm', ['install', '--cache', npmCache, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], app, 300_000);
  expect(install.status, report(install)).toBe(0);

  const cjs = project('cjs', 'commonjs', { 'tsconfig.json': JSON.stringify(NEST_TSCONFIG, null, 2) });
  copy(['app.ts', 'probe.cjs', 'probe.d.cts'], cjs);
  for (const dir of ['matrix/esm', 'matrix/cjs'] as const) copy(['entries.ts'], project(dir, dir.endsWith('esm') ? 'module' : 'commonjs'));
  copy(['typecheck-matrix.cjs'], app);
  const matrixConfigs = [...SETTINGS, ...SETTINGS_TS5_ONLY].map(([name, dir, options]) => ({ name, dir: at(dir), options: { ...COMMON, ...options } }));
  typescript5Compile = run(process.execPath, [tsc5(), '-p', '.'], cjs, 180_000);
  // One TypeScript 5 process at a time: two would share the machine's cores with everything else.
  typescript5Matrix = typescript5Compile.then(() => run(process.execPath, ['typecheck-matrix.cjs', JSON.stringify(matrixConfigs)], app, 180_000));
}, 360_000);

afterAll(async () => {
  if (redisUrlBefore === undefined) delete process.env.REDIS_URL;
  else process.env.REDIS_URL = redisUrlBefore;
  await redis?.stop();
  // A failed run keeps its scratch project to look into. Removing ~400 MB of node_modules takes a while
  // on a busy disk: it happens in a process of its own, which the test run does not wait for.
  if (failed) console.log(`tarball check: the scratch project is kept in ${work}`);
  else if (work) spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' }).unref();
});

describe('the packages as npm installs them from their tarballs', () => {
  const check = (name: string, fn: () => Promise<void> | void, timeout = 120_000) =>
    it(
      name,
      async () => {
        try {
          await fn();
        } catch (error) {
          failed = true;
          throw error;
        }
      },
      timeout,
    );

  check('each tarball holds its README, the LICENSE and dist/, every file its package.json names, and nothing else', async () => {
    const license = readFileSync(path.join(root, 'LICENSE'), 'utf8');
    for (const p of PACKAGES) {
      const dir = at('node_modules/@enclave-kit', p);
      const listed = await run('tar', ['-tzf', path.join(work, 'tarballs', `enclave-kit-${p}-${manifest(`packages/${p}`).version}.tgz`)], work);
      const files = listed.stdout.trim().split('\n').map((f) => f.replace(/^package\//, ''));
      expect(files.filter((f) => !f.startsWith('dist/')).sort(), p).toEqual(['LICENSE', 'README.md', 'package.json']);
      expect(files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), `${p} ships TypeScript sources`).toBe(false);
      expect(readFileSync(path.join(dir, 'LICENSE'), 'utf8'), `${p}/LICENSE`).toBe(license);
      // The engine bundles others' code (magic-string, the playground's editor): their notices go with it.
      if (p === 'engine') {
        expect(files).toContain('dist/THIRD-PARTY-NOTICES.md');
        const notices = readFileSync(path.join(dir, 'dist/THIRD-PARTY-NOTICES.md'), 'utf8');
        for (const name of ['magic-string', '@jridgewell/sourcemap-codec', '@codemirror/view']) expect(notices, name).toMatch(new RegExp(`^## ${name} \\d`, 'm'));
      } else expect(files.filter((f) => /notice/i.test(f)), `${p} bundles nothing of others`).toEqual([]);
      const shipped = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Manifest;
      // Every export condition, nested ones included, and the fields older resolvers read: all shipped.
      const named = targets([shipped.main, shipped.types, shipped.bin, shipped.exports, shipped.typesVersions]);
      expect(named.length, p).toBeGreaterThan(3);
      for (const file of named) expect(files, `${p}: package.json names ${file}`).toContain(path.posix.normalize(file));
    }
  });

  check('npm installs them with no warning about our packages, and no engine warning the README does not list', () => {
    const output = `${install?.stdout}${install?.stderr}`;
    expect(output).not.toContain('@enclave-kit');
    // The README lists the frameworks' dependencies that declare a newer Node than ours (see "Install").
    const listed = listedPackages(readFileSync(path.join(root, 'README.md'), 'utf8'), '### Engine warnings');
    for (const m of output.matchAll(/EBADENGINE\s+package: '((?:@[^/']+\/)?[^@']+)@(\d+)[^']*'/g)) {
      expect(listed, `npm warns that ${m[1]}@${m[2]} wants another Node; README.md does not say why that is harmless`).toContain(`${m[1]}@${m[2]}`);
    }
    // Every package of ours in the tree is one of the tarballs, never a registry package of the same name.
    const lock = JSON.parse(readFileSync(at('package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string }> };
    const ours = Object.entries(lock.packages).filter(([where]) => where.includes('node_modules/@enclave-kit/'));
    expect(ours.map(([where]) => where).sort()).toEqual(PACKAGES.map((p) => `node_modules/@enclave-kit/${p}`).sort());
    for (const [where, entry] of ours) expect(entry.resolved, where).toMatch(/^file:/);
  });

  check('ESM, TypeScript 7 with `tsc --init` settings: the package READMEs\' examples and app.ts compile', async () => {
    const files: Record<string, string> = {};
    for (const p of PACKAGES) {
      const { lang, code } = exampleOf(p);
      files[`readme-${p}.${lang}`] = code;
    }
    files['readme-mcp-fetch.ts'] = exampleOf('mcp', '## As a Fetch handler of its own').code;
    const dir = project('esm', 'module', files);
    copy(['app.ts', 'probe.cjs', 'probe.d.cts'], dir);
    expect((await run(process.execPath, [tsc7(), '--init'], dir)).status).toBe(0);
    const compiled = await run(process.execPath, [tsc7(), '-p', '.', '--experimentalDecorators', '--emitDecoratorMetadata'], dir);
    expect(compiled.stdout + compiled.stderr, report(compiled)).toBe('');
    expect(compiled.status).toBe(0);
  });

  check('ESM: app.ts uses every package (every adapter, MCP, the client, Redis stores, React), with nothing on stderr', async () => {
    const ran = await run(process.execPath, ['app.js'], at('esm'));
    expectClean(ran);
    expect(ran.stdout.trim().split('\n')).toEqual(OK_LINES);
  });

  check('the package READMEs\' examples run as written', async () => {
    const dir = at('esm');
    // The servers: started as written on a free port (the one edit: 3000, or 3001), then asked as alice and
    // as nobody; the MCP ones over JSON-RPC; the Redis one with its stores at REDIS_URL.
    const servers: [string, 'express' | 'hono' | 'nest' | 'mcp', string][] = [
      ['express', 'express', ''],
      ['hono', 'hono', ''],
      ['nest', 'nest', ''],
      ['redis', 'express', ''],
      ['mcp', 'mcp', '/mcp'],
      ['mcp-fetch', 'mcp', ''],
    ];
    for (const [name] of servers) {
      const file = path.join(dir, `readme-${name}.js`);
      const js = readFileSync(file, 'utf8');
      expect(js.match(/\b300[01]\b/g), `the README's ${name} example listens on 3000 (or 3001) once`).toHaveLength(1);
      writeFileSync(file, js.replace(/\b300[01]\b/, 'Number(process.env.PORT)'));
    }
    // The Next.js route file: its handlers, called as Next calls them.
    writeFileSync(path.join(dir, 'call-next-route.mjs'), "import { POST } from './readme-next.js';\nimport probe from './probe.cjs';\nawait probe.probeRoute('next', (init) => POST(new Request('http://localhost/enclave', init)));\n");
    // The React example is a component module: rendered on the server, as a framework would first.
    writeFileSync(
      path.join(dir, 'render-react.mjs'),
      "import { createElement } from 'react';\nimport { renderToString } from 'react-dom/server';\nimport { App } from './readme-react.js';\nconsole.log(renderToString(createElement(App)));\n",
    );
    // Every program starts at once, the servers each on a port of its own: one after the other, their
    // Node starts and framework loads were most of this test's time. Each is then judged alone, in turn.
    const started = servers.map(async ([name]) => startNode([path.join(dir, `readme-${name}.js`)], { cwd: dir, port: await freePort() }));
    // A server that fails to start is reported where the loop awaits it.
    for (const s of started) s.catch(() => {});
    const engineRun = run(process.execPath, ['readme-engine.js'], dir);
    const nextRun = run(process.execPath, ['call-next-route.mjs'], dir);
    const reactRun = run(process.execPath, ['render-react.mjs'], dir);
    try {
      const engine = await engineRun;
      expectClean(engine);
      expect(engine.stdout).toBe('120\n');
      for (const [i, [name, probe, below]] of servers.entries()) {
        const server = await started[i]!;
        expectClean(await run(process.execPath, ['probe.cjs', probe, `${server.url}${below}`], dir));
        if (name === 'express') {
          // The client's example, as written, against this server (the one edit: its port).
          const client = path.join(dir, 'readme-client.js');
          writeFileSync(client, readFileSync(client, 'utf8').replace('localhost:3000', new URL(server.url).host));
          const ran = await run(process.execPath, [client], dir);
          expectClean(ran);
          expect(ran.stdout.trim().split('\n')).toEqual(["[ 'alice', 'pro' ]", '1 session_init', '2 log', '3 tool_call', '4 tool_result', '5 final', 'pro']);
        }
        // Nest logs its start-up on stdout; nothing of anyone's belongs on stderr.
        expect(server.stderr(), `the README's ${name} server`).toBe('');
      }
      expectClean(await nextRun);
      const rendered = await reactRun;
      expectClean(rendered);
      expect(rendered.stdout).toContain('idle<!-- -->: <!-- -->0<!-- --> tool calls');
    } finally {
      // Each server is stopped once it has started, whenever that is.
      for (const s of started) void s.then((server) => server.stop(), () => {});
    }
  });

  check('CommonJS, TypeScript 5 with `module: commonjs` (the Nest CLI\'s setup): app.ts compiles and runs', async () => {
    const compiled = await typescript5Compile;
    expect(compiled.stdout + compiled.stderr, report(compiled)).toBe('');
    expect(compiled.status).toBe(0);
    const dir = at('cjs');
    copy(['probe.cjs'], path.join(dir, 'dist'));
    expect(readFileSync(path.join(dir, 'dist/app.js'), 'utf8')).toContain('require("@enclave-kit/nest")');
    const ran = await run(process.execPath, ['dist/app.js'], dir);
    expectClean(ran);
    expect(ran.stdout.trim().split('\n')).toEqual(OK_LINES);
  });

  check('plain JavaScript: .cjs loads every package with require(), .mjs with import; both use every package', async () => {
    const dir = project('js', undefined);
    copy(['plain.cjs', 'plain.mjs', 'servers.cjs', 'probe.cjs'], dir);
    for (const program of ['plain.cjs', 'plain.mjs']) {
      const ran = await run(process.execPath, [program], dir);
      expectClean(ran);
      expect(ran.stdout.trim().split('\n'), program).toEqual(OK_LINES);
    }
  });

  check('the `enclave` command of the installed engine checks and runs a script', async () => {
    const dir = project('cli', undefined, {
      'agent.js': "const p = await callTool('profile:get', {});\nconsole.log('plan', p.plan);\nreturn p.id;\n",
      'tools.mjs': "export default { 'profile:get': async () => ({ id: 'alice', plan: 'pro' }) };\n",
    });
    const bin = at('node_modules/.bin/enclave');
    const strict = await run(bin, ['check', 'agent.js', '--level', 'STRICT'], dir);
    expect(strict.status, report(strict)).toBe(1);
    expect(strict.stdout + strict.stderr).toContain('`console` is not available at this security level');
    const ran = await run(bin, ['run', 'agent.js', '--tools', 'tools.mjs', '--json'], dir);
    expectClean(ran);
    expect(JSON.parse(ran.stdout)).toMatchObject({ success: true, value: 'alice' });
  });

  check('`enclave mcp --tools` of the installed engine loads the installed @enclave-kit/mcp and serves the official stdio client; what the tools module prints goes to stderr', async () => {
    const dir = project('cli-mcp', undefined, {
      // A tools module that prints as it loads and as its tool runs, through console and stdout itself.
      'tools.mjs': "console.log('tools: loaded');\nexport default { 'profile:get': async () => { process.stdout.write('tools: profile read\\n'); return { id: 'alice', plan: 'pro' }; } };\n",
    });
    // The official client (v2) as the workspace's MCP package tests with it; the scratch project has no MCP client.
    const sdk = createRequire(path.join(root, 'packages/mcp/package.json'));
    const load = async <T>(name: string) => (await import(pathToFileURL(sdk.resolve(name)).href)) as T;
    const { Client } = await load<{ Client: new (info: { name: string; version: string }) => McpClient }>('@modelcontextprotocol/client');
    const { StdioClientTransport } = await load<{ StdioClientTransport: new (server: { command: string; args: string[]; cwd: string; stderr: 'pipe' }) => { stderr: NodeJS.ReadableStream | null } }>('@modelcontextprotocol/client/stdio');
    const transport = new StdioClientTransport({ command: at('node_modules/.bin/enclave'), args: ['mcp', '--tools', 'tools.mjs'], cwd: dir, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const client = new Client({ name: 'tarball-check', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['search_tools', 'describe_tools', 'execute']);
      const result = await client.callTool({ name: 'execute', arguments: { code: 'const p = await callTool("profile:get", {}); return [p.id, p.plan];' } });
      expect(result.structuredContent).toMatchObject({ success: true, value: ['alice', 'pro'] });
      await expect.poll(() => stderr).toBe('tools: loaded\ntools: profile read\n');
    } finally {
      await client.close();
    }
  });

  check('TypeScript 5 and 7 find every entry\'s types under each module setting', async () => {
    const matrix = await typescript5Matrix;
    expect(matrix.status, report(matrix)).toBe(0);
    const codes: Record<string, number[]> = {};
    for (const [name, diagnostics] of Object.entries(JSON.parse(matrix.stdout) as Record<string, { code: number }[]>)) codes[`TypeScript 5, ${name}`] = diagnostics.map((d) => d.code);
    // TypeScript 7: one `tsc --build` over a project per setting, each in its own folder (errors name it).
    const slug = (name: string) => name.replace(/\W+/g, '-');
    for (const [name, dir, options] of SETTINGS) {
      copy(['entries.ts'], project(`ts7/${slug(name)}`, dir.endsWith('esm') ? 'module' : 'commonjs', {
        'tsconfig.json': JSON.stringify({ compilerOptions: { ...COMMON, ...options }, files: ['entries.ts'] }),
      }));
    }
    const built = await run(process.execPath, [tsc7(), '--build', ...SETTINGS.map(([name]) => `ts7/${slug(name)}`)], app);
    const errors = [...built.stdout.matchAll(/^(.*?)\(\d+,\d+\): error TS(\d+)/gm)];
    for (const [name] of SETTINGS) codes[`TypeScript 7, ${name}`] = errors.filter((m) => m[1] === `ts7/${slug(name)}/entries.ts`).map((m) => Number(m[2]));
    expect(errors.filter((m) => !m[1]?.startsWith('ts7/')), report(built)).toEqual([]);
    // A CommonJS file under node16 may not import an ES module (TypeScript models Node 16, which cannot
    // require one): README.md says to use nodenext, node20 or commonjs. Everything else must be clean.
    const expected: Record<string, number[]> = {};
    for (const [name, found] of Object.entries(codes)) expected[name] = name.endsWith('CommonJS node16') ? found.filter((c) => c === 1479 || c === 1541) : [];
    expect(codes).toEqual(expected);
    expect(codes['TypeScript 5, CommonJS node16']).toContain(1479);
  });
});

/** What the check uses of the official MCP client. */
interface McpClient {
  connect(transport: unknown): Promise<void>;
  listTools(): Promise<{ tools: { name: string }[] }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<{ structuredContent?: unknown }>;
  close(): Promise<void>;
}

/** The `name@major` tokens in a README section: README.md's list of the engine warnings npm prints. */
function listedPackages(markdown: string, heading: string): Set<string> {
  const start = markdown.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`README.md has no heading "${heading}"`);
  const rest = markdown.slice(start + heading.length + 1);
  const next = rest.search(/\n#{1,3} /);
  const section = next < 0 ? rest : rest.slice(0, next);
  return new Set([...section.matchAll(/`((?:@[\w.-]+\/)?[\w.-]+)@(\d+)`/g)].map((m) => `${m[1]}@${m[2]}`));
}

/** Every file path in a package.json field: a string, or the strings of nested condition objects and arrays. */
function targets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(targets);
  return [];
}
