import os from 'node:os';
import { parseSync } from 'oxc-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEngineForChildren, childResult, describeChild, runChild } from '../../test/helpers.js';
import { EARLY_ERRORS, V8_ONLY_REGEX } from '../../test/early-errors.js';
import { STANDARD_PROGRAMS } from '../../test/programs/cases.js';
import { parseAgentScript, treeTransfer, WRAP_PREFIX, WRAP_SUFFIX } from './parse.js';
import { parseRawTransfer, type RawParse, treeText } from './raw-tree.js';

const OPTIONS = { sourceType: 'script', lang: 'js', preserveParens: false } as const;
const json = (text: string): RawParse => parseSync('agentscript.js', text, OPTIONS);
const raw = (text: string): RawParse | null => parseRawTransfer('agentscript.js', text, OPTIONS, json);
const seen = treeText;

/** Texts that stress what differs between the paths: offsets past non-ASCII text, strings, comments, errors. */
const EDGES = [
  '',
  'return 1',
  '// only a comment',
  "const s = 'é' + \"ü\" + `ß${'€'}` + '𝒜😀' + 'plain'; return s.length;",
  "const 𝒜 = 1; const é = 2; /* ☃ */ return 𝒜 + é; // ✓",
  'return /[\\u{1F600}-\\u{1F64F}]+/u.test("😀") && /(?<year>\\d{4})/v.exec("2026")?.groups.year;',
  '<!-- html comment\nreturn 1;\n--> also a comment',
  'const { a = 1, b: [c, ...d] = [], ...e } = input ?? {}; label: for (const k in e) { if (k) continue label; } return [a, c, d];',
  'class A extends (B ?? Object) { static #n = 1; #p; get p() { return this.#p; } static { A.x = 2n ** 64n; } }\nreturn new A();',
  'async function* g() { yield* await h(); }\nfor await (const x of g()) { try { x(); } catch { throw new Error(`x ${x}`); } finally { } }',
  'const x = ;',
  'let let = 1; }; evil(); function x() {',
  "const s = 'é'; const bad = ;\nreturn s;",
  'x'.repeat(10_000) + ' = 1;',
  Array.from({ length: 2_000 }, (_, i) => `const v${i} = await callTool('t:${i}', { i: ${i}, s: 'ü${i}' }); // ${'é'.repeat(i % 7)}`).join('\n'),
];

const CORPUS = [...STANDARD_PROGRAMS.map((p) => p.code), ...EARLY_ERRORS, ...V8_ONLY_REGEX, ...EDGES];
const wrap = (code: string) => WRAP_PREFIX + code + WRAP_SUFFIX;

/** oxc's raw transfer needs a 64-bit little-endian platform; oxc's binding says the same. */
const platformCan = ['x64', 'arm64', 'ppc64', 'riscv64', 'loong64'].includes(process.arch) && os.endianness() === 'LE';

describe.runIf(platformCan)('oxc-parser raw transfer set up here (ast/raw-tree.ts)', () => {
  it('reads the same tree, comments and errors as the JSON path, for every text of the corpus', () => {
    let compared = 0;
    for (const code of CORPUS) {
      const text = wrap(code);
      const got = raw(text);
      expect(got, code.slice(0, 80)).not.toBeNull();
      expect(seen(got as RawParse), code.slice(0, 80)).toBe(seen(json(text)));
      compared++;
    }
    expect(compared).toBe(CORPUS.length);
  });

  it('reads lone surrogates as the JSON path does, except that `raw` keeps the source text as written', () => {
    // Rust reads text as UTF-8, so both paths give a lone surrogate's value as U+FFFD; the JSON path's
    // string literals' `raw` comes from Rust too, where the raw path slices the original text (as V8 reads it).
    const code = "return '\\uD800' + '\ud800' + `x\udc00y`;";
    const text = wrap(code);
    const lossy = (r: RawParse) => seen(r).replace(/\\ud[89a-f][0-9a-f]{2}/g, '\ufffd');
    const got = raw(text) as RawParse;
    expect(lossy(got)).toBe(lossy(json(text)));
    const raws: string[] = [];
    JSON.stringify(got.program, (k, v: unknown) => (k === 'raw' && typeof v === 'string' && raws.push(v), v));
    // A string literal's `raw` is the source's; a template element's is Rust's (U+FFFD) on both paths.
    expect(raws).toEqual(["'use strict'", "'\\uD800'", "'\ud800'", 'x\ufffdy']);
  });

  it('leaves nothing of a large text in the tree of a small one read after it (the buffer is reused)', () => {
    const large = wrap(EDGES[EDGES.length - 1] as string);
    const small = wrap("return 'é'");
    expect(seen(raw(large) as RawParse)).toBe(seen(json(large)));
    expect(seen(raw(small) as RawParse)).toBe(seen(json(small)));
    expect(seen(raw(large) as RawParse)).toBe(seen(json(large)));
  });

  it('is the path parseAgentScript takes after its first parse, on every Node this supports', () => {
    parseAgentScript('return 1 // first');
    parseAgentScript('return 2 // second');
    // oxc offers raw transfer itself from Node 22; on Node 20 this module sets it up.
    expect(treeTransfer()).toBe(Number(process.versions.node.split('.')[0]) >= 22 ? 'oxc' : 'own');
    const parsed = parseAgentScript("const é = await callTool('a', {}); // ü\nreturn é;");
    expect(parsed.syntaxErrors).toEqual([]);
    expect(parsed.body.map((n) => n.type)).toEqual(['VariableDeclaration', 'ReturnStatement']);
    expect(parsed.comments).toHaveLength(1);
  });
});

describe.runIf(platformCan)('when a process sets the raw path up', () => {
  let engine = '';
  beforeAll(() => {
    engine = buildEngineForChildren();
  }, 120_000);

  // A new process, so that its first check is the process's first parse. The raw path's set-up (oxc's
  // reader loaded and compiled, its 6 GiB reservation, on Node 20 the probe) took 20-30 ms of the
  // second run's check; it now comes in a timer turn after the first. The reservation is what shows it.
  it('it is after the first check, in a turn of its own, not in the second check', async () => {
    const reserved = 'Math.round(process.memoryUsage().arrayBuffers / 1073741824)';
    const child = await runChild(
      engine,
      `const { checkAgentScript } = await import(ENGINE);
const first = checkAgentScript('return 1').ok;
const afterFirst = ${reserved};
await new Promise((resolve) => setTimeout(resolve, 50));
console.log('RESULT ' + JSON.stringify({ first, afterFirst, afterTurn: ${reserved} }));`,
      { killAfterMs: 60_000 },
    );
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual({ first: true, afterFirst: 0, afterTurn: 6 });
  }, 90_000);

  // A run spans timer turns (its tools, its realm built a turn at a time): the set-up, put off to the
  // next turn, landed inside the process's first run, about a third of that run on Node 22 and 24.
  it('it waits until no run is in flight: the first run, awaiting its tools, does not pay for it', async () => {
    const reserved = 'Math.round(process.memoryUsage().arrayBuffers / 1073741824)';
    const child = await runChild(
      engine,
      `const during = [];
const wait = async () => {
  await new Promise((resolve) => setTimeout(resolve, 30));
  during.push(${reserved});
  return 1;
};
const result = await new Enclave().run("await callTool('wait', {}); return await callTool('wait', {});", { tools: { wait } });
const afterRun = ${reserved};
await new Promise((resolve) => setTimeout(resolve, 50));
console.log('RESULT ' + JSON.stringify({ ok: result.success, during, afterRun, afterTurn: ${reserved} }));`,
      { killAfterMs: 60_000 },
    );
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual({ ok: true, during: [0, 0], afterRun: 0, afterTurn: 6 });
  }, 90_000);
});
