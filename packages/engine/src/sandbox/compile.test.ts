/**
 * `checkSyntax` only pre-parses a rewritten script, where a run compiles it eagerly: the two must agree
 * on every early error, message included, wherever the error sits (the body itself, or a function in it,
 * which V8 pre-parses in both forms).
 */
import { describe, expect, it } from 'vitest';
import { prepareAgentScript } from '../pipeline.js';
import { checkSyntax, compileScript } from './compile.js';

/** Early errors V8 reports (and a few it does not), most of which oxc reports too. */
const EARLY_ERRORS = [
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

/** A run's rewritten text with `body` as the user's code: the header and footer the rewriter writes around line 1. */
function rewrittenAround(body: string): string {
  const r = prepareAgentScript('0', { validate: false, transform: false });
  if (!r.ok) throw new Error('the template script was refused');
  const { source } = r.compiled;
  return `${source.slice(0, source.indexOf('\n'))}\n${body}\n${source.slice(source.lastIndexOf('\n') + 1)}`;
}

function errorOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('checkSyntax', () => {
  it('refuses what a run’s compile refuses, with the same message, and accepts what it accepts', () => {
    let refused = 0;
    let key = 0;
    for (const snippet of EARLY_ERRORS) {
      for (const body of [snippet, `const f = () => { ${snippet} };`, `const g = async () => { ${snippet} };`]) {
        const text = rewrittenAround(body);
        const run = errorOf(() => compileScript(`compile-test-${++key}`, text));
        expect(errorOf(() => checkSyntax(text)), body).toBe(run);
        if (run !== null) refused++;
      }
    }
    // Not a vacuous comparison: most of these are errors, and some are not.
    expect(refused).toBeGreaterThan(EARLY_ERRORS.length * 2);
    expect(refused).toBeLessThan(EARLY_ERRORS.length * 3);
  });
});
