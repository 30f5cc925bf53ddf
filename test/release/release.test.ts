/**
 * The packages are versioned and released together (README, "Versions"): one version in every
 * published package.json, with its CHANGELOG.md entry, and scripts/release.mjs moves all of them at once.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const published = (at: string) =>
  readdirSync(path.join(at, 'packages'))
    .map((dir) => JSON.parse(readFileSync(path.join(at, 'packages', dir, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean })
    .filter((p) => !p.private);

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

describe('versions', () => {
  it('every published package has the same version, and CHANGELOG.md an entry for it', () => {
    const packages = published(root);
    expect(packages.map((p) => p.name).sort()).toEqual(
      ['client', 'engine', 'express', 'hono', 'mcp', 'nest', 'next', 'react', 'redis'].map((p) => `@enclave-kit/${p}`),
    );
    const versions = new Set(packages.map((p) => p.version));
    expect(versions.size).toBe(1);
    const changelog = readFileSync(path.join(root, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain(`\n## [${[...versions][0]}] - `);
    expect(changelog).toContain('\n## [Unreleased]\n');
  });

  it('release.mjs version moves every package and the changelog\'s Unreleased entries to the new version', () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'enclave-release-'));
    copies.push(copy);
    cpSync(path.join(root, 'CHANGELOG.md'), path.join(copy, 'CHANGELOG.md'));
    for (const dir of readdirSync(path.join(root, 'packages'))) {
      mkdirSync(path.join(copy, 'packages', dir), { recursive: true });
      cpSync(path.join(root, 'packages', dir, 'package.json'), path.join(copy, 'packages', dir, 'package.json'));
    }
    const before = readFileSync(path.join(copy, 'CHANGELOG.md'), 'utf8');
    const [major, minor] = published(copy)[0]!.version.split('.').map(Number);
    const next = `${major}.${(minor ?? 0) + 1}.0`;
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/release.mjs'), 'version', 'minor', '--date', '2030-01-31'], {
      env: { ...process.env, ENCLAVE_RELEASE_ROOT: copy },
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(new Set(published(copy).map((p) => p.version))).toEqual(new Set([next]));
    const after = readFileSync(path.join(copy, 'CHANGELOG.md'), 'utf8');
    // An empty Unreleased section, then the release with every entry the Unreleased section had.
    expect(after).toContain(`## [Unreleased]\n\n## [${next}] - 2030-01-31\n\n### `);
    const entries = (text: string) => text.split('\n').filter((line) => line.startsWith('- '));
    expect(entries(after)).toEqual(entries(before));
    // A second release with nothing unreleased is refused.
    const again = spawnSync(process.execPath, [path.join(root, 'scripts/release.mjs'), 'version', 'patch'], { env: { ...process.env, ENCLAVE_RELEASE_ROOT: copy }, encoding: 'utf8' });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain('lists no changes');
  });
});
