import { describe, expect, it } from 'vitest';
import { parseAgentScript } from '../ast/parse.js';
import { CommentSafeString, EditInComment, transformAgentScript } from './index.js';

const rewrite = (code: string, globals: string[] = []) => {
  const parsed = parseAgentScript(code);
  expect(parsed.syntaxErrors).toEqual([]);
  return transformAgentScript(parsed, globals);
};
const out = (code: string) => rewrite(code).output?.code ?? '';
/** The inline string growth check the rewriter writes around `expr`. */
const grow = (expr: string) => `(typeof (__ek_t = (${expr})) === 'string' && __ek_t.length > 65536 ? __ek_s(__ek_t) : __ek_t)`;
/** The same check where the expression starts a statement: name first, as a sequence. */
/** What a light loop that never suspends is written with (see LOOP_FREE in realm-abi.ts). */
const GRANT_OPEN = '{ let __ek_k = 17, __ek_q = 16, __ek_u; if (__ek_n + 16 > __ek_L) __ek_k = 1, __ek_q = 268435456; try { ';
const GRANT_GUARD = 'if (!--__ek_k) __ek_k = -__ek_q + (__ek_q = __ek_g(__ek_q + 1, __ek_q));';
const GRANT_CLOSE = ' } finally { if (__ek_q === 16) { if ((__ek_n += 17 - __ek_k) > __ek_L) __ek_f(); } else if (__ek_k > 1) __ek_r(__ek_k - 1); } }';
/** The string growth check where `expr` starts a statement; inside a light loop it keeps the value in the loop's own `__ek_u`. */
/** The BigInt growth check the rewriter writes around `expr`. */
const bn = (expr: string) => `(typeof (__ek_t = (${expr})) === 'bigint' ? __ek_bn(__ek_t) : __ek_t)`;
const growStatement = (expr: string, t = '__ek_t') => `${t} = (${expr}), (typeof ${t} === 'string' && ${t}.length > 65536 ? __ek_s(${t}) : ${t})`;

describe('rewriter', () => {
  it('parenthesizes a comma expression it hands to a guard, so the guard gets one argument, the last value', () => {
    // The tree keeps no parentheses: `f(...(a, b))` has the sequence `a, b` as its argument.
    const text = out('const r = [[...(0, x)], { ...(0, y) }, Array((0, n)), o[(0, k)], o[(0, k)](), (({ [(0, k)]: v }) => v)(o)];');
    expect(text).toContain('[...(__ek_sp((0, x), "0, x"))]');
    expect(text).toContain('{ ...(__ek_os((0, y))) }');
    expect(text).toContain('Array((0, n))');
    expect(text).toContain('o[(__ek_m((0, k)))]');
    expect(text).toContain('o[(__ek_mc((0, k), "0, k"))]()');
    expect(text).toContain('[(__ek_m((0, k)))]: v');
  });

  it('checks what *, ** and << make unless a number literal makes the result a number', () => {
    const text = out('const r = [a * b, a ** b, a << b, a * 2, 3 ** b, a << 1, a >> b, a + 1];');
    expect(text).toContain(`[${bn('a * b')}, ${bn('a ** b')}, ${bn('a << b')}, a * 2, 3 ** b, a << 1, a >> b, ${grow('a + 1')}]`);
  });

  it('keeps user line k on output line k + 1 (compiled with lineOffset -1)', () => {
    const code = 'const a = 1;\nfor (const x of [1]) {\n  a;\n}\nreturn a;';
    const lines = out(code).split('\n');
    expect(lines[0]).toMatch(/^__ek_register\(\(function \(__ek_rt, callTool, console, input\)/);
    expect(lines[1]).toBe('const a = 1;');
    expect(lines[5]).toBe('return a;');
    expect(lines[6]).toBe('}); }));');
  });

  it('guards every loop kind, including bodies without braces', () => {
    const code = 'for (;;) break;\nwhile (x) x--;\ndo { x++ } while (x < 3);\nfor (const k in o) {}\nfor (const v of a) f(v);';
    const text = out(code);
    expect(text.match(/if \(!--__ek_k\) __ek_k = -__ek_q \+ \(__ek_q = __ek_g\(__ek_q \+ 1, __ek_q\)\);/g)?.length).toBe(5);
    expect(text).toContain(`${GRANT_OPEN}for (;;) { ${GRANT_GUARD} break; }${GRANT_CLOSE}`);
    expect(text).toContain(`${GRANT_OPEN}do {${GRANT_GUARD} x++ } while (x < 3);${GRANT_CLOSE}`);
  });

  it('gives a light loop that never suspends counters of its own, around its labels', () => {
    const text = out('a: b: for (;;) { for (;;) continue a; }');
    expect(text).toContain(`${GRANT_OPEN}a: b: for (;;) {${GRANT_GUARD} ${GRANT_OPEN}for (;;) { ${GRANT_GUARD} continue a; }${GRANT_CLOSE} }${GRANT_CLOSE}`);
    // A loop that may suspend keeps the shared counter: it must not hold turns charged ahead while it waits.
    expect(out('async function f() { for (;;) { await 1; } }')).toContain('for (;;) {if (++__ek_n > __ek_L) __ek_f(); await 1; }');
    expect(out('async function f() { for (;;) { x(async () => { await 1; }); } }')).toContain(`${GRANT_OPEN}for (;;) {${GRANT_GUARD}`);
    expect(out('async function f() { while (await g()) {} }')).toContain('while (await g()) {if (++__ek_n > __ek_L) __ek_f();}');
    expect(out('async function f() { for await (const x of a) {} }')).toContain('for await (const x of a) {if (++__ek_n > __ek_L) __ek_f();}');
    expect(out('function* f() { for (;;) yield 1; }')).toContain('for (;;) { if (++__ek_n > __ek_L) __ek_f(); yield 1; }');
  });

  it('closes what ends where the next statement starts before opening what that statement starts', () => {
    // No character between a loop's body and the next statement: the loop's closing text comes first.
    const text = out("for(;;)x;s+='a';for(;;){}for(;;){}s");
    expect(text).toContain(`${GRANT_OPEN}for(;;){ ${GRANT_GUARD} x; }${GRANT_CLOSE}${growStatement("s+='a'")};`);
    // Inside a light loop the checks keep their value in the loop's own local; in a function inside it, in the factory's.
    expect(out("for(;;){s+='a';f=()=>{s+='b'}}")).toContain(`{${GRANT_GUARD}${growStatement("s+='a'", '__ek_u')};f=()=>{`);
    expect(out("for(;;){s+='a';f=()=>{s+='b'}}")).toContain(`try {${growStatement("s+='b'")}} finally`);
    expect(text).toContain(`${GRANT_OPEN}for(;;){${GRANT_GUARD}}${GRANT_CLOSE}${GRANT_OPEN}for(;;){${GRANT_GUARD}}${GRANT_CLOSE}return s`);
  });

  it('counts depth in synchronous functions and in the synchronous part of async ones', () => {
    const text = out('function f(a) { return a }\nconst g = async () => 1;\nconst h = x => x * 2;\nasync function k(a) { await a; }');
    expect(text).toContain('function f(a) {if (++__ek_d > __ek_D || ++__ek_n > __ek_L) __ek_f(); try { return a } finally { __ek_d--; }}');
    expect(text).toContain('x => { if (++__ek_d > __ek_D || ++__ek_n > __ek_L) __ek_f(); try { return ( x * 2); } finally { __ek_d--; } }');
    // The async body runs in an inner async arrow, inside the wrapper's depth count; it rethrows after a microtask.
    expect(text).toContain(
      'const g =  () => { if (++__ek_d > __ek_D || ++__ek_n > __ek_L) __ek_f(); try { const __ek_p = (async () => { try { return ( 1); } ' +
        'catch (__ek_x) { await 0; throw __ek_ar(__ek_p, __ek_x); } })(); return __ek_am(__ek_p); } finally { __ek_d--; } };',
    );
    expect(text).toContain(' function k(a) { if (++__ek_d > __ek_D || ++__ek_n > __ek_L) __ek_f(); try { const __ek_p = (async () => { try { await a; } catch');
  });

  it('makes a heavy body force checkpoints by the work it does, not only by its iterations', () => {
    const heavy = out(`const m = new Map(); for (;;) {\n${'m.set(1, 2);\n'.repeat(20)}}`);
    expect(heavy).toContain('for (;;) {if (++__ek_n > __ek_L || (__ek_w += 20) > 262144) { __ek_w = 0; __ek_f(); }');
    // An ordinary body keeps the one-compare guard.
    expect(out('for (;;) { m.set(1, 2); }')).toContain(`for (;;) {${GRANT_GUARD} m.set(1, 2); }`);
  });

  it('makes an async generator rethrow after a microtask too', () => {
    expect(out('async function* g() { yield 1; }')).toContain('async function* g() {try { if (++__ek_n > __ek_L) __ek_f(); yield 1; } catch (__ek_x) { await 0; throw __ek_x; }}');
  });

  it('keeps parenthesised object bodies and newline-started bodies intact', () => {
    const text = out('const f = x => ({ a: x });\nconst g = x =>\n  x + 1;');
    expect(text).toContain('return ( ({ a: x }));');
    expect(text).toContain(`return (\n  ${grow('x + 1')});`);
  });

  it('makes catch and finally blocks rethrow a pending budget error, handing over a plain catch binding', () => {
    const text = out('try { a() } catch (e) { b() } finally { c() }\ntry {} catch ({ message }) {}\ntry {} catch {}');
    expect(text).toContain('catch (e) {__ek_c(e); b() }');
    expect(text).toContain('finally {__ek_c(); c() }');
    expect(text).toContain('catch (__ek_e) { __ek_c(__ek_e); try { throw __ek_e; } catch ({ message }) {__ek_c();} }');
    expect(text).toContain('catch {__ek_c();}');
  });

  it('checks computed keys except number literals, including destructuring keys', () => {
    const text = out('const v = o[k];\nconst w = o[0];\nconst { [k]: z } = o;\no?.[k];');
    expect(text).toContain('o[__ek_m(k)]');
    expect(text).toContain('o[0]');
    expect(text).toContain('{ [__ek_m(k)]: z }');
    expect(text).toContain('o?.[__ek_m(k)]');
  });

  it('remembers the source of keys on a callee path, which V8 quotes when the callee is not a function', () => {
    const text = out('o[k](1);\na[i].b[j + 1]();\nnew C[n]();\nf()[k]();\no?.[k]();\nx[p[q]]();\ntag[t]`s`;');
    expect(text).toContain('o[__ek_mc(k, "k")](1);');
    expect(text).toContain(`a[__ek_mc(i, "i")].b[__ek_mc(${grow('j + 1')}, "j + 1")]();`);
    expect(text).toContain('new C[__ek_mc(n, "n")]();');
    expect(text).toContain('f()[__ek_mc(k, "k")]();');
    expect(text).toContain('o?.[__ek_mc(k, "k")]();');
    // Only the outer key is quoted by V8 (`x[...]`); the inner one is an ordinary read.
    expect(text).toContain('x[__ek_mc(p[__ek_m(q)], "p[q]")]();');
    expect(text).toContain('tag[__ek_mc(t, "t")]`s`;');
  });

  it('checks string growth through +, += and template literals but not number literals', () => {
    const text = out('s = a + b;\ns += t;\nconst u = `${a}x`;\nconst n = 1 + 2;');
    expect(text).toContain(grow('a + b'));
    expect(text).toContain(growStatement('s += t'));
    expect(text).toContain(grow('`${a}x`'));
    expect(text).toContain('const n = 1 + 2;');
  });

  it('sends one in eight operators that may read a whole string through y(), counted per function and loop, whatever `transform` says', () => {
    const eight = 'x |= s == 1; x = -s; x = a < b; x = +s; x = ~s; x = s - 1; x = 1 - 2; x = s ** 2;';
    for (const guards of [true, false]) {
      const text = transformAgentScript(parseAgentScript(`${eight} x = s != t;\nfunction f() { ${eight} }\nswitch (s) { case a: case b: }`), [], { guards }).output?.code ?? '';
      // `1 - 2` does not count; `x |= s == 1` counts twice. The eighth is `s ** 2`, at the top level and in f (its own count).
      expect(text.match(/__ek_y\(\)/g)?.length).toBe(2);
      expect(text).toContain(guards ? 'x = (__ek_y(), ' : 'x = (__ek_y(), s ** 2)');
      expect(text).toContain('x = 1 - 2;');
      expect(text).toContain('x = s != t;');
    }
    // At a statement's start the call comes first, as a sequence that starts with a name; a case's test counts too.
    const text = out(`${'a < b;'.repeat(7)}\ns == t;\nswitch (s) { ${'case a: '.repeat(8)} }`);
    expect(text).toContain('\n__ek_y(), s == t;');
    expect(text).toContain('case (__ek_y(), a):');
  });

  it('counts a branch at its longer path, and a loop on from the code around it (a visit that could make eight calls y() first)', () => {
    const seven = 'x = a < b; '.repeat(7);
    for (const guards of [true, false]) {
      // The eighth in a branch: the next after the branch is an eighth too (the branch may not run).
      const branch = transformAgentScript(parseAgentScript(`${seven}if (c) { x = s == t; }\nx = s < t;`), [], { guards }).output?.code ?? '';
      expect(branch).toContain('x = (__ek_y(), s == t);');
      expect(branch).toContain('x = (__ek_y(), s < t);');
      // Four before a loop of four: its visit calls y() as it starts; one loop of four alone does not.
      const four = 'x = a < b; '.repeat(4);
      const loops = transformAgentScript(parseAgentScript(`${four}for (const k of l) { ${four}break; }`), [], { guards }).output?.code ?? '';
      expect(loops.match(/__ek_u = __ek_y\(\);/g)?.length).toBe(1);
      expect(loops.match(/__ek_y\(\)/g)?.length).toBe(1);
      const alone = transformAgentScript(parseAgentScript(`for (const k of l) { ${four}}`), [], { guards }).output?.code ?? '';
      expect(alone).not.toContain('__ek_y()');
      // After a `break`, the eighth never runs: the count after the case is the most it reached.
      const cases = transformAgentScript(parseAgentScript(`switch (c) { default: ${seven}break; x = s == t; }\nx = s < t;`), [], { guards }).output?.code ?? '';
      expect(cases).toContain('x = (__ek_y(), s < t);');
      const block = transformAgentScript(parseAgentScript(`l: { ${seven}break l; x = s == t; }\nx = s < t;`), [], { guards }).output?.code ?? '';
      expect(block).toContain('x = (__ek_y(), s < t);');
      // A `throw` leaves a `try` block for its `finally` anywhere too.
      const thrown = transformAgentScript(parseAgentScript(`try { ${seven}throw e; x = s == t; } finally { x = s < t; }`), [], { guards }).output?.code ?? '';
      expect(thrown).toContain('x = (__ek_y(), s < t);');
    }
  });

  it('starts a check that begins a statement with a name, so that it never continues the line before it', () => {
    const text = out("let s = 'a'\ns += 'b'\ns * t + d");
    expect(text).toContain(`let s = 'a'\n${growStatement("s += 'b'")}`);
    // The outermost check at that offset takes the name-first form, the one inside it the usual form; the
    // trailing statement's `return` goes before both.
    expect(text).toContain(`return __ek_t = (${bn('s * t')} + d), (typeof __ek_t`);
  });

  it('checks a chain of + once, around its outermost +, and the right side of a += not at all', () => {
    const text = out("s = a + b + c + (d + e);\nt += a + b;\nu = `${a + b}` + c;");
    // A string that an inner + makes is part of the outer one's: charged once, by the outer check.
    expect(text).toContain(`s = ${grow('a + b + c + (d + e)')};`);
    expect(text).toContain(growStatement('t += a + b'));
    // A template literal is no +: what it holds is checked as before.
    expect(text).toContain(`u = ${grow(`${grow(`\`\${${grow('a + b')}}\``)} + c`)};`);
    expect(text.match(/__ek_s\(/g)).toHaveLength(5);
  });

  it("leaves a tagged template's parts to the tag, but still checks expressions inside it", () => {
    const text = out('const t = tag`a${x + y}b`;');
    expect(text).toContain(`tag\`a\${${grow('x + y')}}b\``);
    expect(text).not.toContain('(__ek_t = (`');
  });

  it('bounds array and argument spreads, and object spreads of strings without changing what they copy', () => {
    expect(out('f(...xs); const a = [...ys]; const b = new C(...zs);')).toContain('f(...__ek_sp(xs, "xs")); const a = [...__ek_sp(ys, "ys")]; const b = new C(...__ek_sp(zs, "zs"));');
    expect(out('const o = { ...base, k: 1 };')).toContain('const o = { ...__ek_os(base), k: 1 };');
    // The spread source is named in the error as the user wrote it.
    expect(out('[...data.items]')).toContain('[...__ek_sp(data.items, "data.items")]');
  });

  it('gives every array pattern with a rest element a source that went through sp, wherever it stands', () => {
    // A declaration's initialiser and an assignment's right side, in place.
    expect(out('const [a, ...r] = xs;')).toContain('const [a, ...r] = __ek_sp(xs, "xs");');
    expect(out('[a, ...r] = xs;')).toContain('[a, ...r] = __ek_sp(xs, "");');
    // Inside a larger binding: cut out, destructured by the next declarators.
    expect(out('const { x: [a, ...r], y } = o;')).toContain('const { x: __ek_r1, y } = o, [a, ...r] = __ek_sp(__ek_r1, "");');
    // Nested twice: the inner one after the outer one, with the edits inside each kept.
    expect(out('const { a: [p, { q: [...s] }, ...r] } = o;')).toContain('const { a: __ek_r1 } = o, [p, { q: __ek_r2 }, ...r] = __ek_sp(__ek_r1, ""), [...s] = __ek_sp(__ek_r2, "");');
    // Parameters: at the top of the body, expression bodies included.
    expect(out('function f([a, ...r], b) { return b; }')).toContain('function f(__ek_r1, b) {var [a, ...r] = __ek_sp(__ek_r1, ""); ');
    expect(out('const f = ([a, ...r])=>a+b;')).toMatch(/const f = \(__ek_r1\)=> \{ .* var \[a, \.\.\.r\] = __ek_sp\(__ek_r1, ""\); return \(\(typeof \(__ek_t = \(a\+b\)\)/);
    // for-of: the body inside a block that destructures first; catch: at the top of its block.
    expect(out('for (const [k, ...v] of m) f(v);')).toContain('for (const __ek_r1 of m) { const [k, ...v] = __ek_sp(__ek_r1, ""); ');
    expect(out('try {} catch ([a, ...r]) {}')).toContain('catch (__ek_r1) {let [a, ...r] = __ek_sp(__ek_r1, ""); ');
    // Assignment targets elsewhere: a setter that destructures where the value is assigned.
    expect(out('({ x: [a, ...r] } = o);')).toContain('({ x: __ek_dt((__ek_v) => ([a, ...r] = __ek_sp(__ek_v, ""))).v } = o);');
    expect(out('y = [a, ...r] = o;')).toContain('y = __ek_dt((__ek_v) => ([a, ...r] = __ek_sp(__ek_v, ""))).v = o;');
    // Object patterns with a rest element go through `os` the same ways.
    expect(out('const { a, ...o } = src;')).toContain('const { a, ...o } = __ek_os(src, "src");');
    expect(out('const f = ({ k, ...o }) => o;')).toContain('var { k, ...o } = __ek_os(__ek_r1, "");');
    // Not the array another rest element made.
    expect(out('const [...[a, ...r]] = xs;')).toContain('const [...[a, ...r]] = __ek_sp(xs, "xs");');
    // The same whatever `transform` says.
    const parsed = parseAgentScript('const f = ([...r]) => r;');
    expect(transformAgentScript(parsed, [], { guards: false }).output?.code).toContain('var [...r] = __ek_sp(__ek_r1, "");');
  });

  it('writes an assignment to length as ls(o, v), and any other target that may be a length through lt', () => {
    expect(out('a.length = n;')).toContain('__ek_ls(a, n);');
    expect(out('x[0]["length"] = y.length = 3;')).toContain('__ek_ls(x[0], __ek_ls(y, 3));');
    expect(out('(a.length) = 0;')).toContain("(__ek_lt(a, 'length').length) = 0;");
    expect(out('a.length -= n;')).toContain("return __ek_lt(a, 'length').length -= n;");
    // Whatever `transform` says, and in place of `m` (lt checks the key as m does).
    for (const guards of [true, false]) {
      const code = (src: string) => transformAgentScript(parseAgentScript(src), [], { guards }).output?.code ?? '';
      expect(code('x[0][k] = x[1][k] = 3;')).toContain('return __ek_lt(x[0], __ek_t = (k))[__ek_t] = __ek_lt(x[1], __ek_t = (k))[__ek_t] = 3;');
      expect(code('[a.length, b[k]] = v;')).toContain("return [__ek_lt(a, 'length').length, __ek_lt(b, __ek_t = (k))[__ek_t]] = v;");
      expect(code('({ x: a[k], ...o[j] } = v);')).toContain('({ x: __ek_lt(a, __ek_t = (k))[__ek_t], ...__ek_lt(o, __ek_t = (j))[__ek_t] } = __ek_os(v, ""));');
      expect(code('for (a[k] of v);')).toContain('for (__ek_lt(a, __ek_u = (k))[__ek_u] of v)');
      expect(code('for (const k in a, b);')).toContain('for (const k in __ek_fi((a, b)))');
      expect(code('(a)[ /* c */ ((k, j)) ] = 1;')).toContain('__ek_lt((a), __ek_t = ( /* c */ ((k, j)) ))[__ek_t] = 1;');
      // Literal keys other than length, updates (a growth by one at most) and reads stay as they were.
      expect(code('a[0] = 1; a["x"] = 2; a[1]++; return a[0];')).toContain('a[0] = 1; a["x"] = 2; a[1]++; return a[0];');
    }
  });

  it('returns a trailing expression', () => {
    expect(out('const a = 2;\na * 3')).toContain('return a * 3');
  });

  it('binds user globals as wrapper parameters', () => {
    expect(out('return cfg.x')).not.toContain('cfg,');
    expect(rewrite('return cfg.x', ['cfg']).output?.code).toContain('(__ek_rt, callTool, console, input, cfg)');
  });

  it('refuses dynamic import, import.meta-like meta properties, super properties as targets and the reserved prefix, whatever validation says', () => {
    const supers = '\nconst o = { m(v) { super.length = v; },\n n(k, v) { super[k] += v; },\n p(v) { [super.x] = v; for (super.y of v); },\n q() { super.z++; return super.length; } };';
    const r = rewrite(`const m = await import("fs");\nconst __ek_n = 1;\nfunction f() { return new.target }${supers}`);
    expect(r.output).toBeUndefined();
    // Reads of a super property stay; an update stores on `this` as an assignment does (`super.next++`
    // on an iterator turned off a protector of the isolate).
    expect(r.issues.map((i) => [i.ruleId, i.line])).toEqual([
      ['no-dynamic-import', 1],
      ['reserved-prefix', 2],
      ['no-meta-property', 3],
      ['no-super-assignment', 4],
      ['no-super-assignment', 5],
      ['no-super-assignment', 6],
      ['no-super-assignment', 6],
      ['no-super-assignment', 7],
    ]);
  });

  it('without the budget guards keeps the host-protection guards and the structural refusals', () => {
    const parsed = parseAgentScript('for (;;) { o[k]; s += t; }\nfunction f(a) { return [...a]; }\nconst g = async () => 1;');
    const code = transformAgentScript(parsed, [], { guards: false }).output?.code ?? '';
    // Checkpoints at loops and functions, string growth and spreads stay: they keep the host's heap safe.
    expect(code).toContain(`for (;;) {${GRANT_GUARD} o[k]; ${growStatement('s += t', '__ek_u')}; }`);
    expect(code).toContain('function f(a) {if (++__ek_n > __ek_L) __ek_f(); return [...__ek_sp(a, "a")]; }');
    expect(code).toContain('const g =  () => { if (++__ek_n > __ek_L) __ek_f(); const __ek_p = (async () => { try { return ( 1); } catch (__ek_x) { await 0;');
    // No key checks, no depth count, and the runtime is told so.
    expect(code).not.toContain('__ek_m(');
    expect(code).not.toContain('++__ek_d');
    expect(code).toContain('__ek_rt.bind(() => __ek_n, (v) => { __ek_L = v; }, () => __ek_d, 0);');
    expect(transformAgentScript(parseAgentScript('import("x")'), [], { guards: false }).output).toBeUndefined();
  });

  it('maps output positions back to the user source', () => {
    const r = rewrite('const a = 1;\nfor (const x of [1]) { q.w.e; }');
    // Output line 2 (user line 2) has a guard inserted before `q`; its column maps back.
    const outLine = (r.output?.code.split('\n')[2] ?? '');
    const col = outLine.indexOf('q.w.e') + 1;
    expect(r.output?.mapPosition(2, col)).toEqual({ line: 2, column: 24 });
  });
});

describe('no edit of the rewrite lands in a comment', () => {
  // [start, end, line]: a block comment over 2..8 and a line comment over 10..15 (to the end of its line).
  const comments = [[2, 8, 0], [10, 15, 1]] as const;
  const edits = (f: (ms: CommentSafeString) => void) => {
    const ms = new CommentSafeString('x'.repeat(20), comments);
    try {
      f(ms);
      return 'ok';
    } catch (e) {
      return e instanceof EditInComment ? `refused at ${e.at}` : 'other';
    }
  };

  it('refuses an insertion inside a comment, or at the end of one that runs to its line end', () => {
    expect(edits((ms) => ms.appendLeft(2, 'a'))).toBe('ok');
    expect(edits((ms) => ms.appendLeft(5, 'a'))).toBe('refused at 5');
    expect(edits((ms) => ms.prependRight(8, 'a'))).toBe('ok');
    expect(edits((ms) => ms.prependRight(12, 'a'))).toBe('refused at 12');
    expect(edits((ms) => ms.appendLeft(15, 'a'))).toBe('refused at 15');
    expect(edits((ms) => ms.appendLeft(16, 'a'))).toBe('ok');
    expect(edits((ms) => ms.overwrite(0, 4, 'a'))).toBe('refused at 4');
    expect(edits((ms) => ms.remove(8, 10))).toBe('ok');
  });

  it('finds an arrow’s `=>` past a comment that holds one', () => {
    const r = rewrite('const f = (x) => /* => */ x;\nreturn f(1);');
    expect(r.issues).toEqual([]);
    expect(r.output?.code).toMatch(/\(x\) => \{ .*\/\* => \*\/ x\)/);
  });
});

describe('the prologue the rewriter reports', () => {
  it('is the guards’ locals and the bind call, right after the factory’s directive, for both settings of the budget guards', () => {
    for (const guards of [true, false]) {
      const r = transformAgentScript(parseAgentScript('const xs = [1].map((x) => x + 1); return xs;'), ['cfg'], { guards });
      const output = r.output;
      if (output === undefined) throw new Error('refused');
      const [start, end] = output.prologue;
      expect(output.code.slice(0, start)).toBe("__ek_register((function (__ek_rt, callTool, console, input, cfg) { 'use strict'; ");
      expect(output.code.slice(start, end)).toMatch(/^var __ek_n = 0, .*; __ek_rt\.bind\(.*, [01]\); $/);
      expect(output.code.slice(end)).toMatch(/^return \(async function \(\) \{\n/);
    }
  });

  it('declares the guards’ bindings with `var`: no TDZ check where the script’s functions and loops read them', () => {
    // A `let`/`const` of the factory read from the script's function carries a hole check whose throw
    // leaves any loop that calls a guard; V8's optimising compiler does not peel such a loop, and the
    // loop's values then stay tagged (a 3e6-turn loop: 220.6 M instructions a run, 165.6 M with `var`).
    for (const guards of [true, false]) {
      const output = transformAgentScript(parseAgentScript('let s = 0; for (let i = 0; i < 9; i++) s += i; return s;'), [], { guards }).output;
      if (output === undefined) throw new Error('refused');
      const [start, end] = output.prologue;
      expect(output.code.slice(start, end)).not.toMatch(/\b(?:let|const)\b/);
    }
  });
});

describe('the guards a factory binds', () => {
  const prologueOf = (code: string) => {
    const output = rewrite(code).output;
    if (output === undefined) throw new Error('refused');
    return output.code.slice(output.prologue[0], output.prologue[1]);
  };

  it('are those its text names: none for straight code, the checkpoint and depth for a callback', () => {
    expect(prologueOf('return 1 + 1;')).toBe('var __ek_n = 0, __ek_L = __ek_rt.L, __ek_d = 0, __ek_w = 0, __ek_t; __ek_rt.bind(() => __ek_n, (v) => { __ek_L = v; }, () => __ek_d, 1); ');
    expect(prologueOf('return [1].map((x) => x);')).toContain('var __ek_D = __ek_rt.D, __ek_f = __ek_rt.f; ');
    // `s` and `sp` are told apart, and a hoisted temporary (`__ek_r1`) binds no `r`.
    const spread = prologueOf("const [a, ...b] = [1, 2]; return [...'ab', a + b];");
    expect(spread).toMatch(/__ek_sp = __ek_rt\.sp/);
    expect(spread).toMatch(/__ek_s = __ek_rt\.big/);
    expect(spread).not.toMatch(/__ek_r = /);
  });

  it('bind every guard the rewritten text calls, and a user string that spells one binds it too', () => {
    const texts = ["for (let i = 0; i < 9; i++) { try { o[k] = `${i}`; } catch (e) { throw e; } }", 'async function f() { await 0; } return { ...o, v: 2n ** 3n };', "return '__ek_fi __ek_y';"];
    for (const text of texts) {
      const output = rewrite(text).output;
      if (output === undefined) throw new Error('refused');
      const declared = new Set([...output.code.slice(...output.prologue).matchAll(/(__ek_\w+) = /g)].map((m) => m[1]));
      for (const [name] of output.code.slice(output.prologue[1]).matchAll(/__ek_\w+/g)) {
        if (!/^__ek_(k|q|u|t|n|L|d|w|p|x|e|v|r\d+)$/.test(name)) expect(declared, `${name} in ${text}`).toContain(name);
      }
    }
    expect(prologueOf("return '__ek_fi __ek_y';")).toContain('__ek_fi = __ek_rt.fi, __ek_y = __ek_rt.y');
  });
});

describe('a callTool call’s place', () => {
  it('rides on its last argument when every callTool of the text is called', () => {
    expect(out("const a = await callTool('a', { x: 1 });\nawait callTool('b', a.b + a.c);")).toContain(
      "const a = await callTool('a', __ek_cs(1, 17, { x: 1 }));\nreturn await callTool('b', __ek_cs(2, 7, (typeof (__ek_t = (a.b + a.c)) === 'string'",
    );
    // Its own guard wraps whatever checks the argument holds, and a nested call gets a place of its own.
    expect(out("await callTool('a', await callTool('b', 1));")).toContain("await callTool('a', __ek_cs(1, 7, await callTool('b', __ek_cs(1, 27, 1))));");
  });

  it('is left to the frames when callTool is named anywhere but as a callee, or the call has nothing to wrap', () => {
    for (const text of [
      "const ct = callTool; await callTool('a', {});",
      "await callTool('a', {}); return [1].map(callTool);",
      "function callTool(...a) { return a.length; }\nreturn callTool(1, 2);",
      "await callTool('a', {}); return typeof callTool;",
      "await callTool('a', {}); return { callTool: 1 };",
    ]) expect(out(text), text).not.toContain('__ek_cs(');
    expect(out("await callTool(...['a', {}]); await callTool?.('b', {}); await (callTool)('c', {}); await callTool();")).not.toContain('__ek_cs(');
  });
});

describe('rewriter: writes that would turn off a protector of the isolate', () => {
  const both = (code: string) => [rewrite(code).output?.code ?? '', transformAgentScript(parseAgentScript(code), [], { guards: false }).output?.code ?? ''];

  it('sends a write to .constructor, .next or .valueOf through ct, with the name, whatever `transform` says', () => {
    for (const text of both("it.next = 1; s.valueOf += 1; a.constructor++; ({ x: it.next } = o); [s.valueOf] = l; for (it.next of l); it['next'] = 2; o.nxt = 3;")) {
      expect(text).toContain("__ek_rt.ct(it, 'next').next = 1;");
      expect(text).toContain("__ek_rt.ct(s, 'valueOf').valueOf += 1");
      expect(text).toContain("__ek_rt.ct(a, 'constructor').constructor++;");
      expect(text).toContain("({ x: __ek_rt.ct(it, 'next').next } = o);");
      expect(text).toContain("[__ek_rt.ct(s, 'valueOf').valueOf] = l;");
      expect(text).toContain("for (__ek_rt.ct(it, 'next').next of l)");
      // A literal key is a computed target like any other then: `lt` checks it with its object.
      expect(text).toContain("__ek_lt(it, __ek_t = ('next'))[__ek_t] = 2;");
      expect(text).toContain('return o.nxt = 3;');
    }
  });

  it('sends a delete of those names, or of a computed key, through the same guards (a delete looks the key up as a write does)', () => {
    for (const text of both('delete it.next; delete s.valueOf; delete o[k]; delete o.other;')) {
      expect(text).toContain("delete __ek_rt.ct(it, 'next').next;");
      expect(text).toContain("delete __ek_rt.ct(s, 'valueOf').valueOf;");
      expect(text).toContain('delete __ek_lt(o, __ek_t = (k))[__ek_t];');
      expect(text).toContain('delete o.other;');
    }
  });

  it('refuses a delete through an optional chain of such a key, which no guard can wrap, whatever `transform` says', () => {
    for (const guards of [true, false]) {
      const result = transformAgentScript(parseAgentScript('delete a?.next; delete a?.[k]; delete a?.b;'), [], { guards });
      expect(result.issues.map((i) => [i.ruleId, i.column])).toEqual([['no-optional-delete', 1], ['no-optional-delete', 17]]);
    }
  });

  it('leaves reads alone', () => {
    for (const text of both('const v = it.next(); const w = s.valueOf(); return [v, w, a.constructor === Array];')) expect(text).not.toContain('__ek_rt.ct');
  });

  it('checks the instance of a class with a heritage before its fields of those names, and sends its computed field keys through fk', () => {
    for (const text of both('class C extends B { next = 1; valueOf; other = 2; static next = 3; [k] = 4; static [j] = 5; }')) {
      // The computed field `[k]` may also be an element far past the end of an array the base returned.
      expect(text).toContain("class C extends B { #__ek_f0 = __ek_rt.ct(this, 'next'); #__ek_f1 = __ek_rt.ct(this, 'valueOf'); #__ek_f2 = __ek_rt.ct(this, '4294967294'); next = 1;");
      expect(text).toContain('[__ek_rt.fk(k)] = 4;');
      expect(text).not.toContain('__ek_rt.fk(j)');
    }
  });

  it('checks the instance of a class with a heritage before a field that may be a far element, once', () => {
    for (const text of both("class C extends B { 70000 = 1; '4294967294' = 2; 5 = 3; x = 4; }")) {
      expect(text).toContain("class C extends B { #__ek_f0 = __ek_rt.ct(this, '4294967294'); 70000 = 1;");
      expect(text).not.toContain('#__ek_f1');
    }
    for (const text of both('class C extends B { 5 = 3; x = 4; static 70000 = 1; }')) expect(text).not.toContain('__ek_rt.ct');
  });

  it('sends a literal index key past 65,536 of an assignment target through lt', () => {
    const kept = ['__ek_lt(a, __ek_t = (70000))[__ek_t] = 1;', "__ek_lt(a, __ek_t = ('4294967294'))[__ek_t] = 2;", 'a[5] = 3;', "a['x'] = 4;"];
    for (const text of both("a[70000] = 1; a['4294967294'] = 2; a[5] = 3; a['x'] = 4;")) for (const part of kept) expect(text).toContain(part);
  });

  it('leaves a class without a heritage alone: its instance is an ordinary object', () => {
    const [text] = both('class C { next = 1; [k] = 2; }');
    expect(text).not.toContain('__ek_rt.ct');
    expect(text).not.toContain('__ek_rt.fk');
  });
});
