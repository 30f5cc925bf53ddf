/**
 * Patterns with a rest element are rewritten wherever they stand (see restPatterns in
 * transform/index.ts): their source goes through `sp` (`os` for an object pattern), in place, through a setter target, or cut out and
 * destructured right after the binding. Scripts must not see the difference: each program here runs
 * natively in the host and in the sandbox, with and without the budget guards, and must give the same
 * value or the same error.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, checkAgentScript } from '../src/index.js';
import { REUSE_ONE_REALM } from './helpers.js';

interface Program {
  name: string;
  code: string;
  /** Also valid AgentScript at STANDARD (runs validated there too). */
  standard?: true;
}

const PROGRAMS: readonly Program[] = [
  { name: 'declaration', code: 'const [a, ...r] = [1, 2, 3]; return [a, r];', standard: true },
  { name: 'declaration of a string', code: 'const [a, ...r] = "xyz"; return [a, r];', standard: true },
  { name: 'declaration of a Map and a Set', code: 'const [[k, v], ...m] = new Map([[1, 2], [3, 4]]); const [s, ...t] = new Set([5, 6]); return [k, v, m, s, t];', standard: true },
  { name: 'holes and defaults before the rest', code: 'const [, b = 7, ...r] = [1, undefined, 3]; return [b, r];', standard: true },
  { name: 'inside an object pattern, with later declarators reading it', code: 'const { x: [a, ...r], y } = { x: [1, 2, 3], y: 4 }, n = r.length; return [a, r, y, n];', standard: true },
  { name: 'nested twice', code: 'const { a: [p, { q: [...s] }, ...r] } = { a: [1, { q: [2, 3] }, 4, 5] }; return [p, s, r];', standard: true },
  { name: 'inside an array pattern', code: 'const [[...p], ...q] = [[1, 2], 3, 4]; return [p, q];', standard: true },
  { name: 'a rest inside a rest', code: 'const [a, ...[b, ...c]] = [1, 2, 3, 4]; return [a, b, c];', standard: true },
  { name: 'without a semicolon after it', code: 'const { x: [...r] } = { x: [1] }\nconst y = r.length\nreturn y', standard: true },
  { name: 'comments inside the pattern', code: 'const { x: [a, // line\n /* block */ ...r] } = { x: [1, 2] }; return [a, r];', standard: true },
  { name: 'parameters', code: 'function f([a, ...r], { x: [...s] } = { x: [9] }) { return [a, r, s]; } return f([1, 2, 3]);', standard: true },
  { name: 'an arrow with an expression body', code: 'const f = ([a, ...r]) => a + r.length; return f([5, 6, 7]);', standard: true },
  { name: 'an arrow with no space after =>', code: 'const f = ([a, ...r])=>a+"x"+r; return f(["a", "b"]);', standard: true },
  { name: 'an arrow returning an object', code: 'const f = ([a, ...r]) => ({ a, r }); return f([1, 2]);', standard: true },
  { name: 'an async arrow', code: 'const f = async ([a, ...r]) => a + r.length; return await f([5, 6, 7]);', standard: true },
  { name: 'an async function', code: 'async function f([a, ...r]) { await 0; return r; } return await f([1, 2]);', standard: true },
  { name: 'a parameter default used and not used', code: 'const f = ([...r] = [7, 8]) => r.length; return [f(), f([1])];', standard: true },
  { name: 'a parameter that is not iterable', code: 'const f = ([...r] = [7, 8]) => r.length; try { return f(1); } catch (e) { return [e.name, e.message]; }', standard: true },
  { name: 'a parameter shared with a var', code: 'function f([...r]) { var r; return r; } return f([1]);' },
  { name: 'a later parameter', code: 'const f = ([a, ...r], b) => b + r.length; return f([1, 2], 10);', standard: true },
  { name: 'for-of', code: 'const out = []; for (const [k, ...v] of [[1, 2, 3], [4, 5]]) out.push([k, v]); return out;', standard: true },
  { name: 'for-of with a body declaring its own names', code: 'const out = []; for (const [k, ...v] of [[1, 2, 3]]) { const w = v.length; { const v = 0; out.push(w, v); } } return out;', standard: true },
  { name: 'for-of with labels and continue', code: 'const out = []; outer: for (const [k, ...v] of [[1, 2, 3], [4, 5]]) { for (const x of v) { if (x === 3) continue outer; out.push(x); } } return out;', standard: true },
  { name: 'for-of with a statement body', code: 'let s = 0; for (const [a, ...r] of [[1, 2, 3]]) s += a + r.length; return s;', standard: true },
  { name: 'for-of over a Map with a nested rest', code: 'const out = []; for (const [k, [h, ...t]] of new Map([[1, [2, 3]]])) out.push(k, h, t); return out;', standard: true },
  { name: 'for-in', code: 'const out = []; for (const [c, ...cs] in { abc: 1 }) out.push(c, cs); return out;', standard: true },
  { name: 'catch', code: 'try { throw [1, 2, 3]; } catch ([a, ...r]) { return [a, r]; }', standard: true },
  { name: 'catch, nested', code: 'try { throw { e: [1, 2, 3] }; } catch ({ e: [a, ...r] }) { return [a, r]; }', standard: true },
  { name: 'assignment', code: 'let a, r; [a, ...r] = [1, 2, 3]; return [a, r];', standard: true },
  { name: 'assignment whose value is used', code: 'let a, r, x; x = [a, ...r] = [1, 2, 3]; return [a, r, x];', standard: true },
  { name: 'chained assignments', code: 'let a, r, b, s; [a, ...r] = [b, ...s] = "xyz"; return [a, r, b, s];', standard: true },
  { name: 'nested assignment pattern', code: 'let a, r, z; ({ q: [a, ...r], z = r.length } = { q: [1, 2, 3] }); return [a, r, z];', standard: true },
  { name: 'assignment to members', code: 'const o = {}; [o.a, ...o.r] = [1, 2]; return o;', standard: true },
  { name: 'assignment in a for head', code: 'let a, r, n = 0; for ([a, ...r] = [1, 2, 3], n = 1; false;); return [a, r, n];', standard: true },
  { name: 'for-of assignment targets', code: 'const o = {}; const out = []; for ([o.a, ...o.r] of [[1, 2], [3]]) out.push([o.a, o.r]); return out;', standard: true },
  { name: 'an assignment that is not iterable', code: 'let r; try { [...r] = 5; } catch (e) { return [e.name, e.message]; }', standard: true },
  { name: 'a declaration that is not iterable', code: 'try { const [...r] = null; } catch (e) { return e.name; }', standard: true },
  // (V8 names a nested source by the text around it, which the rewriter does not keep: the value names it.)
  { name: 'a nested source that is not iterable', code: 'try { const { x: [...r] } = { x: 5 }; return r; } catch (e) { return [e.name, e.message.endsWith(" is not iterable (cannot read property Symbol(Symbol.iterator))")]; }', standard: true },
  // Object patterns with a rest element: their source goes through `os` the same ways.
  { name: 'object rest: declaration', code: 'const { a, ...r } = { a: 1, b: 2, c: 3 }; return [a, r];', standard: true },
  { name: 'object rest: nested, parameter, for-of, catch', code: 'const { x: { y, ...r } } = { x: { y: 1, z: 2 } }; const f = ({ k, ...o }) => o; const out = [r, f({ k: 1, m: 2 })]; for (const { id, ...rest } of [{ id: 1, v: 2 }]) out.push(rest); try { throw { e: 1, f: 2 }; } catch ({ e, ...g }) { out.push(g); } return out;', standard: true },
  { name: 'object rest: assignments', code: 'let a, r, s, x; ({ a, ...r } = { a: 1, b: 2 }); x = ({ ...s } = { c: 3 }); return [a, r, s, x];', standard: true },
  { name: 'object rest inside an array rest', code: 'const [{ a, ...o }, ...more] = [{ a: 1, b: 2 }, 3]; return [a, o, more];', standard: true },
  { name: 'object rest of a string and of null', code: 'const { 0: c, ...r } = "ab"; let e; try { const { ...n } = null; } catch (x) { e = x.name; } return [c, r, e];', standard: true },
  { name: 'a generator source', code: 'function* g() { yield 1; yield 2; yield 3; } const [a, ...r] = g(); return [a, r];' },
  { name: 'a generator parameter', code: 'function* g([a, ...r]) { yield a; yield r; } return [...g([1, 2, 3])];' },
  { name: 'a setter and a method', code: 'const o = { m([a, ...r]) { return r; }, set s([a, ...r]) { this.v = r; } }; o.s = [1, 2]; return [o.m([1, 2, 3]), o.v];' },
  {
    name: 'the iterator is closed when a default throws before the rest',
    code: `const log = [];
const it = { [Symbol.iterator]() { let i = 0; return { next() { log.push('next'); return { value: i++, done: i > 5 }; }, return() { log.push('return'); return {}; } }; } };
try { const [a = (() => { throw new Error('x'); })(), ...r] = [undefined]; } catch (e) { log.push(e.message); }
try { let a, r; [a, ...r] = it; log.push(a, r.length); } catch (e) { log.push('no'); }
return log;`,
  },
  {
    name: 'a script iterator is stepped as V8 steps it',
    code: `const log = [];
const it = { [Symbol.iterator]() { let i = 0; return { get next() { log.push('get next'); return () => { log.push('next ' + i); return { value: i++, done: i > 3 }; }; } }; } };
const [a, ...r] = it; log.push(a, r); return log;`,
  },
  { name: 'an async generator parameter and for-await', code: 'async function* g([a, ...r]) { yield r; } const out = []; for await (const [x, ...y] of g([1, [2, 3, 4]])) out.push(x, y); return out;' },
  { name: 'a class method and constructor', code: 'class C { constructor([a, ...r]) { this.r = r; } m({ k: [...s] }) { return s; } } const c = new C([1, 2]); return [c.r, c.m({ k: "ab" })];' },
];

/** Assignments to `length`, which the rewriter writes as `ls(o, v)` (see Guards.ls). */
const LENGTH_PROGRAMS: readonly Program[] = [
  { name: 'length: truncate, and the value of the assignment', code: 'const a = [1, 2, 3]; const x = (a.length = 1); a["length"] = 1; return [a, x];', standard: true },
  { name: 'length: chained, of a plain object, of a string value', code: 'const a = [1]; const b = [2]; const o = { length: 0 }; a.length = b.length = 3; o.length = "x" + 1; return [a.length, b.length, o.length];', standard: true },
  { name: 'length: comments, parentheses, a sequence', code: 'const a = [1, 2]; a /* c */ . /* d */ length /* e */ = /* f */ 1; (a.length) = 1; a.length = (0, 1); return a;', standard: true },
  { name: 'length: a read-only length and a string', code: 'const out = []; for (const f of [() => { Object.freeze([1]).length = 0; }, () => { "ab".length = 1; }]) { try { f(); out.push("done"); } catch (e) { out.push(e.name); } } return out;' },
  { name: 'length: compound assignments', code: 'const a = [1]; a.length += 2; a.length *= 2; a.length -= 1; return a.length;', standard: true },
  { name: 'length: a sparse array past 2^25', code: 'const a = []; a.length = 1e9; return a.length;', standard: true },
  { name: 'length: through Object.assign, Reflect.set and defineProperty', code: 'const a = [1, 2, 3, 4]; Object.assign(a, { length: 3 }); const r = Reflect.set(a, "length", 2); Object.defineProperty(a, "length", { value: 1 }); Object.defineProperties(a, { length: { value: 0 } }); return [r, a, Reflect.set([], "length", -1)];' },
];

/** What the program gives natively: its value, or its error's name and message. */
async function native(code: string): Promise<unknown> {
  try {
    return await (new Function(`'use strict'; return (async () => { ${code} })();`)() as Promise<unknown>);
  } catch (e) {
    return { error: (e as Error).name, message: (e as Error).message };
  }
}

const MODES = [
  { label: 'validate:false', options: { validate: false } },
  { label: 'validate:false transform:false', options: { validate: false, transform: false } },
  { label: 'STANDARD validated', options: {}, standardOnly: true },
  { label: 'STANDARD validated, transform:false', options: { transform: false }, standardOnly: true },
] as const;

describe.each(MODES)('array rest patterns behave as natively [$label]', ({ options, ...mode }) => {
  const enclave = new Enclave({ realmPool: REUSE_ONE_REALM, ...options });
  afterAll(() => enclave.dispose());
  for (const p of [...PROGRAMS, ...LENGTH_PROGRAMS].filter((x) => !('standardOnly' in mode) || x.standard)) {
    it(p.name, async () => {
      const want = await native(p.code);
      const r = await enclave.run(p.code);
      const got = r.success ? r.value : { error: r.error?.name, message: r.error?.message };
      expect(got, JSON.stringify(r.error)).toEqual(JSON.parse(JSON.stringify(want)));
    });
  }
});

/** The issues of a script the check refuses (with or without validation: the rewriter refuses it). */
function refused(code: string): readonly { ruleId: string; message: string }[] {
  for (const validate of [true, false]) {
    const r = checkAgentScript(code, { validate });
    if (r.ok) throw new Error(`accepted with validate: ${validate}`);
    if (!validate) return r.issues;
  }
  return [];
}

describe('array rest patterns the rewriter cannot place refuse with a clear issue', () => {
  it('a name the same binding reads after the rest pattern that binds it', () => {
    const issues = refused('const { x: [...r], y = r.length } = { x: [1] }; return y;');
    expect(issues.map((i) => i.ruleId)).toEqual(['rest-pattern-order']);
    expect(issues[0]?.message).toContain('`r`');
  });

  it('a later parameter that reads it', () => {
    expect(refused('const f = ([...r], n = r.length) => n; return f([1]);').map((i) => i.ruleId)).toEqual(['rest-pattern-order']);
  });

  it('await inside a rest pattern nested in an assignment pattern', () => {
    expect(refused('let a, r; ({ x: [a = await 1, ...r] } = { x: [] }); return r;').map((i) => i.ruleId)).toEqual(['rest-pattern-await']);
  });

  it('await in a rest pattern assigned as a whole is fine', async () => {
    const enclave = new Enclave({ realmPool: REUSE_ONE_REALM });
    try {
      const r = await enclave.run('let a, r; [a = await 1, ...r] = [undefined, 2]; return [a, r];');
      expect(r.value).toEqual([1, [2]]);
    } finally {
      enclave.dispose();
    }
  });
});
