// Runs the test suite under other Node versions (default: 22 and 24), one after the other, each with
// its `bin` first on PATH so that everything the tests start (node, npm, the CLI) runs on it too.
//
//   node scripts/test-matrix.mjs [--node 22,24] [--report-dir DIR] [vitest filters and options...]
//   node scripts/test-matrix.mjs --install-only [--node 22,24]
//
// The Node binaries come from the npm registry (the `node-<os>-<arch>` packages hold the official
// binary) and are kept in a cache folder, installed only when missing: $ENCLAVE_NODE_CACHE, else
// ~/.cache/enclave-kit/node. With --report-dir, each version's vitest JSON report is written there as
// node-<major>.json. Exits non-zero if any version fails; prints one line per version at the end.
// These runs repeat a suite that already ran on the machine's Node: the few checks that give the same
// answer on any Node (the sources' text, the build's output, tsc, the lint) are skipped in them, and so
// are the validated attack rows whose validate:false twin runs too (rowsForThisRun in
// packages/engine/test/helpers.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function option(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = args.splice(i, 2);
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
}

// --install-only: install the binaries that are missing and run nothing (exits non-zero if one could not be).
const installOnly = args.includes('--install-only');
if (installOnly) args.splice(args.indexOf('--install-only'), 1);
const majors = (option('--node') ?? '22,24').split(',').map((v) => v.trim()).filter(Boolean);
const reportDir = option('--report-dir');
const cache = process.env.ENCLAVE_NODE_CACHE ?? path.join(os.homedir(), '.cache', 'enclave-kit', 'node');
const platform = process.platform === 'win32' ? 'win' : process.platform;
const binary = `node-${platform}-${process.arch}`;

/** Installs of one Node binary tried before its version is reported as failed (a registry that hiccups). */
const INSTALL_ATTEMPTS = 3;

/**
 * The bin folder of Node `major`, installed from the registry into the cache first if it is missing;
 * undefined, said on the console, when every attempt failed.
 */
function nodeBin(major) {
  const prefix = path.join(cache, major);
  const bin = path.join(prefix, 'node_modules', binary, 'bin');
  if (existsSync(path.join(bin, 'node'))) return bin;
  mkdirSync(prefix, { recursive: true });
  for (let attempt = 1; attempt <= INSTALL_ATTEMPTS; attempt++) {
    console.log(`== installing ${binary}@${major} into ${prefix} (attempt ${attempt} of ${INSTALL_ATTEMPTS})`);
    const npm = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', prefix, `${binary}@${major}`], {
      stdio: 'inherit',
      timeout: 300_000,
    });
    if (npm.status === 0 && existsSync(path.join(bin, 'node'))) return bin;
    console.log(`could not install ${binary}@${major} (npm exited with ${npm.status}${npm.error ? `: ${npm.error.message}` : ''})`);
  }
  return undefined;
}

if (installOnly) {
  const missing = majors.filter((major) => nodeBin(major) === undefined);
  process.exit(missing.length === 0 ? 0 : 1);
}

const vitest = path.join(root, 'node_modules/vitest/vitest.mjs');
const results = [];
for (const major of majors) {
  const bin = nodeBin(major);
  // One version that cannot be installed fails the matrix, and the other versions still run.
  if (bin === undefined) {
    results.push({ version: `${major} (not installed)`, status: 1, seconds: 0 });
    continue;
  }
  // ENCLAVE_TEST_REPEAT: the checks whose answer does not depend on Node (sources, the build's output,
  // tsc and the lint) ran in the first run and skip here (packages/engine/test/repeat-run.ts).
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, ENCLAVE_TEST_REPEAT: '1' };
  const version = spawnSync(path.join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const report = reportDir ? ['--reporter=default', '--reporter=json', `--outputFile=${path.join(reportDir, `node-${major}.json`)}`] : [];
  if (reportDir) mkdirSync(reportDir, { recursive: true });
  console.log(`== vitest on Node ${version}${args.length > 0 ? ` (${args.join(' ')})` : ''}`);
  const started = Date.now();
  const run = spawnSync(path.join(bin, 'node'), [vitest, 'run', ...report, ...args], { cwd: root, env, stdio: 'inherit' });
  results.push({ version, status: run.status, seconds: Math.round((Date.now() - started) / 1000) });
}

for (const r of results) console.log(`Node ${r.version}: ${r.status === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s`);
process.exit(results.every((r) => r.status === 0) ? 0 : 1);
