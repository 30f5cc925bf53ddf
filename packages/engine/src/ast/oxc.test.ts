import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSync, visitorKeys } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import { oxcParse, oxcVisitorKeys } from './oxc.js';

const OPTIONS = { sourceType: 'script', lang: 'js', preserveParens: false } as const;
/** Texts whose trees carry what the JSON cannot (BigInts, regular expressions), comments and errors. */
const TEXTS = [
  'return 1',
  "const a = 10n ** 3n; /* c */ return /a(?<n>b)+/giu.test('ab') ? a : /[\\]/]/; // d",
  "const é = 'ü'; return /(?<=a)b/v.source + é;",
  'const x = ;',
  'return /(?<n>a)(?<n>b)/',
];

describe("oxc-parser's binding, loaded without its entry", () => {
  it('reads the trees, comments and errors oxc-parser reads', () => {
    for (const text of TEXTS) {
      const own = parseSync('agentscript.js', text, OPTIONS);
      const got = oxcParse('agentscript.js', text, OPTIONS);
      expect(got.program, text).toEqual(own.program);
      expect(got.comments, text).toEqual(own.comments);
      expect(got.errors, text).toEqual(own.errors);
    }
  });

  it("has oxc-parser's visitor keys", () => {
    expect(oxcVisitorKeys()).toEqual(visitorKeys);
  });

  const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/bundle/index.js');
  it.skipIf(!existsSync(dist))('leaves the choice to oxc-parser when napi-rs is told which binary to load, and a run still checks', () => {
    // napi-rs's override names the binary; oxc-parser's entry then loads it, as without the engine.
    const fromOxc = createRequire(createRequire(import.meta.url).resolve('oxc-parser'));
    const suffixes = process.platform === 'linux' ? ['-gnu', '-musl'] : process.platform === 'win32' ? ['-msvc'] : [''];
    const binary = suffixes.flatMap((s) => {
      try {
        return [fromOxc.resolve(`@oxc-parser/binding-${process.platform}-${process.arch}${s}`)];
      } catch {
        return [];
      }
    })[0] as string;
    const source = `const { Enclave } = await import(${JSON.stringify(dist)}); const e = new Enclave();
      const ok = await e.run('return 2n ** 3n > 1n && /a+/.test("aa")'); const bad = await e.run('eval("1")');
      console.log(JSON.stringify([ok.value, bad.error?.code])); process.exit(0);`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: binary } });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual([true, 'VALIDATION_ERROR']);
  });
});
