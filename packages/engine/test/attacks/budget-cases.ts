/** The budget attacks (invariant 5), shared by the suite here and by other isolations' suites (remote runtime nodes). */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';

const MB = 1024 * 1024;
const MEM = { memoryLimit: 8 * MB };
const ITER = ['MAX_ITERATIONS'] as const;
const ITER_OR_MEM = ['MAX_ITERATIONS', 'MEMORY_LIMIT_EXCEEDED'] as const;
const MEMORY = ['MEMORY_LIMIT_EXCEEDED'] as const;

const toolCalls = (max: number) => (_r: unknown, { kit }: { kit: { calls: unknown[] } }) => expect(kit.calls.length).toBeLessThanOrEqual(max);

/** An iterable whose iterator's `next` is a builtin: no script code runs from one step to the next. */
export const BUILTIN_NEXT = 'const it = { [Symbol.iterator]() { return { next: Object }; } };';
/** Every place an array pattern with a rest element can stand, destructuring `it`. */
export const REST_PATTERN_SOURCES: readonly (readonly [string, string])[] = [
  ['a declaration', 'const [...r] = it; return r.length;'],
  ['inside an object pattern', 'const { a: [x, ...r] } = { a: it }; return r.length;'],
  ['inside an array pattern', 'const [[...r]] = [it]; return r.length;'],
  ['a parameter', 'const f = ([...r]) => r.length; return f(it);'],
  ['a parameter with a default', 'function f(a, [x, ...r] = it) { return r.length; } return f(1);'],
  ['a for-of binding', 'for (const [...r] of [it]) return r.length;'],
  ['a catch binding', 'try { throw { e: it }; } catch ({ e: [...r] }) { return r.length; }'],
  ['an assignment', 'let r; [...r] = it; return r.length;'],
  ['an assignment whose value is used', 'let r; const v = ([...r] = it); return r.length;'],
  ['inside an assignment pattern', 'let r; ({ a: [...r] } = { a: it }); return r.length;'],
  ['a for-of assignment target', 'let r; for ([...r] of [it]) return r.length;'],
];
export const ATTACKS: readonly Attack[] = [
  // ---- iterations --------------------------------------------------------------------------------
  { name: 'while (true) {}', code: 'while (true) {}', expect: ITER, validation: 'reject' },
  { name: 'for (;;) {} with a body', code: 'let x = 0; for (;;) { x++; }', expect: ITER, validation: 'reject' },
  { name: 'do {} while (1)', code: 'let x = 0; do { x++; } while (1);', expect: ITER },
  {
    name: 'a loop that looks bounded but is not (validator cannot know)',
    code: 'let i = 0; while (i >= 0) { i++; } return i;',
    expect: ITER,
    validation: 'accept',
  },
  { name: 'nested loops', code: 'let s = 0; for (let i = 0; i < 1e5; i++) { for (let j = 0; j < 1e5; j++) { s++; } } return s;', expect: ITER, validation: 'accept' },
  { name: 'loop in a map callback', code: 'return [1, 2, 3].map(() => { let s = 0; for (let i = 0; i < 1e9; i++) s++; return s; });', expect: ITER, validation: 'accept' },
  { name: 'callbacks alone: Array.from({ length: 5e6 }, fn)', code: 'return Array.from({ length: 5e6 }, (_, i) => i).length;', expect: ITER_OR_MEM, validation: 'accept' },
  // Each array is below the 100,000 iterations every suite runs these under (inv5-budgets, the runtime
  // nodes' suites), the reduce's callbacks together over it: 9e5 each (for STANDARD's million) only made
  // every row build and walk ten times more.
  { name: 'callbacks alone: reduce over a big array', code: 'return new Array(9e4).fill(1).concat(new Array(9e4).fill(1)).reduce((a, b) => a + b, 0);', expect: ITER_OR_MEM, validation: 'accept' },
  {
    name: 'the budget is global: two loops that are each under it, together over it',
    code: 'let s = 0; for (let i = 0; i < 6e4; i++) s++; Array.from({ length: 6e4 }, (_, i) => i).forEach((x) => { s += 1; }); return s;',
    expect: ITER,
    validation: 'accept',
  },
  { name: 'iterating a huge iterator: [...Array(1e9).keys()]', code: 'return [...Array(1e9).keys()].length;', expect: ITER_OR_MEM, validation: 'accept' },
  { name: 'Array.from({ length: 1e9 }, fn)', code: 'return Array.from({ length: 1e9 }, (x) => x).length;', expect: ITER_OR_MEM, validation: 'accept' },
  { name: 'for-of over an infinite generator', code: 'function* g() { let i = 0; while (true) yield i++; } let s = 0; for (const x of g()) s += x; return s;', expect: ITER },
  { name: 'spread of an infinite generator', code: 'function* g() { while (true) yield 1; } return [...g()].length;', expect: ITER_OR_MEM },
  // V8 builds an array rest pattern from its source in one native step: an iterator whose `next` is a
  // builtin runs no script code between steps. Every such pattern's source is counted, wherever it stands.
  ...REST_PATTERN_SOURCES.map(([where, code]): Attack => ({ name: `array rest pattern over an iterator whose next is a builtin: ${where}`, code: `${BUILTIN_NEXT} ${code}`, expect: ITER_OR_MEM, enclave: MEM, validation: 'accept' })),
  // ---- recursion ---------------------------------------------------------------------------------
  { name: 'direct recursion', code: 'function f(n) { return f(n + 1) + 1; } return f(0);', expect: ['RUNTIME_ERROR'], validation: 'accept', check: (r) => expect(r.error?.message).toMatch(/call depth|stack/i) },
  { name: 'mutual recursion', code: 'function a(n) { return b(n + 1); } function b(n) { return a(n + 1); } return a(0);', expect: ['RUNTIME_ERROR'], validation: 'accept' },
  { name: 'recursion through arrow functions', code: 'const f = (n) => f(n + 1); return f(0);', expect: ['RUNTIME_ERROR'], validation: 'accept' },
  { name: 'exponential recursion (fits the depth, not the budget)', code: 'function f(n) { return n === 0 ? 1 : f(n - 1) + f(n - 1); } return f(40);', expect: ITER, validation: 'accept' },
  { name: 'recursion via getters', code: 'const o = { get x() { return o.x; } }; return o.x;', expect: ['RUNTIME_ERROR'] },
  { name: 'recursion via toString', code: 'const o = { toString() { return String(o); } }; return String(o);', expect: ['RUNTIME_ERROR'] },
  { name: 'recursion via valueOf in arithmetic', code: 'const o = { valueOf() { return o + 1; } }; return o * 2;', expect: ['RUNTIME_ERROR'] },
  { name: 'async recursion', code: 'async function f(n) { await null; return f(n + 1); } return await f(0);', expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: 'async recursion without await (synchronous until the stack ends)', code: 'async function f(n) { return f(n + 1); } return await f(0);', expect: ['RUNTIME_ERROR', ...ITER_OR_MEM], validation: 'accept' },
  // ---- budget errors cannot be swallowed ----------------------------------------------------------
  { name: 'swallow with try/catch, then return', code: "let i = 0; try { while (i >= 0) { i++; } } catch (e) {} return 'escaped';", expect: ITER, validation: 'accept' },
  { name: 'swallow with finally { return }', code: "let i = 0; try { while (i >= 0) { i++; } } finally { return 'escaped'; }", expect: ITER, validation: 'accept' },
  { name: 'swallow and loop again, many times', code: "let i = 0; for (let k = 0; k < 10; k++) { try { while (i >= 0) { i++; } } catch (e) { i = 0; } } return 'escaped';", expect: ITER, validation: 'accept' },
  { name: 'swallow with catch { try { } catch { return } }', code: "let i = 0; try { while (i >= 0) { i++; } } catch (e) { try { throw new Error('x'); } catch (e2) { return 'escaped'; } }", expect: ITER, validation: 'accept' },
  { name: 'replace the budget error with one of our own in finally', code: "let i = 0; try { while (i >= 0) { i++; } } finally { throw new Error('mine'); }", expect: ITER, validation: 'accept' },
  { name: 'swallow with .catch(() => ...)', code: "const r = await (async () => { let i = 0; while (i >= 0) { i++; } })().catch(() => 'swallowed'); return r;", expect: ITER, validation: 'accept' },
  { name: 'swallow with Promise.allSettled, then return straight-line', code: "const r = await Promise.allSettled([(async () => { let i = 0; while (i >= 0) { i++; } })()]); return 'escaped:' + r[0].status;", expect: ITER, validation: 'accept' },
  { name: 'swallow with Promise.any / Promise.race', code: "const busy = (async () => { let i = 0; while (i >= 0) { i++; } })(); const r = await Promise.any([busy, Promise.resolve('fine')]); return r;", expect: ITER, validation: 'accept' },
  { name: 'swallow inside a map callback wrapped in try', code: "try { [1].map(() => { let i = 0; while (i >= 0) { i++; } }); } catch (e) { return 'escaped'; }", expect: ITER, validation: 'accept' },
  { name: 'swallow then call a tool and log', code: "let i = 0; try { while (i >= 0) { i++; } } catch (e) {} console.log('after'); await callTool('echo', { after: true }); return 'escaped';", expect: ITER, validation: 'accept', check: toolCalls(0) },
  { name: 'swallow in a detached promise, keep working in main', code: "(async () => { let i = 0; while (i >= 0) { i++; } })().catch(() => {}); await null; await callTool('echo', { after: true }); return 'escaped';", expect: ITER, validation: 'accept', check: toolCalls(0) },
  // ---- tool calls ------------------------------------------------------------------------------------
  { name: 'sequential tool calls over the budget', code: "for (let i = 0; i < 1000; i++) await callTool('count', {}); return 'escaped';", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 5 }, check: toolCalls(5) },
  { name: 'parallel tool calls over the budget', code: "await Promise.all(Array.from({ length: 50 }, () => callTool('count', {}))); return 'escaped';", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 5 }, check: toolCalls(5) },
  { name: 'tool calls over the budget, errors swallowed', code: "let ok = 0; for (let i = 0; i < 100; i++) { try { await callTool('count', {}); ok++; } catch (e) {} } return ok;", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 5 }, check: toolCalls(5) },
  { name: 'tool calls over the budget via allSettled, then more calls', code: "await Promise.allSettled(Array.from({ length: 20 }, () => callTool('count', {}))); await callTool('count', {}); return 'escaped';", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 5 }, check: toolCalls(5) },
  { name: 'tool calls fired synchronously without await, over the budget', code: "for (let i = 0; i < 50; i++) { callTool('count', {}).catch(() => {}); } return 'escaped';", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 5 }, check: toolCalls(5) },
  { name: 'per-run maxToolCalls cannot raise the instance budget', code: "for (let i = 0; i < 100; i++) await callTool('count', {}); return 'escaped';", expect: ['MAX_TOOL_CALLS'], validation: 'accept', enclave: { maxToolCalls: 3 }, run: () => ({ maxToolCalls: 1000 }), check: toolCalls(3) },
  // ---- memory ------------------------------------------------------------------------------------------
  { name: "'x'.repeat(2 ** 28)", code: "return 'x'.repeat(2 ** 28).length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 's += s doubling', code: "let s = 'x'; for (let i = 0; i < 40; i++) s += s; return s.length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'growth through a chain of +', code: "let s = 'x'; for (let i = 0; i < 40; i++) s = s + s + s + s; return s.length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'growth through a chain on the right of +=', code: "let s = 'x'; for (let i = 0; i < 40; i++) s += s + s + (s + s); return s.length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'template-literal doubling', code: "let s = 'x'; for (let i = 0; i < 40; i++) s = `${s}${s}`; return s.length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'String.prototype.concat doubling', code: "let s = 'x'; for (let i = 0; i < 40; i++) s = s.concat(s); return s.length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'Array(1e8).fill(0)', code: 'return Array(1e8).fill(0).length;', expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'new Array(1e7).join("x")', code: "return new Array(1e7).join('x').length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'JSON.stringify of a shared-reference DAG', code: "let a = ['x'.repeat(100)]; for (let i = 0; i < 40; i++) a = [a, a]; return JSON.stringify(a).length;", expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: 'arr.push(...arr) doubling', code: 'let a = [1]; for (let i = 0; i < 40; i++) a.push(...a); return a.length;', expect: [...ITER_OR_MEM, 'RUNTIME_ERROR'], validation: 'accept', enclave: MEM },
  { name: 'Array.prototype.concat doubling', code: 'let a = [1]; for (let i = 0; i < 40; i++) a = a.concat(a); return a.length;', expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: 'spread doubling [...a, ...a]', code: 'let a = [1]; for (let i = 0; i < 40; i++) a = [...a, ...a]; return a.length;', expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: 'flat(Infinity) of a DAG', code: 'let a = [1]; for (let i = 0; i < 60; i++) a = [a, a]; return a.flat(Infinity).length;', expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: "'x'.padStart(2 ** 28)", code: "return 'x'.padStart(2 ** 28).length + 'y'.padEnd(2 ** 28).length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: "split('') of a big string", code: "return 'x'.repeat(4e6).split('').length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  {
    name: 'array rest destructuring of a big string `const [...r] = s` is charged like a spread',
    code: "const s = 'x'.repeat(4e6); const [...r] = s; return r.length;",
    expect: ITER_OR_MEM,
    validation: 'accept',
    enclave: MEM,
  },
  { name: 'spreading a big string [...s]', code: "return [...'x'.repeat(4e6)].length;", expect: ITER_OR_MEM, validation: 'accept', enclave: MEM },
  { name: 'replace with $& expansion (50x)', code: "const s = 'x'.repeat(1e5); return s.replace(/x/g, '$&'.repeat(50)).length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'replaceAll of the empty string with a big replacement', code: "const s = 'x'.repeat(5000); return s.replaceAll('', s).length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'replace with a function returning big strings', code: "const big = 'y'.repeat(1e6); return 'x'.repeat(100).replace(/x/g, () => big).length;", expect: MEMORY, validation: 'accept', enclave: MEM },
  { name: 'huge Map growth', code: 'const m = new Map(); for (let i = 0; i < 1e8; i++) m.set(i, { i }); return m.size;', expect: ITER_OR_MEM, validation: 'accept', enclave: { ...MEM, maxIterations: 1e9 } },
  { name: 'huge Set growth', code: "const s = new Set(); for (let i = 0; i < 1e8; i++) s.add('k' + i); return s.size;", expect: ITER_OR_MEM, validation: 'accept', enclave: { ...MEM, maxIterations: 1e9 } },
  { name: 'object with a huge number of keys', code: 'const o = {}; for (let i = 0; i < 1e8; i++) o["k" + i] = i; return Object.keys(o).length;', expect: ITER_OR_MEM, validation: 'accept', enclave: { ...MEM, maxIterations: 1e9 } },
  { name: 'arrays kept alive in a loop (heap growth)', code: 'const keep = []; for (let i = 0; i < 1e8; i++) keep.push([i, i, i, i]); return keep.length;', expect: ITER_OR_MEM, validation: 'accept', enclave: { ...MEM, maxIterations: 1e9 } },
  { name: 'budget error swallowed after a memory bomb', code: "try { 'x'.repeat(2 ** 28); } catch (e) {} return 'escaped';", expect: MEMORY, validation: 'accept', enclave: MEM },
  // ---- output and logs ---------------------------------------------------------------------------------
  { name: 'huge return value', code: "return 'x'.repeat(3e6);", expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxOutputBytes: 1 * MB } },
  { name: 'huge return value made of many small parts', code: 'return Array.from({ length: 3e5 }, (_, i) => ({ i }));', expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxOutputBytes: 1 * MB, maxIterations: 1e6 } },
  { name: 'deeply nested return value', code: 'let v = 0; for (let i = 0; i < 10000; i++) v = [v]; return v;', expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept' },
  // Results are JSON data (DESIGN 5.2): a cycle cannot be written, and a small value whose shared parts
  // expand when written is counted as written.
  {
    name: 'cyclic return value is refused with the path where it closes',
    code: "const a = { name: 'a', list: [] }; a.list.push({ back: a }); return a;",
    expect: ['OUTPUT_LIMIT_EXCEEDED'],
    validation: 'accept',
    check: (r) => expect(r.error?.message).toContain('value.list[0].back'),
  },
  {
    name: 'shared-reference DAG as return value is counted as written (2^60 leaves)',
    code: 'let a = [1]; for (let i = 0; i < 60; i++) a = [a, a]; return a;',
    expect: ['OUTPUT_LIMIT_EXCEEDED'],
    validation: 'accept',
    // 2^60 leaves pass any cap: a 1 MB one is reached after a quarter of the walk STANDARD's 4 MB took.
    enclave: { maxOutputBytes: 1 * MB },
  },
  { name: 'console bomb (bytes)', code: "for (let i = 0; i < 1e6; i++) console.log('x'.repeat(1000)); return 'escaped';", expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxLogBytes: 64 * 1024 }, check: (r) => expect((r.logs ?? []).reduce((n, l) => n + l.message.length, 0)).toBeLessThanOrEqual(64 * 1024) },
  { name: 'console bomb (entries)', code: "for (let i = 0; i < 1e6; i++) console.log('x'); return 'escaped';", expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxLogEntries: 50 }, check: (r) => expect((r.logs ?? []).length).toBeLessThanOrEqual(50) },
  { name: 'console bomb swallowed, then logging more', code: "for (let i = 0; i < 100; i++) { try { console.log('x'.repeat(1000)); } catch (e) {} } console.error('after'); return 'escaped';", expect: ['OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxLogBytes: 4096 } },
  { name: 'console.log of a huge or deep object', code: "let v = 0; for (let i = 0; i < 1000; i++) v = [v]; console.log(v, { big: 'x'.repeat(1e6) }); return 1;", expect: ['OK', 'OUTPUT_LIMIT_EXCEEDED'], validation: 'accept', enclave: { maxLogBytes: 64 * 1024 }, check: (r) => expect((r.logs ?? []).reduce((n, l) => n + l.message.length, 0)).toBeLessThanOrEqual(64 * 1024) },
  // ---- tool arguments and results -----------------------------------------------------------------------
  { name: 'tool arguments over maxToolArgsBytes', code: "await callTool('echo', { big: 'x'.repeat(2e6) }); return 'escaped';", expect: ['TOOL_ERROR'], validation: 'accept', enclave: { maxToolArgsBytes: 64 * 1024 }, check: toolCalls(0) },
  { name: 'deeply nested tool arguments', code: "let v = 0; for (let i = 0; i < 5000; i++) v = [v]; await callTool('echo', { v }); return 'escaped';", expect: ['TOOL_ERROR'], validation: 'accept', check: toolCalls(0) },
  { name: 'tool result over maxToolResultBytes', code: "const r = await callTool('huge', {}); return r.length;", expect: ['TOOL_ERROR'], validation: 'accept', enclave: { maxToolResultBytes: 1 * MB }, check: (r) => expect(r.error?.data?.toolErrorCode).toBe('RESULT_TOO_LARGE') },
  { name: 'deeply nested tool result', code: "const r = await callTool('deep', {}); return typeof r;", expect: ['TOOL_ERROR'], validation: 'accept' },
];
