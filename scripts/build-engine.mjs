// Builds packages/engine/dist, then the adapters' dist, with the workspace's tsc, without needing pnpm on PATH.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RECORDS, writeNotices } from './third-party-notices.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const engine = path.join(root, 'packages/engine');
// typescript's package exports do not expose bin/, so resolve the file in the workspace's node_modules.
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
// Each bundling below records the packages of others it bundles (scripts/third-party-notices.mjs): from scratch.
rmSync(RECORDS, { recursive: true, force: true });
// The realm runtime first: its bundled source is a module of the engine (src/sandbox/realm-runtime.generated.ts).
execFileSync(process.execPath, [path.join(root, 'scripts/build-realm-runtime.mjs')], { stdio: 'inherit' });
// The playground page, built into a module of the engine too (src/http/playground-assets.generated.js).
execFileSync(process.execPath, [path.join(root, 'scripts/build-playground.mjs')], { stdio: 'inherit' });
rmSync(path.join(engine, 'dist'), { recursive: true, force: true });
// tsc writes the types; rolldown writes the JavaScript, once (see packages/engine/rolldown.config.mjs).
execFileSync(process.execPath, [tsc, '-p', path.join(engine, 'tsconfig.build.json'), '--emitDeclarationOnly'], { stdio: 'inherit' });
pruneDeclarations(path.join(engine, 'dist'), ['index.d.ts', 'http/index.d.ts', 'node/index.d.ts', 'isolation/index.d.ts', 'bytes/index.d.ts']);
const rolldown = path.join(root, 'node_modules/rolldown/bin/cli.mjs');
execFileSync(process.execPath, [rolldown, '-c', 'rolldown.config.mjs'], { stdio: 'inherit', cwd: engine });
const cli = path.join(engine, 'dist/bundle/cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
// The notices of every package the engine's bundle, the playground's script and the realm runtime hold.
writeNotices();

// The adapters, @enclave-kit/mcp, the Redis stores, the client and the React hook: plain tsc builds against the
// engine's (and the client's) dist types (their tsconfig.build.json clears `paths`, so they resolve our packages as users do). The client
// before the hook.
for (const name of ['express', 'hono', 'nest', 'next', 'mcp', 'redis', 'client', 'react']) {
  const dir = path.join(root, 'packages', name);
  if (!existsSync(path.join(dir, 'tsconfig.build.json'))) continue;
  rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
  // A package's command (enclave-runtime of @enclave-kit/redis) is executable, like the engine's.
  const bin = path.join(dir, 'dist/bin.js');
  if (existsSync(bin)) chmodSync(bin, 0o755);
}

/**
 * tsc declares every module the entries import, also those whose types no public declaration mentions
 * (the validator's rules, the scanner): keep only the declarations the entries' types reach, so the
 * tarball ships what a type checker reads and nothing else. Declarations are tsc's output, whose
 * relative specifiers are always in `from '...'` or `import('...')`.
 */
function pruneDeclarations(dir, entries) {
  const reached = new Set();
  const pending = entries.map((e) => path.join(dir, e));
  while (pending.length > 0) {
    const file = pending.pop();
    if (reached.has(file)) continue;
    reached.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
      pending.push(path.join(path.dirname(file), `${m[1]}.d.ts`));
    }
  }
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && file.endsWith('.d.ts') && !reached.has(file)) rmSync(file);
  }
  // Folders left empty (the validator's rules) go too.
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }).toReversed()) {
    const folder = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory() && readdirSync(folder).length === 0) rmSync(folder, { recursive: true });
  }
}
