/**
 * The built package as Node loads it (dist/ is built once per test run by vitest.global-setup.ts): every
 * module, and so every class an `instanceof` checks, exists once among the files the entries load; the
 * worker's entry never loads the parser; and the CLI, whose classes a user's tools module shares through
 * the package name, recognises that module's ToolError and config errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSync } from 'oxc-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repeatRun } from './repeat-run.js';

const engineRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(engineRoot, 'dist');
const pkg = JSON.parse(readFileSync(path.join(engineRoot, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, string | { types: unknown; default: string }>;
};

/** What Node runs for each public entry: the `default` condition of every export, the bin, and the worker entry the pool looks up. */
function entryFiles(): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'string') entries[subpath] = path.join(engineRoot, target.default);
  }
  for (const [name, file] of Object.entries(pkg.bin)) entries[`bin ${name}`] = path.join(engineRoot, file);
  entries.worker = path.join(dist, 'bundle', 'worker-main.js');
  return entries;
}

interface Built {
  /** Specifiers of its static imports, re-exports and literal dynamic imports. */
  imports: string[];
  /** Names of the classes it defines at top level (`class X` or `var X = class`). */
  classes: string[];
}

/** A built file as the parser reads it: bundled text holds the realm's source in strings, so no regex. */
function read(file: string): Built {
  const text = readFileSync(file, 'utf8');
  const { program, module, errors } = parseSync(file, text, { sourceType: 'module', lang: 'js' });
  expect(errors, `${file} does not parse`).toEqual([]);
  const imports = [
    ...module.staticImports.map((i) => i.moduleRequest.value),
    ...module.staticExports.flatMap((e) => e.entries.flatMap((entry) => (entry.moduleRequest ? [entry.moduleRequest.value] : []))),
    // The minifier may write a literal specifier as a template without substitutions.
    ...module.dynamicImports.map((d) => text.slice(d.moduleRequest.start, d.moduleRequest.end)).filter((s) => /^(['"]|`[^$`]*`$)/.test(s)).map((s) => s.slice(1, -1)),
  ];
  const classes: string[] = [];
  for (const statement of program.body as unknown as { type: string; id?: { name?: string }; declaration?: unknown; declarations?: { id?: { name?: string }; init?: { type?: string; id?: { name?: string } | null } }[] }[]) {
    const node = (statement.type === 'ExportNamedDeclaration' ? statement.declaration : statement) as typeof statement | null;
    if (node?.type === 'ClassDeclaration' && node.id?.name) classes.push(node.id.name);
    // The minified bundle keeps a class's name on the class (`var e = class MagicString`), not on the binding.
    for (const d of node?.declarations ?? []) if (d.init?.type === 'ClassExpression' && (d.init.id?.name ?? d.id?.name)) classes.push((d.init.id?.name ?? d.id?.name) as string);
  }
  // A bundler renames a clash to `Name$1`: the same class twice.
  return { imports: [...new Set(imports)], classes: classes.map((c) => c.replace(/\$\d+$/, '')) };
}

/** Every file `entry` loads (itself included) and every package it imports by name. */
function closure(entry: string): { files: Map<string, Built>; packages: Set<string> } {
  const files = new Map<string, Built>();
  const packages = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    const built = read(file);
    files.set(file, built);
    for (const s of built.imports) {
      if (s.startsWith('.')) pending.push(path.resolve(path.dirname(file), s));
      else packages.add(s);
    }
  }
  return { files, packages };
}

/** Specifiers of a built file's static imports and re-exports: what loading it loads at once. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const { module } = parseSync(file, text, { sourceType: 'module', lang: 'js' });
  return [...module.staticImports.map((i) => i.moduleRequest.value), ...module.staticExports.flatMap((e) => e.entries.flatMap((entry) => (entry.moduleRequest ? [entry.moduleRequest.value] : [])))];
}

/** The files that loading `entry` loads (itself included), without what they import dynamically. */
function staticClosure(entry: string): Set<string> {
  const files = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const s of staticImports(file)) if (s.startsWith('.')) pending.push(path.resolve(path.dirname(file), s));
  }
  return files;
}

// The built files as the parser reads them: the same answer on every Node, so once per CI. The built
// CLI below runs on the Node of the run.
describe.skipIf(repeatRun)('the built package', () => {
  const entries = entryFiles();

  it('has the entries package.json names, in their own files', () => {
    for (const [name, file] of Object.entries(entries)) expect(existsSync(file), `${name}: ${file}`).toBe(true);
    expect(new Set(Object.values(entries)).size).toBe(Object.keys(entries).length);
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './http', './node']));
  });

  it('keeps the JavaScript in dist/bundle only: tsc writes the types', () => {
    const js: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (e.name.endsWith('.js')) js.push(path.relative(dist, path.join(dir, e.name)));
      }
    };
    walk(dist);
    expect(js.filter((f) => !f.startsWith(`bundle${path.sep}`))).toEqual([]);
    expect(existsSync(path.join(dist, 'index.d.ts'))).toBe(true);
  });

  it('defines each class once among all the files the entries load (one EnclaveConfigError)', () => {
    const loaded = new Map<string, Built>();
    for (const file of Object.values(entries)) for (const [f, built] of closure(file).files) loaded.set(f, built);
    const definitions = new Map<string, string[]>();
    for (const [file, built] of loaded) {
      for (const name of built.classes) definitions.set(name, [...(definitions.get(name) ?? []), path.basename(file)]);
    }
    expect(definitions.get('EnclaveConfigError')).toHaveLength(1);
    expect(definitions.get('ToolError')).toHaveLength(1);
    expect(definitions.get('Enclave')).toHaveLength(1);
    const twice = [...definitions].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(', ')}`);
    expect(twice).toEqual([]);
  });

  it('loads the playground page only when it is asked for: through a dynamic import, never a static one', () => {
    const bundle = path.join(dist, 'bundle');
    const page = path.join(bundle, 'playground.js');
    expect(readFileSync(page, 'utf8')).toContain('enclave-kit playground');
    const importers = readdirSync(bundle).filter((f) => f.endsWith('.js') && f !== 'playground.js');
    expect(importers.filter((f) => staticImports(path.join(bundle, f)).includes('./playground.js'))).toEqual([]);
    expect(importers.filter((f) => read(path.join(bundle, f)).imports.includes('./playground.js'))).toEqual(['handler-core.js']);
    for (const f of importers) expect(readFileSync(path.join(bundle, f), 'utf8'), f).not.toContain('enclave-kit playground');
  });

  it('ships one-byte text without doc comments: what a cold start parses is the code alone', () => {
    const bundle = path.join(dist, 'bundle');
    for (const f of readdirSync(bundle).filter((name) => name.endsWith('.js'))) {
      const text = readFileSync(path.join(bundle, f), 'utf8');
      // One character past ASCII makes Node decode (and V8 scan) the whole file as two-byte text.
      expect([...text].find((c) => c.charCodeAt(0) > 0x7f), `${f} has a character past ASCII`).toBeUndefined();
      const { comments } = parseSync(f, text, { sourceType: 'module', lang: 'js' });
      expect(comments.filter((c) => c.type === 'Block' && c.value.startsWith('*')).map((c) => c.value.slice(0, 60)), f).toEqual([]);
    }
  });

  it('the main entry loads none of the HTTP core: createEnclaveHandler imports it when it builds a handler', () => {
    const loaded = [...staticClosure(entries['.'] as string)];
    // Messages only the code that serves requests holds: its routes, its sessions, its body reader.
    for (const text of ['No such session.', 'No route at this path.', 'The request body is not valid JSON.']) {
      expect(loaded.filter((f) => readFileSync(f, 'utf8').includes(text)).map((f) => path.basename(f)), text).toEqual([]);
    }
    const bundle = path.join(dist, 'bundle');
    const core = readdirSync(bundle).filter((f) => f.endsWith('.js') && readFileSync(path.join(bundle, f), 'utf8').includes('No such session.'));
    expect(core).toEqual(['handler-core.js']);
    expect(loaded.filter((f) => read(f).imports.includes('./handler-core.js')).map((f) => path.basename(f))).toEqual(['engine.js']);
  });

  it("the main entry imports none of Node's modules that load its streams", () => {
    // node:fs's facade, node:worker_threads and node:stream each load Node's streams (several ms of a cold
    // start): the engine reaches them through process.getBuiltinModule where it needs them.
    const main = closure(entries['.'] as string);
    expect([...main.packages].filter((p) => ['node:fs', 'node:worker_threads', 'node:stream', 'node:net', 'node:http'].includes(p))).toEqual([]);
  });

  it('the worker entry never loads the parser or the rewriter', () => {
    const worker = closure(entries.worker as string);
    expect([...worker.packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
    expect([...worker.files.values()].flatMap((b) => b.classes)).not.toContain('MagicString');
    expect([...worker.files.values()].flatMap((b) => b.classes)).toContain('RealmRun');
    // The checker sees the parser and the rewriter where they are loaded. oxc-parser is not imported: the
    // checker loads its binding and what it reads of its JavaScript when it runs (src/ast/oxc.ts), so that
    // an import does not load, resolve and compile the seven modules of its entry.
    const main = closure(entries['.'] as string);
    expect(main.packages).not.toContain('oxc-parser');
    expect([...main.files.keys()].filter((f) => readFileSync(f, 'utf8').includes("resolve(`oxc-parser`)")).map((f) => path.basename(f))).toEqual(['engine.js']);
    expect([...main.files.values()].flatMap((b) => b.classes)).toContain('MagicString');
  });
});

describe('the built CLI and a tools module that imports the package', () => {
  let dir: string;
  beforeAll(() => {
    // Inside the package, so `@enclave-kit/engine` resolves to this package's built entry by its own name.
    dir = mkdtempSync(path.join(engineRoot, '.bundle-test-'));
    writeFileSync(path.join(dir, 'script.js'), "return await callTool('orders:get', { id: 7 });\n");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const entries = entryFiles();
  /** Runs the built bin on script.js with a tools module of this source. */
  const runWithTools = (file: string, source: string) => {
    writeFileSync(path.join(dir, file), source);
    const args = ['run', 'script.js', '--tools', file];
    const r = spawnSync(process.execPath, [entries['bin enclave'] as string, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    return { code: r.status, stderr: r.stderr };
  };

  it("shows the public message of the module's ToolError (one ToolError class for both)", () => {
    const r = runWithTools(
      'tools.mjs',
      "import { ToolError } from '@enclave-kit/engine';\nexport default { 'orders:get': ({ id }) => { throw new ToolError(`No order ${id}`, { code: 'NOT_FOUND' }); } };\n",
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('error TOOL_ERROR ToolError: No order 7');
    expect(r.stderr).toContain('(NOT_FOUND)');
  });

  it("reports the module's malformed defineTool() as a usage error naming the option", () => {
    const r = runWithTools('bad-tools.mjs', "import { defineTool } from '@enclave-kit/engine';\nexport default [defineTool({ name: 'orders:get', timeout: 0, handler: () => 1 })];\n");
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe('enclave: tools module bad-tools.mjs: defineTool("orders:get"): timeout must be a positive integer (ms), got 0.\nRun "enclave --help" for usage.\n');
  });
});
