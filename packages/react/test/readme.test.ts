/**
 * The root README's React snippet compiles as a user's TSX file would, against this package's built types
 * (strict, react-jsx), so the hook's documented shape cannot drift from its real one.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const work = path.resolve(here, '../.readme');

it('the README’s React snippet typechecks', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n### In React: `@enclave-kit/react`\n'));
  const tsx = /^```tsx\n([\s\S]*?)^```$/m.exec(section)?.[1];
  expect(tsx).toContain("from '@enclave-kit/react'");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'app.tsx'), tsx ?? '');
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const args = ['--ignoreConfig', '--noEmit', '--strict', '--jsx', 'react-jsx', '--module', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', '--types', '', 'app.tsx'];
  const checked = spawnSync(process.execPath, [tsc, ...args], { cwd: work, encoding: 'utf8' });
  expect(`${checked.stdout}${checked.stderr}`).toBe('');
});
