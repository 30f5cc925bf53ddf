/**
 * Scripts with early errors (and a few look-alikes that are not errors), for the tests that hold the
 * check and the run to one verdict: most of them oxc reports, some only V8 does, and which ones V8
 * reports depends on its version (the regular expression features of ES2025 that oxc already knows).
 */
export const EARLY_ERRORS = [
  'let a; let a;', 'const a;', '(a = 1) => { "use strict"; };', 'function f(a, a) {}', 'delete x;', 'var eval = 1;', 'eval = 1;', 'arguments = 1;',
  'x = 010;', "x = '\\01';", "x = '\\8';", 'with (a) {}', 'break;', 'continue;', 'l: l: 1;', 'break nope;', 'super();', 'super.x;', 'var yield;', 'var await;',
  '({ __proto__: 1, __proto__: 2 });', '/(?<a>.)(?<a>.)/;', '/a/gg;', '/(/;', '/\\u{110000}/u;', '/[b-a]/;', '/\\p{Nope}/u;', '/(?<a>.)\\k<b>/;', '/a{2,1}/;',
  '`\\unicode`;', 'class A { constructor(){} constructor(){} }', 'class A extends B { x() { super(); } }', 'class A { m() { this.#x; } }',
  'for (let a of b) { var a; }', 'try {} catch (e) { let e; }', 'let [a, a] = [];', '({a:1} = 1);', '1 = 2;', 'a++ = 1;', 'for (1 of x);',
  'async (a = await 1) => {};', '{ let x; { var x; } }', 'if (1) function f(){}', 'l: function f() {}', 'l\\u0065t x = 1;', 'x?.y = 1;', 'new a?.b();',
  'a?.`t`;', 'a ?? b || c;', '-1 ** 2;', '() => { for await (const x of y); };', '() => { await 1; };', 'function* g() { function yield() {} }', 'let let = 1;',
  'class A { static prototype() {} }', '({ get a(x) {} });', '({ set a() {} });', '[...a, b] = c;', '({...a, b} = c);', 'function f(...a,) {}',
  'class A { x = arguments; }', 'class A { #a; #a; }', 'class A { constructor() { super(); } }', 'a => a => { yield 1 }',
  'async function f() { var await; }', 'function* g() { var yield; }', '(async function await() {});', 'import.meta;', 'export default 1;', 'import x from "y";',
  'new.target;', 'x = { a: 1, a: 2 };', 'l: for(;;) { continue nope; }', 'for (const x in y) { let x; }', 'for (let x = 1, x = 2;;);',
  'var a; let a;', 'let a; var a;', 'function a() {} let a;', 'class A {} class A {}', 'const { a, a } = {};',
  '(a, a) => 1;', 'async (a, a) => 1;', '({ a(b, b) {} });', 'x = 1_;', 'x = 0_1;', 'x = 1__0;', 'x = 08n;', 'x = 1.5n;',
  "x = '\\u{110000}';", "x = '\\x0g';", 'x = a\\u{0}b;', 'async () => { (await) => 1 };', '() => { (yield) => 1 };',
  'for (let of x);', 'for (async of x);', 'x = class { static { await 1; } };', 'x = class { static { return; } };', 'x = class { static { arguments; } };',
  'try {} catch ([a, a]) {}', 'switch (1) { case 1: let a; case 2: let a; }', 'x = /(?<𝒜>.)/u;', 'x = /[\\d-a]/u;', 'x = /{/u;', 'x = /]/u;',
  'x = function () { "use strict"; with (a) {} };', 'x = { get a() { return 1 }, set a(v, w) {} };', 'x = (a) => { let a; };',
  'x = function (a) { let a; };', 'x = async function* () { yield* await; };', 'x = class extends (a, b) {};', 'return 1;', 'return await callTool("t");',
];

/** Regular expressions oxc parses (ES2025) that older V8 versions refuse: only V8 reports these, where it does. */
export const V8_ONLY_REGEX = ['return /(?<a>x)|(?<a>y)/.test("x");', 'return /(?i:a)b/.test("Ab");', 'return "x".replace(/(?<a>x)|(?<a>y)/, "1");', 'return /[\\p{L}--\\p{N}]/v.test("a");'];
