import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Tests that spawn `node` (CLI, crash tests in a child process, example servers) need the built packages: Node 20 cannot
 * import TypeScript. Build it once per test run when dist/ is missing or older than the sources.
 */
const root = path.dirname(fileURLToPath(import.meta.url));
const engine = path.join(root, 'packages/engine');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  // The example smoke tests run the adapters' dist too: rebuild when any package's sources are newer.
  const marker = path.join(engine, 'dist/bundle/index.js');
  const sources = ['engine', 'express', 'hono', 'nest', 'next', 'mcp', 'redis', 'client', 'react'].map((p) => path.join(root, 'packages', p, 'src')).filter((p) => existsSync(p));
  // The playground page's sources, which the engine build turns into src/http/playground-assets.generated.js.
  sources.push(path.join(engine, 'playground'));
  // A build from before the third-party notices (scripts/third-party-notices.mjs) lacks them: built again too.
  const notices = path.join(engine, 'dist/THIRD-PARTY-NOTICES.md');
  if (existsSync(path.join(engine, 'src/http/playground-assets.generated.js')) && existsSync(notices) && existsSync(marker) && statSync(marker).mtimeMs >= Math.max(...sources.map(newest))) return;
  execFileSync(process.execPath, [path.join(root, 'scripts/build-engine.mjs')], { stdio: 'inherit', cwd: root });
}
