// Builds packages/engine/dist, then the adapters' dist, with the workspace's tsc, without needing pnpm on PATH.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const engine = path.join(root, 'packages/engine');
// typescript's package exports do not expose bin/, so resolve the file in the workspace's node_modules.
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
// The realm runtime first: its bundled source is a module of the engine (src/sandbox/realm-runtime.generated.ts).
execFileSync(process.execPath, [path.join(root, 'scripts/build-realm-runtime.mjs')], { stdio: 'inherit' });
rmSync(path.join(engine, 'dist'), { recursive: true, force: true });
// tsc writes the types; rolldown writes the JavaScript, once (see packages/engine/rolldown.config.mjs).
execFileSync(process.execPath, [tsc, '-p', path.join(engine, 'tsconfig.build.json'), '--emitDeclarationOnly'], { stdio: 'inherit' });
const rolldown = path.join(root, 'node_modules/rolldown/bin/cli.mjs');
execFileSync(process.execPath, [rolldown, '-c', 'rolldown.config.mjs'], { stdio: 'inherit', cwd: engine });
const cli = path.join(engine, 'dist/bundle/cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);

// The adapters, @enclave-kit/mcp, the Redis stores, the client and the React hook: plain tsc builds against the
// engine's (and the client's) dist types (their tsconfig.build.json drops the dev-source condition). The client
// before the hook.
for (const name of ['express', 'hono', 'nest', 'next', 'mcp', 'redis', 'client', 'react']) {
  const dir = path.join(root, 'packages', name);
  if (!existsSync(path.join(dir, 'tsconfig.build.json'))) continue;
  rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.build.json')], { stdio: 'inherit' });
}
