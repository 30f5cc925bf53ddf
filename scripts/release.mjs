// Versions and publishes the @enclave-kit packages together: one version for all, one CHANGELOG entry.
//
//   node scripts/release.mjs version <x.y.z | major | minor | patch> [--date YYYY-MM-DD]
//     Sets every published package's version, and turns CHANGELOG.md's "Unreleased" section into
//     "[x.y.z] - date" (it must not be empty). Commit and tag (vX.Y.Z) afterwards.
//   node scripts/release.mjs publish [--dry-run]
//     Checks that every package has one version with its CHANGELOG entry, builds, and publishes with
//     `pnpm publish` (which writes the engine's real version range where the adapters say workspace:^),
//     engine first. Works with nothing but the npm registry; versioning needs no network at all.
//
// ENCLAVE_RELEASE_ROOT points it at another checkout (the release test uses a copy).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.env.ENCLAVE_RELEASE_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const changelogFile = path.join(root, 'CHANGELOG.md');
const SEMVER = /^\d+\.\d+\.\d+$/;

/** The published packages: packages/* without `private`. */
function packages() {
  return readdirSync(path.join(root, 'packages'))
    .map((dir) => path.join(root, 'packages', dir, 'package.json'))
    .map((file) => ({ file, json: JSON.parse(readFileSync(file, 'utf8')) }))
    .filter((p) => !p.json.private);
}

/** The one version all packages share; throws when they disagree. */
function currentVersion(list) {
  const versions = new Set(list.map((p) => p.json.version));
  if (versions.size !== 1) throw new Error(`the packages disagree on their version: ${[...versions].join(', ')}`);
  return [...versions][0];
}

function bump(version, kind) {
  if (SEMVER.test(kind)) return kind;
  const [major, minor, patch] = version.split('.').map(Number);
  if (kind === 'major') return `${major + 1}.0.0`;
  if (kind === 'minor') return `${major}.${minor + 1}.0`;
  if (kind === 'patch') return `${major}.${minor}.${patch + 1}`;
  throw new Error(`version must be x.y.z, major, minor or patch, got ${kind}`);
}

/** CHANGELOG.md with "## [Unreleased]" split into an empty Unreleased section and the release's. */
function releaseChangelog(text, version, date) {
  const heading = '## [Unreleased]';
  const start = text.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`CHANGELOG.md has no "${heading}" section`);
  const bodyStart = start + heading.length + 1;
  const next = text.indexOf('\n## [', bodyStart);
  const body = text.slice(bodyStart, next < 0 ? undefined : next + 1);
  if (!/^### /m.test(body)) throw new Error('CHANGELOG.md: the Unreleased section lists no changes (### Added, Changed, Fixed, ...)');
  // What the section says about the coming release ("The next release is ...") belongs to it no more.
  const entries = body.slice(body.search(/^### /m));
  const rest = next < 0 ? '' : text.slice(next + 1);
  const links = `[Unreleased]: #unreleased\n[${version}]: #${version.replaceAll('.', '')}---${date}\n`;
  const withLinks = rest.replace(/^\[Unreleased\]: .*\n/m, links);
  return `${text.slice(0, start)}${heading}\n\n## [${version}] - ${date}\n\n${entries.trimEnd()}\n\n${withLinks}`;
}

const [command, ...args] = process.argv.slice(2);
const list = packages();
if (command === 'version') {
  const kind = args.find((a) => !a.startsWith('--'));
  const dateIndex = args.indexOf('--date');
  const date = dateIndex >= 0 ? args[dateIndex + 1] : new Date().toISOString().slice(0, 10);
  if (!kind) throw new Error('usage: release.mjs version <x.y.z | major | minor | patch>');
  const from = currentVersion(list);
  const to = bump(from, kind);
  writeFileSync(changelogFile, releaseChangelog(readFileSync(changelogFile, 'utf8'), to, date));
  for (const p of list) writeFileSync(p.file, `${JSON.stringify({ ...p.json, version: to }, null, 2)}\n`);
  console.log(`${list.map((p) => p.json.name).join(', ')}: ${from} -> ${to}. Review, then: git commit -am "Release ${to}" && git tag v${to}`);
} else if (command === 'publish') {
  const version = currentVersion(list);
  if (!readFileSync(changelogFile, 'utf8').includes(`\n## [${version}] - `)) throw new Error(`CHANGELOG.md has no entry for ${version}: run release.mjs version first`);
  const run = (cmd, cmdArgs) => execFileSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  run(process.execPath, [path.join(root, 'scripts/build-engine.mjs')]);
  // pnpm publishes (it writes the real range where a package says workspace:^): the one on PATH, else the
  // one the README installs the workspace with, through npx, so that Node and npm are all it takes.
  const pnpm = spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0 ? ['pnpm'] : ['npx', '--yes', 'pnpm@12.21.0'];
  run(pnpm[0], [...pnpm.slice(1), '--filter', './packages/*', 'publish', '--access', 'public', ...args.filter((a) => a === '--dry-run')]);
} else {
  console.error('usage: release.mjs version <x.y.z | major | minor | patch> [--date YYYY-MM-DD] | release.mjs publish [--dry-run]');
  process.exitCode = 1;
}
