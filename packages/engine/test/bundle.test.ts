/**
 * The built package as Node loads it (dist/ is built once per test run by vitest.global-setup.ts): every
 * module, and so every class an `instanceof` checks, exists once among the files the entries load; the
 * worker's entry never loads the parser; and the CLI, whose classes a user's tools module shares through
 * the package name, recognises that module's ToolError and config errors.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSync } from 'oxc-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledPackages, readRecords } from '../../../scripts/third-party-notices.mjs';
import { PLAYGROUND_ASSETS } from '../src/http/playground-assets.generated.js';
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

// The copies of others' code the package holds carry their notices (MIT: "the above copyright notice and
// this permission notice shall be included in all copies"). What was bundled is what each build recorded
// from the modules rolldown put in its output (scripts/third-party-notices.mjs).
describe.skipIf(repeatRun)('the third-party notices', () => {
  const records = readRecords();
  const all = Object.values(records).flat();

  it('dist/THIRD-PARTY-NOTICES.md has every bundled package once, sorted, with its licence text', () => {
    expect(Object.keys(records).sort()).toEqual(['engine', 'playground', 'realm-runtime']);
    expect(records.engine?.map((p) => p.name)).toEqual(expect.arrayContaining(['magic-string', '@jridgewell/sourcemap-codec']));
    expect(records.playground?.map((p) => p.name)).toEqual(expect.arrayContaining(['@codemirror/view', '@lezer/lr', 'style-mod', 'w3c-keyname', 'crelt']));
    // Each record comes from node_modules paths rolldown reported, and names the package those paths are in.
    for (const p of all) {
      expect(p.modules.length, p.name).toBeGreaterThan(0);
      for (const m of p.modules) expect(m, p.name).toMatch(new RegExp(`(^|/)node_modules/${p.name.replace(/[/.]/g, '\\$&')}/`));
    }
    const notices = readFileSync(path.join(dist, 'THIRD-PARTY-NOTICES.md'), 'utf8');
    const headings = [...notices.matchAll(/^## (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    const expected = [...new Set(all.map((p) => `${p.name} ${p.version}`))].sort();
    expect(headings).toEqual(expected);
    for (const p of all) {
      const section = notices.slice(notices.indexOf(`## ${p.name} ${p.version}\n`));
      expect(section.split(/^## /m)[1], p.name).toContain(p.text);
      expect(p.text, p.name).toMatch(/copyright/i);
    }
  });

  it('the chunks holding others\' code start with a legal comment that names them and the notices', () => {
    const bundle = path.join(dist, 'bundle');
    const engineChunk = readFileSync(path.join(bundle, 'engine.js'), 'utf8');
    expect(engineChunk).toContain('class MagicString');
    const first = engineChunk.slice(0, engineChunk.indexOf('*/') + 2);
    expect(first).toMatch(/^\/\*! Bundles /);
    for (const p of records.engine ?? []) expect(first).toContain(`${p.name}@${p.version} (${p.license})`);
    expect(first).toContain('../THIRD-PARTY-NOTICES.md');
  });

  it('the served playground script names its packages in a leading legal comment, and their notices are served beside it', () => {
    const entries = Object.entries(PLAYGROUND_ASSETS);
    const [scriptName, script] = entries.find(([name]) => name.endsWith('.js')) ?? [];
    const [noticesName, notices] = entries.find(([name]) => name.startsWith('third-party-notices-')) ?? [];
    expect(scriptName).toBeDefined();
    expect(noticesName).toMatch(/^third-party-notices-[0-9a-f]{12}\.txt$/);
    expect(notices?.type).toBe('text/plain; charset=utf-8');
    const comment = script?.body.slice(0, script.body.indexOf('*/') + 2) ?? '';
    expect(comment).toMatch(/^\/\*! enclave-kit playground/);
    expect(comment).toContain(noticesName);
    for (const p of records.playground ?? []) {
      expect(comment, p.name).toContain(`${p.name}@${p.version} (${p.license})`);
      expect(notices?.body, p.name).toContain(p.text);
    }
    // The package ships the page as built: the notices asset is in its chunk.
    expect(readFileSync(path.join(dist, 'bundle', 'playground.js'), 'utf8')).toContain(noticesName as string);
  });

  it('finds a licence file of any spelling at the package root, and fails the build for a package with none', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'notices-'));
    try {
      const pkgDir = path.join(dir, 'node_modules', 'some-lib');
      mkdirSync(path.join(pkgDir, 'dist'), { recursive: true });
      writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify({ name: 'some-lib', version: '1.2.3', license: 'ISC' }));
      // A nameless package.json below the root (`"type"` only) is not the package's.
      writeFileSync(path.join(pkgDir, 'dist', 'package.json'), JSON.stringify({ type: 'module' }));
      writeFileSync(path.join(pkgDir, 'dist', 'index.js'), 'export {};\n');
      const file = path.join(pkgDir, 'dist', 'index.js');
      expect(() => bundledPackages([file])).toThrow(/some-lib@1\.2\.3 .*ships no licence file.*"ISC"/);
      writeFileSync(path.join(pkgDir, 'Licence.md'), 'Copyright (c) someone\n');
      expect(bundledPackages([file, '\0rolldown/runtime.js', path.join(engineRoot, 'src/index.ts')])).toEqual([
        { name: 'some-lib', version: '1.2.3', license: 'ISC', licenseFiles: ['Licence.md'], text: 'Copyright (c) someone', modules: [path.relative(path.resolve(engineRoot, '../..'), file).split(path.sep).join('/')] },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
