// The notices of the third-party code our builds bundle: MIT, ISC and BSD ask that every copy carry the
// copyright line and the licence text. Generated from what rolldown really put in the output (each chunk's
// `moduleIds`), never from a list kept by hand: a package the bundle gains gets its notice, or the build fails.
//
// Each bundling (the engine, the playground, the realm runtime) records the packages it bundled in
// packages/engine/.third-party/<name>.json (git-ignored), with the node_modules path of every bundled
// module; scripts/build-engine.mjs then writes packages/engine/dist/THIRD-PARTY-NOTICES.md from all of
// them, and test/bundle.test.ts checks the two agree.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const RECORDS = path.join(root, 'packages/engine/.third-party');
export const NOTICES = path.join(root, 'packages/engine/dist/THIRD-PARTY-NOTICES.md');

/** A licence file's name: LICENSE, LICENCE, LICENSE.md, license.txt, LICENSE-MIT, COPYING... any case. */
const LICENSE_FILE = /^(?:licen[cs]e|copying)(?:[.-][\w.-]*)?$/i;

/**
 * The packages that ship no licence file and whose licence we accept anyway: none today. An entry names
 * the package and the standard text its `license` field points at, which the notice then says in words;
 * the build fails for any other package without a file.
 */
const WITHOUT_FILE = new Map();

/** The root of the package a bundled file belongs to: the nearest package.json with a name, under node_modules. */
export function packageRoot(file) {
  if (!file.split(path.sep).includes('node_modules')) return undefined;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && typeof JSON.parse(readFileSync(manifest, 'utf8')).name === 'string') return dir;
    if (path.basename(dir) === 'node_modules' || path.dirname(dir) === dir) {
      throw new Error(`third-party notices: no package.json with a name above ${file}`);
    }
  }
}

/** The id of a module as rolldown reports it, as a file path: virtual modules (`\0...`) have none. */
const fileOf = (id) => (path.isAbsolute(id) ? id.replace(/[?#].*$/, '') : undefined);

/**
 * The bundled packages among these module ids: name, version, licence field and licence text, each
 * package once, sorted by name. Throws if one has no licence file and is not in WITHOUT_FILE.
 */
export function bundledPackages(moduleIds) {
  const roots = new Map();
  for (const id of moduleIds) {
    const file = fileOf(id);
    const dir = file && packageRoot(file);
    if (dir) roots.set(dir, [...(roots.get(dir) ?? []), path.relative(root, file).split(path.sep).join('/')]);
  }
  const packages = [...roots].map(([dir, modules]) => describePackage(dir, modules));
  return packages.sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

function describePackage(dir, modules) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const { name, version } = manifest;
  const license = typeof manifest.license === 'string' ? manifest.license : (manifest.license?.type ?? 'UNKNOWN');
  const files = readdirSync(dir).filter((f) => LICENSE_FILE.test(f)).sort();
  if (files.length > 0) {
    const text = files.map((f) => readFileSync(path.join(dir, f), 'utf8').trim()).join('\n\n');
    return { name, version, license, licenseFiles: files, text, modules: modules.sort() };
  }
  const standard = WITHOUT_FILE.get(`${name}@${license}`);
  if (standard) return { name, version, license, licenseFiles: [], text: standard, modules: modules.sort() };
  throw new Error(
    `third-party notices: ${name}@${version} (${dir}) is bundled but ships no licence file, and its licence field is ${JSON.stringify(license)}. ` +
      'Its notice must go with every copy: add the standard text its licence names to WITHOUT_FILE in scripts/third-party-notices.mjs, or stop bundling it.',
  );
}

/**
 * A rolldown plugin that records the packages bundled into the output as `name` (see RECORDS), and hands
 * them to `onPackages`. With `banner`, each chunk that holds code of others starts with a legal comment
 * naming those packages and where their notices are (`banner` says where: a path from the chunk).
 */
export function thirdPartyNotices(name, onPackages, { banner } = {}) {
  return {
    name: 'enclave-kit:third-party-notices',
    renderChunk(code, chunk) {
      if (!banner) return null;
      const packages = bundledPackages(chunk.moduleIds);
      if (packages.length === 0) return null;
      return `/*! Bundles ${packageList(packages)}: their notices are in ${banner}. */\n${code}`;
    },
    generateBundle(_options, bundle) {
      const ids = Object.values(bundle).flatMap((item) => (item.type === 'chunk' ? item.moduleIds : []));
      const packages = bundledPackages(ids);
      mkdirSync(RECORDS, { recursive: true });
      writeFileSync(path.join(RECORDS, `${name}.json`), `${JSON.stringify(packages, null, 2)}\n`);
      onPackages?.(packages, bundle);
    },
  };
}

/** The recorded packages of every bundling, by bundling name. */
export function readRecords() {
  const records = {};
  for (const f of readdirSync(RECORDS).filter((file) => file.endsWith('.json')).sort()) {
    records[f.slice(0, -'.json'.length)] = JSON.parse(readFileSync(path.join(RECORDS, f), 'utf8'));
  }
  return records;
}

/** Short: `name@version (licence)` for each package, for a comment at the top of a bundled script. */
export function packageList(packages) {
  return packages.map((p) => `${p.name}@${p.version} (${p.license})`).join(', ');
}

/** The notices as a text: each package once, sorted, with where we bundle it and its licence text. */
export function renderNotices(records, { markdown = true } = {}) {
  const byKey = new Map();
  for (const [bundling, packages] of Object.entries(records)) {
    for (const p of packages) {
      const key = `${p.name}@${p.version}`;
      const entry = byKey.get(key) ?? { ...p, bundles: [] };
      entry.bundles.push(bundling);
      byKey.set(key, entry);
    }
  }
  const entries = [...byKey.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  const where = { engine: 'dist/bundle/ (the engine)', playground: 'the playground page script (served to browsers)', 'realm-runtime': 'the realm runtime' };
  const lines = [
    markdown ? '# Third-party notices' : 'THIRD-PARTY NOTICES',
    '',
    '@enclave-kit/engine is licensed under Apache-2.0 (see LICENSE). Its built files include copies of the',
    'following packages, each under its own licence, reproduced below as the package ships it.',
    '',
  ];
  for (const p of entries) {
    lines.push(markdown ? `## ${p.name} ${p.version}` : `-- ${p.name} ${p.version} --`, '');
    lines.push(`License: ${p.license}. Bundled into: ${p.bundles.map((b) => where[b] ?? b).join('; ')}.`, '');
    lines.push(...(markdown ? ['```text', p.text, '```'] : [p.text]), '');
  }
  return lines.join('\n');
}

/** Writes dist/THIRD-PARTY-NOTICES.md from every bundling's record; returns its text. */
export function writeNotices() {
  const text = renderNotices(readRecords());
  writeFileSync(NOTICES, text);
  return text;
}
