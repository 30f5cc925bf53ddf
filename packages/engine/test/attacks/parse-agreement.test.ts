/**
 * Every layer must read a script the way V8 runs it. V8 compiles the rewritten text as a classic script,
 * where `<!--` starts a line comment and so does `-->` at the start of a line (Annex B); a module parser
 * reads both as operators. Code that the checks take for a comment and V8 runs would escape every check
 * and every guard: the smuggled `import()` below reached the host's `Function` through Node's rejection
 * (a host error) at every level, with and without validation, in both isolations, until the parse read
 * the text as a script and the compile step refused any text that may call `import(...)`.
 *
 * The canaries are the host-side ones of runAttack: a host global and an environment variable that only
 * a host `Function` could set.
 */
import os from 'node:os';
import { parseSync, rawTransferSupported } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import { WRAP_PREFIX, WRAP_SUFFIX } from '../../src/ast/parse.js';
import { parseRawTransfer, type RawParse, treeText } from '../../src/ast/raw-tree.js';
import { checkAgentScript } from '../../src/index.js';
import type { Adapter, Attack } from '../helpers.js';
import { ADAPTERS, LEVEL_ADAPTERS, ONE_WORKER, PWN_LIT, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';

/** `import()`'s rejection reason, then its constructor's constructor: the host's Function in Node. */
const ESCAPE = `const pr = import('x').then(() => 'resolved', (e) => { try { return String(e.constructor.constructor(${PWN_LIT})()); } catch (x) { return 'blocked:' + x.name; } });
await callTool('echo', {});
return await pr;`;

const ATTACKS: readonly Attack[] = [
  {
    name: '`<!--` hides a block comment start, and the import() after it, from a module reader',
    code: `let b = 1;\n0 <!--b; /*\n${ESCAPE}\n// */\nreturn 'nothing to see';`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: '`-->` at the start of a line does the same',
    code: `let b = 1;\nb\n--> /*\n${ESCAPE}\n// */ 0;\nreturn 'nothing to see';`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: '`-->` after a line-spanning block comment',
    code: `let b = 1;\nb /* one\ntwo */ --> /*\n${ESCAPE}\n// */ 0;\nreturn 'nothing to see';`,
    expect: ['VALIDATION_ERROR'],
  },
  {
    name: 'a plain import() in every comment-and-space disguise',
    code: `const pr = import<!-- x\n--> y\n/* z */\u3000('x').then(() => 'resolved', (e) => String(e.constructor.constructor(${PWN_LIT})())); return await pr;`,
    expect: ['VALIDATION_ERROR'],
  },
];

/**
 * The rewriter's guards must see the code V8 runs: a loop hidden from a module reader by `-->` ran
 * without its iteration guard. Twenty iterations against a budget of five: only a guard stops it.
 */
const HIDDEN_LOOP: Attack = {
  name: 'a loop behind `-->` still counts against the iteration budget',
  code: `let x = 1;\nlet n = 0;\nx\n--> /*\nfor (let i = 0; i < 20; i++) n++;\n// */ 0;\nreturn n;`,
  expect: ['MAX_ITERATIONS'],
  validation: 'accept',
  run: (kit) => ({ tools: kit.tools, maxIterations: 5 }),
};

/**
 * The rewriter found an arrow's `=>` by reading the raw text back from the body, so a `=>` in a comment
 * between the two took the guard's opening half into the comment: V8 then read the rest of the text
 * another way than every check had (here: code the checks took for a string ran, with a dynamic tool
 * name that STRICT refuses and a loop with no guard). Found by red-team review.
 */
const ARROW_COMMENT: Attack = {
  name: 'a `=>` in a comment between an arrow and its body does not move the guard',
  code: `if (() => { (x => // =>\n1) /'/; let i = 0; for (; i < 5e6; i++) {} const name = "ec" + "ho"; await callTool(name, { i }); '/1 }) {} // '\nreturn 'done';`,
  expect: ['OK'],
  enclave: { securityLevel: 'STRICT' },
  check: (r, { kit }) => {
    expect(r.value).toBe('done');
    expect(kit.calls).toHaveLength(0);
  },
};

const ARROW_COMMENTS_STILL_RUN: Attack = {
  name: 'comments between an arrow and its body are fine where they stand',
  code: "const f = (x) => /* => */ x + 1;\nconst g = (x) => // =>\n  (x * 2);\nconst h = async (x) => /* => */ (await x) + 3;\nreturn [f(1), g(2), await h(3)];",
  expect: ['OK'],
  check: (r) => expect(r.value).toEqual([2, 4, 6]),
};

const TRANSFORM_OFF: readonly Adapter[] = [
  { name: 'vm STANDARD transform:false', options: { transform: false, realmPool: REUSE_ONE_REALM }, validates: true },
  { name: 'vm STANDARD validate:false transform:false', options: { validate: false, transform: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads STANDARD validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
];

describe.each([...ADAPTERS, ...LEVEL_ADAPTERS, ...TRANSFORM_OFF])('the checks read what V8 runs [$name]', (adapter) => {
  const shared = rowEnclave(adapter);
  for (const attack of [...ATTACKS, ARROW_COMMENT, ARROW_COMMENTS_STILL_RUN]) it(attack.name, async () => void (await runAttack(adapter, attack, shared())));
  if (adapter.options.transform !== false) it(HIDDEN_LOOP.name, async () => void (await runAttack(adapter, HIDDEN_LOOP, shared())));
});

describe('checkAgentScript sees code behind HTML-like comments', () => {
  it('reports the smuggled import() where it stands', () => {
    const r = checkAgentScript(`let b = 1;\n0 <!--b; /*\nconst p = import('x');\n// */\nreturn b;`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toContainEqual(expect.objectContaining({ ruleId: 'no-dynamic-import', line: 3 }));
  });

  it('accepts `<!--` and `-->` where a script reads them as comments, and runs what follows them', () => {
    const r = checkAgentScript(`let a = 1 <!-- a comment to V8\n--> another\nreturn a;`);
    expect(r.ok).toBe(true);
  });
});

/**
 * Since Node 20 parses through oxc's raw transfer too (ast/raw-tree.ts), the tree every check reads comes
 * from a second reader of the parser's output. The two readers must agree on the texts where they could
 * differ: escapes in names and strings, lone surrogates, template cooked and raw text, regex literals,
 * numeric separators, a BOM, `#!`, HTML-like comments, U+2028 and U+2029, astral names, very long names.
 * Red-teamed (red9) on Node 20, 22 and 24: no difference but the one raw-tree.test.ts states (a string
 * literal's `raw` keeps a lone surrogate, where the JSON path writes U+FFFD).
 */
const READER_TEXTS = [
  'x.\\u0063onstructor = 1; x.\\u{63}onstructor; x.\\u{0000063}onstructor',
  'const \\u00e9 = 1; const \\u{1D49C} = 2; x.\\u{1D49C}; x.é\\u00e9; const 𝒜 = 3',
  "x['\\u0063onstructor']; x['\\x63onstructor']; x['con\\\nstructor']; x['\\143onstructor'.length]",
  "x['\\uD800']; x[`\\uD800${1}\\uDBFF\\uDFFF`]; x['\\u{D800}']; x = '\\uDBFF' + '\\uDFFF'",
  'x = /[\\u{d800}]\\//u; y = /\\//; z = /a/dgimsuy; w = /(?<n>a)\\k<n>/; v = /[a-z&&[^q]]/v',
  'x = 1_000_000; y = 0x_1 ; z = 1_0n; w = 0b1_0; v = 0o7_7; u = .1_1e1_0',
  'x = 1e400; y = 0.1e-400; z = 9007199254740993; w = 0x1fffffffffffff1; v = 08; u = 0777',
  '\ufeffx = 1; \ufeff y = 2; z = a\u00a0+\u3000b\u2003-\ufeffc',
  '#!/usr/bin/env node\nx = 1',
  'x = 1 <!-- c\n--> d\ny = 2',
  'x = 1\u2028y = 2\u2029z = 3; // c\u2028w = 4',
  "x = '\u2028\u2029'; y = `\u2028${1}\u2029`; z = '\\\u2028'",
  'x = `a\\u{63}b${y}\\x63`; t = String.raw`\\u{`; t2 = tag`\\unicode${1}\\xg`',
  'class A { #\\u0078 = 1; #é = 2; \\u0063onstructor() {} static #y; m() { return #\\u0078 in this; } }',
  'o = { \\u0063onstructor: 1, "\\u0063onstructor": 2, [`constructor`]: 3, 0x10: 4, 1e3: 5, 1_0: 6, 10n: 7 }',
  '({ a: x.constructor } = o); for (x.next of y); [x.then] = z; x[k]++; --x.next;',
  'x = a?.b\u200c; y = a\u200d; l\\u0065tter = 1; \\u0061sync; yi\\u0065ld = 2',
  'a = b\n++c; d = e\n/f/g.h; i = j\n(k)',
  `x${'\\u0061'.repeat(5000)} = 1; '${'é'.repeat(3000)}\\u0000'`,
];

const platformCan = ['x64', 'arm64', 'ppc64', 'riscv64', 'loong64'].includes(process.arch) && os.endianness() === 'LE';
describe.runIf(platformCan)('the two readers of oxc\'s output agree on texts that stress them', () => {
  const options = { sourceType: 'script', lang: 'js', preserveParens: false } as const;
  const json = (text: string): RawParse => parseSync('agentscript.js', text, options);
  // oxc's own raw transfer from Node 22, this project's on Node 20 (ast/raw-tree.ts).
  const raw = (text: string): RawParse | null =>
    rawTransferSupported()
      ? parseSync('agentscript.js', text, { ...options, experimentalRawTransfer: true } as typeof options)
      : parseRawTransfer('agentscript.js', text, options, json);
  // A lone surrogate is U+FFFD in Rust: the JSON path writes it so in a string literal's `raw` too.
  const lossy = (r: RawParse) => treeText(r).replace(/\\ud[89a-f][0-9a-f]{2}/g, '\ufffd');

  it.each(READER_TEXTS.map((t) => [t.slice(0, 60), t]))('%s', (_, code) => {
    const text = WRAP_PREFIX + code + WRAP_SUFFIX;
    const got = raw(text);
    expect(got).not.toBeNull();
    expect(lossy(got as RawParse)).toBe(lossy(json(text)));
  });
});
