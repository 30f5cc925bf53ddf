import { parseSync } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import type { SecurityLevel } from '../levels.js';
import { LEVEL_CONFIGS, SECURITY_LEVELS } from '../levels.js';
import type { Node, ParsedSource } from '../ast/parse.js';
import { parseAgentScript, WRAP_PREFIX, WRAP_SUFFIX } from '../ast/parse.js';
import type { Issue } from '../source.js';
import { LineIndex } from '../source.js';
import { MAX_ISSUES, RULES, validateAst } from './index.js';

function validate(code: string, level: SecurityLevel = 'STANDARD', extraGlobals: readonly string[] = ['callTool', 'input']): Issue[] {
  const parsed = parseAgentScript(code);
  if (parsed.syntaxErrors.length > 0) {
    throw new Error(`test input does not parse: ${parsed.syntaxErrors.map((e) => e.message).join('; ')}`);
  }
  return validateAst(parsed, { dialect: LEVEL_CONFIGS[level].dialect, extraGlobals });
}

function ruleIds(code: string, level: SecurityLevel = 'STANDARD', extraGlobals?: readonly string[]): string[] {
  return validate(code, level, extraGlobals).map((i) => i.ruleId);
}

function issuesOf(ruleId: string, code: string, level: SecurityLevel = 'STANDARD'): Issue[] {
  return validate(code, level).filter((i) => i.ruleId === ruleId);
}

/** Parses with options parseAgentScript refuses (module code), to check the validator on its own. */
function parseAsModule(code: string): ParsedSource {
  const wrapped = WRAP_PREFIX + code + WRAP_SUFFIX;
  const result = parseSync('m.js', wrapped, { sourceType: 'module', lang: 'js', preserveParens: false });
  // After the wrapper's 'use strict' directive.
  const main = (result.program as unknown as { body: Node[] }).body[1] as Node;
  return {
    code,
    wrapped,
    body: (main.body as Node).body as Node[],
    main,
    lines: new LineIndex(code),
    syntaxErrors: [],
    comments: [],
  };
}

interface RuleCase {
  rule: string;
  /** Each must produce at least one issue of `rule` at every level in `levels`. */
  bad: string[];
  /** Each must produce no issue of `rule` at every level in `levels`. */
  good: string[];
  levels: SecurityLevel[];
}

const ALL: SecurityLevel[] = [...SECURITY_LEVELS];

const CASES: RuleCase[] = [
  {
    rule: 'no-eval',
    levels: ALL,
    bad: [
      "eval('1 + 1');",
      "const f = new Function('return 1');",
      'const F = Function;',
      "(0, eval)('x');",
      'const o = { eval };',
      'var eval = 1;',
      "const g = AsyncFunction('x');",
    ],
    good: ['const o = { eval: 1, Function: 2 }; o.eval; o.Function;', "input['eval'];", 'input.eval;'],
  },
  {
    rule: 'no-blocked-identifier',
    levels: ALL,
    bad: [
      'process.env.SECRET;',
      "require('fs');",
      'globalThis.x;',
      'setTimeout(() => 1, 10);',
      'const o = { fetch };',
      'const n = (() => arguments.length)();',
      'let t = typeof window;',
    ],
    good: [
      // Local bindings with these names reach nothing of the host.
      'const { process } = input; process.x;',
      'for (const Buffer of []) { Buffer.length; }',
      'const window = 3; const w = window * 2;',
      'const o = { process: 1, fetch: 2 }; o.process; o.fetch;',
      "input['require'];",
      'const { process: proc } = input;',
      'process: for (const a of []) { break process; }',
    ],
  },
  {
    rule: 'no-with',
    levels: ALL,
    bad: ['with (input) { Math.max(1); }'],
    good: ['const w = input.with;'],
  },
  {
    rule: 'no-debugger',
    levels: ALL,
    bad: ['debugger;', 'if (input) { debugger; }'],
    good: ['const debug = 1;'],
  },
  {
    rule: 'no-dynamic-import',
    levels: ALL,
    bad: ["const fs = await import('node:fs');", "import('x').then(() => 1);", "import.source('x');"],
    good: ["const imp = input.import; const m = { import: 1 };"],
  },
  {
    rule: 'no-new-target',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: ['function f() { return new.target; }', 'const t = new.target;'],
    good: ['const n = { target: 1 }.target;'],
  },
  {
    rule: 'no-blocked-property',
    levels: ALL,
    bad: [
      'input.constructor;',
      "input['__proto__'];",
      'input[`constructor`];',
      "input['con' + 'structor'];",
      "input['con' + `str` + 'uctor'];",
      'input?.constructor;',
      "input.a.b['constructor']['constructor'];",
      'const { constructor } = input;',
      "const { ['__proto__']: p } = input;",
      'let c; ({ constructor: c } = input);',
      'const o = { __proto__: null };',
      "const o = { '__proto__': null };",
      "const o = { ['__proto__']: null };",
      "''.__defineGetter__;",
      "const [{ __proto__: p }] = [input];",
    ],
    good: [
      // Harmless in a frozen, strict realm without code generation, and common in ordinary code.
      'input.caller; input.callee; input[`prototype`];',
      'const [{ prototype }] = [input];',
      "Object.prototype.hasOwnProperty.call(input, 'a');",
      'const k = input.key; input[k];',
      'const o = { constructor: 1, caller: 2, prototype: 3 };',
      "const k = input.key; input['con' + k];",
      'input.constructors; input.proto; input.callers;',
      'const { construct } = input;',
    ],
  },
  {
    rule: 'no-reserved-prefix',
    levels: ALL,
    bad: ['const __ekX = 1;', '__ek_main__();', 'const f = (__ekArg) => 1;', 'const { a: __ekA } = input;'],
    good: ['input.__ekX;', 'const o = { __ekX: 1 };', 'const ek = 1; const _ek = 2;'],
  },
  {
    rule: 'no-this',
    levels: ALL,
    bad: ['this.x;', 'const f = () => this;', 'const o = { m: () => this };'],
    good: ['const self2 = { me: 1 }; self2.me;', 'const t = input.this;'],
  },
  {
    rule: 'no-this',
    levels: ['PERMISSIVE'],
    bad: [
      'function f() { return this; }',
      'const o = { m() { return this.x; } };',
      'class A { m() { return function () { return this; }; } }',
      'class A { [this.k] = 1; }',
    ],
    good: [
      'class A { constructor() { this.x = 1; } m() { return () => this.x; } static { this.y = 1; } f = this.x; }',
      'const B = class { get v() { return this.x; } };',
      'class C { n = () => this; }',
    ],
  },
  {
    rule: 'no-global-assignment',
    levels: ALL,
    bad: [
      'callTool = null;',
      'input = 5;',
      'input++;',
      'Math = 1;',
      '[callTool] = [1];',
      'let x; ({ a: x, b: input } = { a: 1, b: 2 });',
      'for (input of [1]) {}',
      'Math.max = () => 0;',
      'JSON.parse.x = 1;',
      'delete JSON.parse;',
      'callTool.x = 1;',
      'Object.keys ||= null;',
    ],
    good: [
      'let input2 = input; input2 = 3;',
      'const x = {}; x.a = 1;',
      'input.a = 1;',
      '{ let Math = 1; Math = 2; }',
      'const f = (JSON) => { JSON = 1; return JSON; };',
    ],
  },
  {
    rule: 'no-redeclare-provided',
    levels: ALL,
    bad: ['async function callTool(name, args) { return null; }', 'const f = (callTool) => callTool;', 'const { callTool } = { callTool: 1 };', 'try {} catch (callTool) {}'],
    good: [
      'const data = { ...input };',
      'const o = { callTool: 1, input: 2 }; o.input;',
      'const inputs = [];',
      // A script that does not know about `input` brings its own: the declaration shadows the provided one.
      'const input = { a: 1 }; input.a;',
      'const { input } = { input: 1 };',
      'const f = (input) => input + 1;',
      'try {} catch (input) {}',
      'const console = { log: () => 1 }; console.log(1);',
      'const f = (console) => console.log(1);',
    ],
  },
  {
    rule: 'no-global-assignment',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: ['console = {};', 'console.log = null;'],
    good: ['const c = console; console.log(c === console);'],
  },
  {
    rule: 'no-meta-programming',
    levels: ALL,
    bad: [
      "Object.defineProperty(input, 'x', { value: 1 });",
      'Object.defineProperties(input, {});',
      'Object.getPrototypeOf(input);',
      'Object.setPrototypeOf(input, null);',
      "Object['setPrototypeOf'](input, null);",
      "Object.getOwnPropertyDescriptor(input, 'x');",
      'Object.getOwnPropertyDescriptors(input);',
      'Object.create(null, { x: { value: 1 } });',
      'const args = [null]; Object.create(...args);',
      'const c = Object.create;',
      'const { defineProperty } = Object;',
      'let gp; ({ getPrototypeOf: gp } = Object);',
      'Object?.getPrototypeOf(input);',
    ],
    good: [
      'Object.create(null);',
      'Object.keys(input); Object.entries(input); Object.freeze({});',
      'const x = { defineProperty: 1 }; x.defineProperty;',
      '{ const Object = { defineProperty: () => 1 }; Object.defineProperty(); }',
      'const { keys } = Object;',
    ],
  },
  {
    rule: 'no-meta-programming',
    levels: ['STRICT', 'SECURE', 'STANDARD'],
    bad: ['Reflect.ownKeys(input);', 'const R = Reflect;', "Reflect['apply'](Math.max, null, [1]);"],
    good: ['const Reflect = { ownKeys: () => [] }; Reflect.ownKeys(input);'],
  },
  {
    rule: 'no-meta-programming',
    levels: ['PERMISSIVE'],
    bad: ['Object.getPrototypeOf(input);'],
    good: ['Reflect.ownKeys(input);', 'const R = Reflect; R.has(input, "a");'],
  },
  {
    rule: 'no-decorator',
    levels: ALL,
    bad: ['const dec = (c) => c; @dec class A {}', 'const d = () => () => 1; class B { @d() m() {} }'],
    good: ['const at = "@dec";'],
  },
  {
    rule: 'no-infinite-loop',
    levels: ALL,
    bad: [
      'for (;;) {}',
      'for (; true; ) { input.n; }',
      'let i = 0; for (;;) { i++; }',
      'for (;;) { const f = () => { return 1; }; f(); }',
      "for (;;) { switch (input.x) { case 1: break; default: } }",
      'for (;;) { for (const a of [1]) { break; } }',
      'for (;;) { a: { break a; } }',
      'for (;;) { for (const a of [1]) { continue; } }',
      'for (; !0; ) {}',
      "for (; 'yes'; ) {}",
      'for (; {}; ) {}',
    ],
    good: [
      'for (;;) { if (input.done) break; }',
      'for (;;) { if (input.done) return 1; }',
      "for (;;) { throw new Error('x'); }",
      'for (let i = 0; i < 3; i++) {}',
      'for (; input.more; ) {}',
      'for (; false; ) {}',
      'for (; !1; ) {}',
      "for (; ''; ) {}",
      'for (;;) { try { return await callTool("a", {}); } catch { continue; } }',
    ],
  },
  {
    rule: 'no-infinite-loop',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [
      'while (true) {}',
      'do {} while (1);',
      'while (!0) { input.x; }',
      'outer: while (true) { for (;;) { continue outer; } }',
      'while (true) { const f = () => { throw 1; }; }',
    ],
    good: [
      'while (true) { if (input.x) break; }',
      'outer: while (true) { for (const a of [1]) { break outer; } }',
      'outer: for (;;) { for (;;) { break outer; } }',
      'while (input.x) {}',
      'do { input.n--; } while (input.n > 0);',
      "let page = 0; while (true) { const r = await callTool('list', { page }); if (!r.next) break; page++; }",
    ],
  },
  {
    rule: 'static-tool-name',
    levels: ALL,
    bad: [
      'const f = callTool;',
      "[1].map(callTool);",
      "callTool.call(null, 'x', {});",
      "const o = { callTool };",
    ],
    good: ["await callTool('users:list', {});", "const r = await callTool('x', { a: 1 });", "callTool(`x`);"],
  },
  {
    rule: 'static-tool-name',
    levels: ['STRICT', 'SECURE'],
    bad: ["const name = 'a'; callTool(name, {});", 'callTool(`a${input.x}`);', 'callTool();', "callTool(...['a']);"],
    good: ["callTool('a', {});", 'callTool(`a`, {});'],
  },
  {
    rule: 'static-tool-name',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: ['const t = callTool;'],
    good: ["const name = 'a'; await callTool(name, {});", 'for (const t of input.tools) await callTool(t.name, t.args);'],
  },
  {
    rule: 'no-while',
    levels: ['STRICT', 'SECURE'],
    bad: ['let i = 0; while (i < 3) { i++; }', 'let i = 0; do { i++; } while (i < 3);'],
    good: ['for (let i = 0; i < 3; i++) {}', 'const whileX = 1;'],
  },
  {
    rule: 'no-while',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['let i = 0; while (i < 3) { i++; }', 'let i = 0; do { i++; } while (i < 3);'],
  },
  {
    rule: 'no-for-in',
    levels: ['STRICT', 'SECURE'],
    bad: ['for (const k in input) {}'],
    good: ['for (const k of Object.keys(input)) {}'],
  },
  {
    rule: 'no-for-in',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['for (const k in input) {}'],
  },
  {
    rule: 'no-function-declaration',
    levels: ['STRICT', 'SECURE'],
    bad: ['function f() {}', '{ function g() {} }'],
    good: ['const f = () => 1;'],
  },
  {
    rule: 'no-function-declaration',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['function f() { return 1; } f();', 'async function g() { return 1; }'],
  },
  {
    rule: 'no-function-expression',
    levels: ['STRICT', 'SECURE'],
    bad: ['const f = function () {};', 'const g = function named() {};', 'const o = { m() {} };', "const o = { ['k']() {} };", '[1].map(function (x) { return x; });'],
    good: ['const f = () => 1;', 'const o = { m: () => 1 };', 'const o = { get a() { return 1; } };', 'class A { m() {} }'],
  },
  {
    rule: 'no-function-expression',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['const f = function () {};', 'const o = { m() {} };', 'class A { m() {} }'],
  },
  {
    rule: 'no-async-function',
    levels: ['STRICT', 'SECURE'],
    bad: ['const f = async () => 1;', 'async function g() {}', 'const h = async (x) => { await x; };'],
    good: ['const r = await callTool("a", {});', 'const f = () => 1;'],
  },
  {
    rule: 'no-async-function',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['const f = async () => 1;', 'async function g() {}'],
  },
  {
    rule: 'no-generator',
    levels: ['STRICT', 'SECURE', 'STANDARD'],
    bad: ['function* g() { yield 1; }'],
    good: ['const yielded = 1;'],
  },
  {
    rule: 'no-generator',
    levels: ['PERMISSIVE'],
    bad: [],
    good: ['function* g() { yield 1; yield* [2]; }', 'const o = { *m() { yield 1; } };'],
  },
  {
    rule: 'no-class',
    levels: ['STRICT', 'SECURE', 'STANDARD'],
    bad: ['class A {}', 'const B = class {};', 'const C = class Named extends Array {};'],
    good: ['const klass = { class: 1 };'],
  },
  {
    rule: 'no-class',
    levels: ['PERMISSIVE'],
    bad: [],
    good: ['class A { constructor(x) { this.x = x; } } new A(1);'],
  },
  {
    rule: 'no-accessor',
    levels: ['STRICT', 'SECURE', 'STANDARD'],
    bad: ['const o = { get a() { return 1; } };', 'const o = { set a(v) {} };', 'class A { get x() { return 1; } }', 'class A { accessor x = 1; }'],
    good: ['const o = { get: 1, set: 2 }; o.get;', 'const m = new Map(); m.get("a");'],
  },
  {
    rule: 'no-accessor',
    levels: ['PERMISSIVE'],
    bad: [],
    good: ['const o = { get a() { return 1; }, set a(v) {} };', 'class A { get x() { return 1; } }'],
  },
  {
    rule: 'no-regex',
    levels: ['STRICT', 'SECURE'],
    bad: ["/a+/.test('aa');", "'a-b'.split(/-/);"],
    good: ["'a-b'.split('-');"],
  },
  {
    rule: 'no-regex',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ["/a+/.test('aa');"],
  },
  {
    rule: 'no-unsafe-regex',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: ["/(a+)+$/.test(input.s);", "new RegExp('(\\\\w+\\\\s?)*$');", "const r = RegExp('(a|a)*b', 'i');"],
    good: ["/^\\d{3}-\\d{4}$/.test(input.s);", "new RegExp('^[a-z]+$');", 'new RegExp(input.pattern);', "const RegExp = (p) => p; RegExp('(a+)+');"],
  },
  {
    rule: 'no-throw',
    levels: ['STRICT'],
    bad: ["throw 'x';", 'if (input.bad) { throw input.bad; }'],
    good: ["return { error: 'x' };"],
  },
  {
    rule: 'no-throw',
    levels: ['SECURE', 'STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ["throw 'x';"],
  },
  {
    rule: 'no-label',
    levels: ['STRICT', 'SECURE'],
    bad: ['outer: for (const a of [1]) { break outer; }'],
    good: ['const label = 1;'],
  },
  {
    rule: 'no-label',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['outer: for (const a of [1]) { for (const b of [2]) { continue outer; } }'],
  },
  {
    rule: 'no-bigint',
    levels: ['STRICT', 'SECURE'],
    bad: ['const n = 10n;', 'const m = 0x1fn;'],
    good: ['const n = 10;'],
  },
  {
    rule: 'no-bigint',
    levels: ['STANDARD', 'PERMISSIVE'],
    bad: [],
    good: ['const n = 10n * 2n;'],
  },
  {
    rule: 'unknown-global',
    levels: ALL,
    bad: ['foo();', 'undeclared = 1;', 'typeof someGlobal.x;', 'const a = b;', '{ let inner = 1; } inner;', 'Mth.max(1, 2);'],
    good: [
      'const a = 1; a;',
      'Math.max(1); JSON.stringify({}); undefined; NaN; Infinity;',
      'input.x; callTool;'.replace('callTool;', ''),
      // `typeof` asks whether a name exists; it is not a reference that can fail.
      'typeof someGlobal;',
      "const ok = typeof maybeDefined === 'undefined' ? 'none' : 'some';",
    ],
  },
];

describe('rules: positive and negative cases', () => {
  for (const c of CASES) {
    for (const level of c.levels) {
      for (const code of c.bad) {
        it(`${c.rule} reports at ${level}: ${code}`, () => {
          const issues = issuesOf(c.rule, code, level);
          expect(issues.length, JSON.stringify(validate(code, level), null, 1)).toBeGreaterThan(0);
          for (const i of issues) {
            expect(i.message.length).toBeGreaterThan(0);
            expect(i.hint?.length ?? 0).toBeGreaterThan(0);
          }
        });
      }
      for (const code of c.good) {
        it(`${c.rule} allows at ${level}: ${code}`, () => {
          expect(issuesOf(c.rule, code, level)).toEqual([]);
        });
      }
    }
  }
});

describe('rule registry', () => {
  it('has unique kebab-case ids, one per rule file', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  it('every rule id in the registry is exercised by a test case', () => {
    const tested = new Set(CASES.map((c) => c.rule));
    tested.add('no-import-meta');
    for (const r of RULES) expect(tested.has(r.id), r.id).toBe(true);
  });
});

describe('no-import-meta', () => {
  // Script-mode parsing already rejects `import.meta`; the rule still guards the tree on its own.
  it('reports import.meta in a tree that contains it', () => {
    const parsed = parseAsModule('const u = import.meta.url;');
    const issues = validateAst(parsed, { dialect: LEVEL_CONFIGS.PERMISSIVE.dialect, extraGlobals: [] });
    expect(issues.map((i) => i.ruleId)).toEqual(['no-import-meta']);
    expect(issues[0]).toMatchObject({ line: 1, column: 11, endLine: 1, endColumn: 22 });
  });
  it('does not report new.target as import.meta', () => {
    expect(issuesOf('no-import-meta', 'function f() { return new.target; }')).toEqual([]);
  });
});

describe('locations', () => {
  it('points into the user source, line 1 being the first line written', () => {
    const code = ['const a = 1;', "const b = eval('2');", '  while (true) {', '  }'].join('\n');
    const issues = validate(code, 'STRICT');
    expect(issues).toEqual([
      expect.objectContaining({ ruleId: 'no-eval', line: 2, column: 11, endLine: 2, endColumn: 15 }),
      expect.objectContaining({ ruleId: 'no-infinite-loop', line: 3, column: 3, endLine: 4, endColumn: 4 }),
      expect.objectContaining({ ruleId: 'no-while', line: 3, column: 3, endLine: 4, endColumn: 4 }),
    ]);
  });

  it('locates an issue on the very first character', () => {
    expect(validate('process')[0]).toMatchObject({ ruleId: 'no-blocked-identifier', line: 1, column: 1, endLine: 1, endColumn: 8 });
  });

  it('counts columns in UTF-16 units after non-ASCII text', () => {
    const code = "const s = '😀é'; foo();";
    const [issue] = validate(code);
    expect(issue).toMatchObject({ ruleId: 'unknown-global', line: 1, column: code.indexOf('foo') + 1 });
  });

  it('handles CRLF line endings', () => {
    const code = 'const a = 1;\r\nconst b = 2;\r\n  undefinedThing;';
    expect(validate(code)[0]).toMatchObject({ line: 3, column: 3, endLine: 3, endColumn: 17 });
  });

  it('locates destructuring and object-key violations at the property', () => {
    const code = 'const {\n  a,\n  constructor: c,\n} = input;';
    expect(issuesOf('no-blocked-property', code)[0]).toMatchObject({ line: 3, column: 3, endLine: 3, endColumn: 17 });
  });

  it('locates a non-literal tool name at the argument', () => {
    const code = "const n = 'x';\nawait callTool(\n  n,\n  {},\n);";
    expect(issuesOf('static-tool-name', code, 'STRICT')[0]).toMatchObject({ line: 3, column: 3, endLine: 3, endColumn: 4 });
  });
});

describe('messages and hints', () => {
  it('names the offending thing and gives an actionable hint', () => {
    const [w] = validate('let i = 0;\nwhile (i < 3) i++;', 'STRICT');
    expect(w).toMatchObject({ ruleId: 'no-while', line: 2, column: 1 });
    expect(w?.hint).toContain('for (let i = 0; i < items.length; i++)');
    expect(validate("input['con' + 'structor'];")[0]?.message).toContain('`constructor`');
    expect(validate('process.exit(1);')[0]?.message).toContain('`process`');
    expect(validate('const f = () => 1; const g = function named() {};', 'SECURE')[0]?.message).toContain('`named`');
    expect(validate('setTimeout(() => 1, 5);')[0]?.hint).toContain('Timers');
  });

  it('shortens very long names in messages', () => {
    const long = `x${'a'.repeat(5000)}`;
    const [issue] = validate(`${long};`);
    expect(issue?.ruleId).toBe('unknown-global');
    expect(issue?.message.length).toBeLessThan(200);
  });

  it('returns nothing for a tree without statements (syntax errors are the caller\'s)', () => {
    const parsed = parseAgentScript('const = ;');
    expect(parsed.syntaxErrors.length).toBeGreaterThan(0);
    expect(validateAst(parsed, { dialect: LEVEL_CONFIGS.STRICT.dialect, extraGlobals: [] })).toEqual([]);
  });
});

describe('multiple violations', () => {
  it('reports every violation, sorted by position', () => {
    const code = [
      'const env = process.env;',
      'const x = input.constructor;',
      "eval('1');",
      'with (input) {}',
      'debugger;',
      'undefinedFn();',
      'const y = this;',
    ].join('\n');
    const issues = validate(code);
    expect(issues.map((i) => [i.ruleId, i.line])).toEqual([
      ['no-blocked-identifier', 1],
      ['no-blocked-property', 2],
      ['no-eval', 3],
      ['no-with', 4],
      ['no-debugger', 5],
      ['unknown-global', 6],
      ['no-this', 7],
    ]);
  });

  it('reports each occurrence of the same violation', () => {
    expect(ruleIds("eval('a'); eval('b'); eval('c');")).toEqual(['no-eval', 'no-eval', 'no-eval']);
  });

  it('reports independent rules on the same node', () => {
    expect(ruleIds('while (true) {}', 'STRICT').sort()).toEqual(['no-infinite-loop', 'no-while']);
  });

  it(`caps the list at ${MAX_ISSUES}, keeping the first by position`, () => {
    const code = Array.from({ length: 250 }, (_, i) => `eval(${i});`).join('\n');
    const issues = validate(code);
    expect(issues).toHaveLength(MAX_ISSUES);
    expect(issues.map((i) => i.line)).toEqual(Array.from({ length: MAX_ISSUES }, (_, i) => i + 1));
  });

  it('keeps source order across rules when capping', () => {
    // Nested violations make the walk order differ from source order; the result must not.
    const lines = Array.from({ length: 150 }, (_, i) => (i % 2 === 0 ? `x${i} = [eval, process];` : `debugger;`));
    const issues = validate(lines.join('\n'));
    expect(issues).toHaveLength(MAX_ISSUES);
    for (let i = 1; i < issues.length; i++) {
      const a = issues[i - 1] as Issue;
      const b = issues[i] as Issue;
      expect(a.line < b.line || (a.line === b.line && a.column <= b.column)).toBe(true);
    }
  });
});

describe('unknown-global: scope analysis', () => {
  const unknown = (code: string, level: SecurityLevel = 'PERMISSIVE'): string[] =>
    issuesOf('unknown-global', code, level).map((i) => i.message.match(/`([^`]+)`/)?.[1] ?? '?');

  it('resolves declarations before and after use in the same scope', () => {
    expect(unknown('const a = 1; a;')).toEqual([]);
    expect(unknown('helper(); function helper() { return 1; }')).toEqual([]);
    expect(unknown('x = 1; var x;')).toEqual([]);
    expect(unknown('{ var v = 1; } v;')).toEqual([]);
  });

  it('block-scopes let, const and class, and does not leak them', () => {
    expect(unknown('{ let a = 1; } a;')).toEqual(['a']);
    expect(unknown('{ const b = 1; } b;')).toEqual(['b']);
    expect(unknown('{ class C {} } C;')).toEqual(['C']);
    expect(unknown('if (input) { const d = 1; d; } else { d; }')).toEqual(['d']);
  });

  it('scopes loop heads: let to the loop, var to the function', () => {
    expect(unknown('for (let i = 0; i < 1; i++) { i; } i;')).toEqual(['i']);
    expect(unknown('for (var j = 0; j < 1; j++) {} j;')).toEqual([]);
    expect(unknown('for (const k of [1]) { k; } k;')).toEqual(['k']);
    expect(unknown('for (const { a, b: [c] } of []) { a + c; }')).toEqual([]);
  });

  it('does not hoist var or functions out of nested functions', () => {
    expect(unknown('function f() { var z = 1; } z;')).toEqual(['z']);
    expect(unknown('const f = () => { var w = 1; }; w;')).toEqual(['w']);
    expect(unknown('function outer() { inner(); function inner() {} } inner;')).toEqual(['inner']);
  });

  it('treats block-level function declarations as block-scoped', () => {
    expect(unknown('{ function h() {} h(); } h();')).toEqual(['h']);
  });

  it('handles shadowing: inner declarations hide outer ones only inside', () => {
    expect(unknown('const a = 1; { const a = 2; a; } a;')).toEqual([]);
    expect(unknown('const f = (input2) => input2; input2;')).toEqual(['input2']);
    expect(unknown('{ let x = 1; { x; { let x = 2; } x; } } x;')).toEqual(['x']);
  });

  it('sees enclosing variables from closures', () => {
    expect(unknown('const make = () => { const c = 1; return () => () => c; };')).toEqual([]);
    expect(unknown('function outer(p) { return [1].map((x) => x + p + later); } const later = 1;')).toEqual([]);
  });

  it('binds destructured and default parameters', () => {
    expect(unknown('const f = ({ a, b: [c], ...rest }, [d = a] = [], e = d) => a + c + d + e + rest;')).toEqual([]);
    expect(unknown('const f = ({ a = missing }) => a;')).toEqual(['missing']);
    expect(unknown('function g(...args) { return args; }')).toEqual([]);
  });

  it('binds catch parameters, including destructured ones, inside the handler only', () => {
    expect(unknown('try {} catch (e) { e; }')).toEqual([]);
    expect(unknown('try {} catch ({ message, code: [c] }) { message + c; }')).toEqual([]);
    expect(unknown('try {} catch (e) {} e;')).toEqual(['e']);
    expect(unknown('try {} catch {}')).toEqual([]);
  });

  it('binds function and class expression names inside themselves only', () => {
    expect(unknown('const f = function g() { return g; }; g;')).toEqual(['g']);
    expect(unknown('const C = class K { m() { return K; } }; K;')).toEqual(['K']);
  });

  it('scopes switch-case declarations to the case block, which excludes the discriminant', () => {
    expect(unknown('switch (input.x) { case 1: const a = 1; break; case 2: a; } a;')).toEqual(['a']);
    expect(unknown('switch (b) { case b: let b = 1; }')).toEqual(['b']);
    expect(unknown('switch (1) { default: }')).toEqual([]);
  });

  it('keeps a function body\'s var out of its parameter defaults', () => {
    expect(unknown('function f(a = v) { var v = 1; return a + v; }')).toEqual(['v']);
    expect(unknown('const g = (a = 1) => { var w = a; return w; };')).toEqual([]);
  });

  it('scopes var in class static blocks to the block', () => {
    expect(unknown('class A { static { var s = 1; s; } } s;')).toEqual(['s']);
  });

  it('does not treat property names, keys, labels or methods as references', () => {
    expect(unknown('const o = { foo: 1, bar() {} }; o.baz; o?.qux;')).toEqual([]);
    expect(unknown('loop: for (const x of [1]) { continue loop; }')).toEqual([]);
    expect(unknown('class A { field = 1; #priv = 2; method() { return this.#priv; } }')).toEqual([]);
    expect(unknown('const { a: renamed } = input; renamed;')).toEqual([]);
  });

  it('reports references in computed keys and default values', () => {
    expect(unknown('const o = { [k1]: 1 }; o[k2]; const { [k3]: v = k4 } = o;')).toEqual(['k1', 'k2', 'k3', 'k4']);
  });

  it('reports writes to undeclared names, including in patterns and loop heads', () => {
    expect(unknown('u1 = 1; [u2] = [1]; ({ a: u3 } = {}); for (u4 of []) {} u5++;')).toEqual(['u1', 'u2', 'u3', 'u4', 'u5']);
  });

  it('accepts dialect globals and per-run extra globals only', () => {
    expect(ruleIds('Math.max(1); myData.items;', 'STRICT', ['callTool', 'input', 'myData'])).toEqual([]);
    expect(ruleIds('myData.items;', 'STRICT', ['callTool', 'input'])).toEqual(['unknown-global']);
    expect(ruleIds("console.log('x');", 'STRICT')).toEqual(['unknown-global']);
    expect(ruleIds('new Map();', 'STRICT')).toEqual(['unknown-global']);
    expect(ruleIds('new Map();', 'STANDARD')).toEqual([]);
  });

  it('does not double-report names other rules own', () => {
    expect(ruleIds('process;')).toEqual(['no-blocked-identifier']);
    expect(ruleIds('__ekX;')).toEqual(['no-reserved-prefix']);
    expect(ruleIds('Reflect.ownKeys({});')).toEqual(['no-meta-programming']);
  });

  it('suggests close allowed names and local names', () => {
    expect(validate('Mth.max(1);')[0]?.hint).toContain('`Math`');
    expect(validate('json.stringify({});')[0]?.hint).toContain('`JSON`');
    expect(validate('const results = []; reslts.push(1);')[0]?.hint).toContain('`results`');
    expect(validate('await calTool("a", {});')[0]?.hint).toContain('`callTool`');
    const far = validate('zzzzqqq;')[0]?.hint ?? '';
    expect(far).toContain('`callTool`');
    expect(far).toContain('`input`');
  });

  it('says a global of another level is not available here, and names the levels that have it', () => {
    const [log] = validate("console.log('x');", 'STRICT');
    expect(log?.hint).toBe(
      '`console` is not available at this security level (only at STANDARD and PERMISSIVE). Return what you want to report as ' +
        'part of the result instead. Available globals include `callTool`, `input`, `Math`, `JSON`, `Array`, `Object`, `String`, `Number`.',
    );
    expect(validate("parseInt('1');", 'STRICT')[0]?.hint).toContain('(only at SECURE, STANDARD and PERMISSIVE)');
    expect(validate('new Proxy({}, {});', 'STANDARD')[0]?.hint).toContain('(only at PERMISSIVE)');
    // Without this, `Map` at STRICT was a typo of `Math`.
    expect(validate('new Map();', 'STRICT')[0]?.hint).toContain('`Map` is not available at this security level');
  });

  it('never suggests declaring a name that some level, or the platform, has as a global', () => {
    const everyLevelGlobal = new Set(SECURITY_LEVELS.flatMap((level) => LEVEL_CONFIGS[level].dialect.globals));
    for (const level of SECURITY_LEVELS) {
      for (const name of [...everyLevelGlobal, 'URL', 'TextEncoder', 'Uint8Array', 'performance', 'clearTimeout']) {
        if (name === 'Reflect' || name === 'undefined' || name === 'NaN' || name === 'Infinity') continue; // not plain reads
        const issue = issuesOf('unknown-global', `${name}.x;`, level)[0];
        if (LEVEL_CONFIGS[level].dialect.globals.includes(name)) expect(issue, `${name} at ${level}`).toBeUndefined();
        else expect(issue?.hint, `${name} at ${level}`).toMatch(/^`\w+` is not available (at this security level|to scripts at any security level)/);
      }
    }
    // Every global of the Node running this, and other platforms' usual ones, likewise.
    const platform = [...Object.getOwnPropertyNames(globalThis), 'Deno', 'Bun', 'alert', 'window', 'XMLHttpRequest'].filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
    for (const level of SECURITY_LEVELS) {
      for (const name of platform) {
        const issue = issuesOf('unknown-global', `${name}.x;`, level)[0];
        if (issue !== undefined) expect(issue.hint, `${name} at ${level}`).not.toMatch(/declare it/i);
      }
    }
    // Names that are nobody's global still get the suggestion.
    expect(validate('total += 1;', 'STRICT')[0]?.hint).toMatch(/^Declare it first with `const` or `let`/);
  });
});

describe('robustness', () => {
  it('handles nesting 100+ levels deep of every common kind', () => {
    const depth = 150;
    const arrays = `const a = ${'['.repeat(depth)}1${']'.repeat(depth)};`;
    const blocks = `${'{ '.repeat(depth)}foo;${' }'.repeat(depth)}`;
    const arrows = `const f = ${'() => '.repeat(depth)}1;`;
    const ifs = `${'if (input.x) { '.repeat(depth)}eval(1);${' }'.repeat(depth)}`;
    const calls = `${'Math.max('.repeat(depth)}1${')'.repeat(depth)};`;
    const objects = `const o = ${'{ a: '.repeat(depth)}1${' }'.repeat(depth)};`;
    const patterns = `const ${'{ a: '.repeat(depth)}leaf${' }'.repeat(depth)} = input; leaf;`;
    expect(ruleIds(arrays)).toEqual([]);
    expect(ruleIds(blocks)).toEqual(['unknown-global']);
    expect(ruleIds(arrows)).toEqual([]);
    expect(ruleIds(ifs)).toEqual(['no-eval']);
    expect(ruleIds(calls)).toEqual([]);
    expect(ruleIds(objects)).toEqual([]);
    expect(ruleIds(patterns)).toEqual([]);
  });

  it('handles very long chains without recursion', () => {
    const n = 5000;
    const concat = `input[${Array.from({ length: n }, () => "'a'").join(' + ')}];`;
    expect(ruleIds(concat)).toEqual([]);
    const blockedConcat = `input[${Array.from({ length: 8 }, () => "''").join(' + ')} + 'constructor'];`;
    expect(ruleIds(blockedConcat)).toEqual(['no-blocked-property']);
    const members = `input${'.a'.repeat(n)}.constructor;`;
    expect(ruleIds(members)).toEqual(['no-blocked-property']);
    const nots = `for (; ${'!'.repeat(n)}0; ) {}`;
    expect(ruleIds(nots)).toEqual([]);
    const sum = `const s = ${Array.from({ length: n }, (_, i) => `v${i % 10}`).join(' + ')};`;
    expect(ruleIds(sum).length).toBeGreaterThan(0);
  });

  it('handles many declarations and references', () => {
    const decls = Array.from({ length: 3000 }, (_, i) => `const v${i} = ${i};`).join('\n');
    const uses = Array.from({ length: 3000 }, (_, i) => `v${i};`).join('\n');
    expect(ruleIds(`${decls}\n${uses}`)).toEqual([]);
  });

  const CORPUS = [
    '',
    ';',
    '// only a comment',
    "'use strict'; return 1;",
    'return;',
    'const [a, , b = 2, ...c] = [1, 2, 3]; const { d, e: { f } = {}, ...g } = {};',
    'let x = 1; x ??= 2; x ||= 3; x &&= 4; x **= 2; x >>>= 1;',
    'const t = `a${1}b${`c${2}`}`; const tag = String.raw`x${t}`;',
    'const o = { a, b: 1, [`k`]: 2, ...{}, "s": 3, 4: 5 }; var a;',
    'label: { break label; }',
    'switch (1) { case 1: { let q = 1; } default: break; }',
    'try { throw new Error("x"); } catch { } finally { }',
    'const r = /[a-z]+/giu; const big = 12n ** 3n;',
    'for await (const v of [Promise.resolve(1)]) { v; }',
    'const f = async ({ a = 1 } = {}, ...rest) => ({ a, rest });',
    'class A extends Object { #p = 1; static s = 2; static { } get g() { return this.#p; } set g(v) { this.#p = v; } static async *gen() { yield 1; } #m() { return #p in this; } }',
    'const C = class { constructor() { super.constructor; } };',
    'function* g() { const x = yield; yield* g(); }',
    'async function h() { for await (const x of []) {} await null; }',
    'const n = new.target; const m = new Map([[1, 2]]); m?.get?.(1)?.[0];',
    'delete input.a; void 0; typeof input; -1; +1; ~1; !1;',
    'const seq = (1, 2, 3); const cond = seq ? 1 : 2;',
    'if (1) ; else if (2) ; else {}',
    'do ; while (0);',
    'with ({}) {}',
    'debugger;',
    "await import('x');",
    'using u1 = null; await using u2 = null;',
    'const e = 0b101 + 0o17 + 0xff + 1_000 + .5 + 1e3;',
    'a: b: c: for (;;) { continue a; }',
    '(() => {})(); (function () {})(); new (class {})();',
    'const { [`x`]: y } = {}; [y] = [1]; ({ y } = { y: 2 });',
    'const weird = { __proto__: null, "__proto__": 1 };',
    'x: function f() {}',
    'if (input) function g() {}',
    'const fn = function* () {}; const afn = async function () {}; const agen = async function* () {};',
    '@((x) => x) class D {}',
  ];

  it('never throws and never fails internally on any construct, at any level', () => {
    for (const code of CORPUS) {
      const parsed = parseAgentScript(code);
      expect(parsed.syntaxErrors, code).toEqual([]);
      for (const level of SECURITY_LEVELS) {
        const issues = validateAst(parsed, { dialect: LEVEL_CONFIGS[level].dialect, extraGlobals: ['callTool', 'input'] });
        expect(issues.filter((i) => i.ruleId === 'validator-error'), code).toEqual([]);
        for (const i of issues) {
          expect(i.line).toBeGreaterThanOrEqual(1);
          expect(i.column).toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('does not modify the cached parse tree', () => {
    const code = 'const { a = b } = input; while (true) { eval(a); }';
    const parsed = parseAgentScript(code);
    const before = JSON.stringify(parsed.body, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    validate(code, 'STRICT');
    validate(code, 'PERMISSIVE');
    expect(JSON.stringify(parsed.body, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).toBe(before);
  });

  it('gives the same answer on repeated runs (no state leaks between runs)', () => {
    const code = 'foo(); { let a; } a; while (true) {}';
    expect(validate(code, 'STRICT')).toEqual(validate(code, 'STRICT'));
  });

  it('survives hand-made trees with unexpected shapes', () => {
    const parsed = parseAgentScript('1;');
    const odd: ParsedSource = {
      ...parsed,
      body: [
        { type: 'ExpressionStatement', start: 0, end: 0, expression: null },
        { type: 'Identifier', start: 0, end: 0 },
        { type: 'MemberExpression', start: 0, end: 0, object: null, property: 7, computed: true },
        { type: 'FunctionDeclaration', start: 0, end: 0, params: 'x', id: { type: 'Literal', start: 0, end: 0 } },
        { type: 'ObjectPattern', start: 0, end: 0, properties: [null, { type: 'Property', start: 0, end: 0 }] },
      ],
    };
    expect(() => validateAst(odd, { dialect: LEVEL_CONFIGS.STRICT.dialect, extraGlobals: [] })).not.toThrow();
  });
});
