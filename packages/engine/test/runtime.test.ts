import { afterAll, describe, expect, it } from 'vitest';
import { Enclave, ToolError } from '../src/index.js';

const enclave = new Enclave();
const tools = {
  'users:get': async ({ id }: { id: string }) => {
    if (id !== 'u1') throw new ToolError(`No user ${id}`, { code: 'NOT_FOUND' });
    return { id, name: 'Ada' };
  },
};

describe('runtime behaviour an LLM relies on', () => {
  it('points an unhandled tool failure at the line that called the tool', async () => {
    const r = await enclave.run(`const a = 1;\nconst u = await callTool('users:get', { id: 'nobody' });\nreturn u;`, { tools });
    expect(r.error).toMatchObject({ code: 'TOOL_ERROR', name: 'ToolError', message: 'No user nobody', location: { line: 2 } });
    expect(r.error?.data).toEqual({ toolErrorCode: 'NOT_FOUND', tool: 'users:get' });
  });

  it('captures console.table, dir, trace and failed asserts', async () => {
    const r = await enclave.run(`console.table([{ a: 1 }]); console.dir({ b: 2 }); console.trace('t'); console.assert(1 === 2, 'math', 3); console.assert(true, 'never');`);
    expect(r.success).toBe(true);
    expect(r.logs?.map((l) => [l.level, l.message])).toEqual([
      ['log', '[{"a":1}]'],
      ['log', '{"b":2}'],
      ['debug', 't'],
      ['error', 'Assertion failed: math 3'],
    ]);
  });
});

describe('names a script declares itself', () => {
  const both = [new Enclave(), new Enclave({ adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } })];
  afterAll(() => both.forEach((e) => e.dispose()));

  it.each([0, 1])('shadow input, console and a host global where they are declared, and typeof asks like JavaScript does (isolation %i)', async (i) => {
    const e = both[i] as Enclave;
    const code = [
      'const input = { items: [1, 2, 3] };',
      'const lines = [];',
      'const console = { log: (x) => lines.push(x) };',
      "console.log('mine');",
      'const region = "local";',
      'const sum = ((input) => input.reduce((a, b) => a + b, 0))(input.items);',
      "const probe = (console) => typeof console.log;",
      "return [sum, lines, region, probe({ log: 1 }), typeof notDeclaredAnywhere, typeof notDeclaredAnywhere === 'undefined'];",
    ].join('\n');
    const r = await e.run(code, { input: { items: [10] }, globals: { region: 'host' } });
    expect(r.error).toBeUndefined();
    expect(r.value).toEqual([6, ['mine'], 'local', 'number', 'undefined', true]);
    expect(r.logs).toBeUndefined();
  });

  it('keeps callTool reserved and the rewriter\'s own names out of reach', async () => {
    const e = both[0] as Enclave;
    expect((await e.run('const callTool = () => 1; return callTool();')).error?.data?.issues).toMatchObject([{ ruleId: 'no-redeclare-provided' }]);
    const own = await new Enclave({ validate: false }).run('const __ek_rt = 1; return __ek_rt;');
    expect(own.error?.code).toBe('VALIDATION_ERROR');
    expect(((own.error?.data?.issues ?? []) as { ruleId: string }[]).map((i) => i.ruleId)).toEqual(['reserved-prefix', 'reserved-prefix']);
  });
});

describe('realm entries due in the same tick share one watchdog', () => {
  const slow = { echo: async (args: { n: number }) => { await new Promise((r) => setImmediate(r)); return args.n; } };

  it('runs many concurrent runs to their own results', async () => {
    const code = `const a = await callTool('echo', { n: input.n }); const b = await callTool('echo', { n: a * 2 }); return [a, b];`;
    const results = await Promise.all(Array.from({ length: 40 }, (_, n) => enclave.run(code, { tools: slow, input: { n } })));
    results.forEach((r, n) => expect(r).toMatchObject({ success: true, value: [n, n * 2] }));
  });

  it('stops a run that spins after an await without harming the runs entered with it', async () => {
    const spinner = new Enclave({ maxIterations: 1e12, validate: false });
    const spin = spinner.run(`await callTool('echo', { n: 1 }); let i = 0; while (true) { i++ }`, { tools: slow, timeout: 300 });
    const others = Array.from({ length: 10 }, (_, n) => spinner.run(`const v = await callTool('echo', { n: ${n} }); return v + 1;`, { tools: slow, timeout: 10_000 }));
    const [spun, ...rest] = await Promise.all([spin, ...others]);
    expect(spun.error?.code).toBe('TIMEOUT');
    rest.forEach((r, n) => expect(r).toMatchObject({ success: true, value: n + 1 }));
    // The event loop is alive and the next run on the same Enclave works.
    await new Promise((r) => setImmediate(r));
    expect((await spinner.run('return 42')).value).toBe(42);
  });
});

describe('copying values whose keys shadow Object.prototype', () => {
  it('keeps keys like __proto__, constructor and __defineGetter__ as plain data, both ways', async () => {
    const e = new Enclave({ validate: false });
    const data = JSON.parse('{"__proto__": 1, "constructor": 2, "__defineGetter__": 3, "toString": 4, "hasOwnProperty": 5}');
    const r = await e.run(`const o = await callTool('echo', {}); return [o, Object.keys(o)];`, { tools: { echo: async () => data } });
    expect(r.success).toBe(true);
    const [o, keys] = r.value as [Record<string, unknown>, string[]];
    expect(keys.sort()).toEqual(['__defineGetter__', '__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(o, '__defineGetter__')?.value).toBe(3);
  });
});

describe('string building under the inline growth check', () => {
  it('keeps every value of nested, compound and template concatenations, and their order of evaluation', async () => {
    const r = await enclave.run(`const seen = []; const v = (x) => { seen.push(x); return x; };
let s = 'a'; s += v('b') + (v('c') + \`\${v('d') + 1}\${v(2) + 3}\`) + (1 + 2) + v('e');
const n = v(4) + v(5);
const deep = 'x' + ('y' + ('z' + \`\${'w' + s}\`));
return { s, n, deep, seen: seen.join(',') };`);
    expect(r.value).toEqual({ s: 'abcd153e', n: 9, deep: 'xyzwabcd153e', seen: 'b,c,d,2,e,4,5' });
  });

  it('keeps the meaning of code without semicolons: a statement that builds a string never continues the line before it', async () => {
    const cases: [string, unknown][] = [
      ["let s = 'a'\ns += 'b'\nreturn s", 'ab'],
      ["const f = (x) => x\nlet s = 'a'\ns = s + f('b')\nconst n = `${s}!`.length\nn", 3],
      ["const o = { k: 'v' }\nlet s = ''\ns += o.k\ns + 'w'", 'vw'],
      ["const a = 'x'\na + 'y'", 'xy'],
      ["let n = 1\nn + 2 === 3 ? 'yes' : 'no'", 'yes'],
      ["const parts = []\nfor (const p of ['a', 'b']) parts.push(p)\nparts.join('') + parts.length", 'ab2'],
      ["let t = 'a'\nif (t) t += 'b'\nelse t += 'c'\nt", 'ab'],
    ];
    for (const [code, value] of cases) {
      const r = await enclave.run(code);
      expect(r.error, code).toBeUndefined();
      expect(r.value, code).toEqual(value);
    }
  });

  it('still stops a string doubled past the per-string cap', async () => {
    const e = new Enclave({ validate: false });
    try {
      for (const code of ['let s = "ab"; while (true) s = s + s;', 'let s = "ab"; while (true) s = s + s + s;', 'let s = "ab"; while (true) s += s + s;', 'let s = "ab"; while (true) s += s;', 'let s = "ab"; while (true) s = `${s}${s}`;']) {
        const r = await e.run(code, { memoryLimit: 8 * 1024 * 1024 });
        expect(r.error?.code, code).toBe('MEMORY_LIMIT_EXCEEDED');
      }
    } finally {
      e.dispose();
    }
  });
});

describe('long chains of +', () => {
  it('runs a chain of thousands of terms, which a check at every + nested past what V8 compiles', async () => {
    const e = new Enclave();
    try {
      for (const n of [500, 3000]) {
        // One term a line: the pre-scan's line-length limit is not what this is about.
        const code = `const a = 'ab';\nreturn (${Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'a' : String(i))).join(' +\n')}).length;`;
        const r = await e.run(code);
        expect(r.error, `${n} terms`).toBeUndefined();
        expect(r.value).toBe(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'ab' : String(i))).join('').length);
      }
    } finally {
      e.dispose();
    }
  });
});

describe('memory that accumulates between checkpoints', () => {
  it('stops many flattened copies of a large string built with +', async () => {
    // Each search is charged its 1.6e7 characters (see chargeWork): a budget that leaves the memory to end it.
    const e = new Enclave({ validate: false, maxIterations: 100_000_000 });
    const r = await e.run(`const s = 'y'.repeat(1.6e7); const parts = []; for (let i = 0; i < 200; i++) { const t = s + i; t.indexOf('q'); parts.push(t); } return parts.length`, { timeout: 20_000 });
    expect(r.error?.code).toBe('MEMORY_LIMIT_EXCEEDED');
  });
});

describe('BigInt arithmetic under the guard that watches for large results', () => {
  // The guard compared every result with a 64 KB bound and with its negative, made anew at each
  // compare: 5,000 products left 320 MB of garbage, read as the run's growth between collections.
  // (In a worker the run read under the budget even so: the garbage was collected sooner there.)
  it('runs a loop that keeps one small BigInt, of either sign, within a 2 MB budget', async () => {
    const e = new Enclave({ memoryLimit: 2 * 1024 * 1024 });
    try {
      const r = await e.run(`let s = 0n; let t = 0n; for (let i = 0; i < 5000; i++) { s = (s + 3n * 7n) % 1000003n; t = (t - 3n * 7n) % 1000003n; } return String(s) + ',' + String(t);`);
      expect(r.error).toBeUndefined();
      expect(r.value).toBe('105000,-105000');
    } finally {
      e.dispose();
    }
  });

  it('still checks the heap when a result is large, negative ones too', async () => {
    const e = new Enclave({ memoryLimit: 8 * 1024 * 1024 });
    try {
      for (const sign of ['', '-']) {
        const r = await e.run(`const xs = []; let x = ${sign}(1n << 600000n); for (let i = 0; i < 400; i++) xs.push(x * 3n); return xs.length;`, { timeout: 20_000 });
        expect(r.error?.code, sign).toBe('MEMORY_LIMIT_EXCEEDED');
      }
    } finally {
      e.dispose();
    }
  });
});

describe('Intl', () => {
  it('is only a global at PERMISSIVE, while locale methods work at every level', async () => {
    const code = `return [typeof Intl, (1234.5).toLocaleString('en-US'), new Date(0).toLocaleDateString('en-US', { timeZone: 'UTC' }), 'a'.localeCompare('b')]`;
    expect((await new Enclave({ validate: false }).run(code)).value).toEqual(['undefined', '1,234.5', '1/1/1970', -1]);
    expect((await new Enclave({ securityLevel: 'PERMISSIVE' }).run(code)).value).toEqual(['object', '1,234.5', '1/1/1970', -1]);
  });
});

describe('builtins that walk a length V8 cannot interrupt', () => {
  const standard = new Enclave({ validate: false, maxIterations: 1e15 });
  const permissive = new Enclave({ securityLevel: 'PERMISSIVE', validate: false, maxIterations: 1e15 });
  const code = (r: Awaited<ReturnType<Enclave['run']>>) => (r.success ? 'OK' : r.error?.code);
  // None of these runs should end at the deadline: the outcome (a budget error, a value) shows that the
  // runtime bounded the native, which a regression would let run for seconds or for ever. So the clock
  // is far away (yet inside vitest's 20 s): the map(Number) copies took 60 ms on a calm machine and up
  // to 2.4 s with 8 spinners on 2 cores, which failed a deadline of 2 s.
  const RELAXED = 10_000;

  it.each([
    ['indexOf on a sparse array of length 2^32-1', 'const a = []; a.length = 2 ** 32 - 1; return a.indexOf(1);'],
    ['every() on a sparse array', 'const a = []; a.length = 2 ** 32 - 1; return a.every((x) => x);'],
    ['reverse() on a sparse array', 'const a = []; a.length = 2 ** 32 - 1; a.reverse(); return 1;'],
    ['includes.call on an array-like of length 2^53-1', 'return [].includes.call({ length: 2 ** 53 - 1 }, 1);'],
    ['String.raw with raw.length 2^28', 'return String.raw({ raw: { length: 2 ** 28 } }).length;'],
    ['slice copies kept in a short loop', 'const a = new Array(1e6).fill(0); const keep = []; for (let i = 0; i < 2000; i++) keep.push(a.slice()); return keep.length;'],
    ['map(Number) copies kept in a short loop', 'const a = new Array(1e6).fill(0); const keep = []; for (let i = 0; i < 2000; i++) keep.push(a.map(Number)); return keep.length;'],
    ['toUpperCase copies kept in a short loop', "const s = 'x'.repeat(4e6); const keep = []; for (let i = 0; i < 2000; i++) keep.push(s.toUpperCase()); return keep.length;"],
    ['Object.assign of a long string', "return Object.keys(Object.assign({}, 'x'.repeat(3e6))).length;"],
    ['object spread of a long string', "return Object.keys({ ...'x'.repeat(3e6) }).length;"],
  ])('%s ends as MEMORY_LIMIT_EXCEEDED', async (_name, source) => {
    expect(code(await standard.run(source, { timeout: RELAXED, memoryLimit: 8 * 1024 * 1024 }))).toBe('MEMORY_LIMIT_EXCEEDED');
  });

  it('reads an array-like length once: a getter cannot show the check one length and the native another', async () => {
    const getter = 'let c = 0; const o = { get length() { return c++ === 0 ? 0 : 2 ** 53 - 1; } }; return [].includes.call(o, 1);';
    expect(await standard.run(getter, { timeout: RELAXED })).toMatchObject({ success: true, value: false });
    const raw = 'let c = 0; const raw = { get length() { return c++ === 0 ? 1 : 2 ** 28; }, 0: "x" }; return String.raw({ raw }).length;';
    expect(await standard.run(raw, { timeout: RELAXED })).toMatchObject({ success: true, value: 1 });
  });

  it('has no Proxy below PERMISSIVE, and refuses proxies of arrays at PERMISSIVE', async () => {
    const proxyOfArray = 'const p = new Proxy([], { get(t, k) { return k === "length" ? 2 ** 32 - 1 : t[k]; } }); return p.indexOf(1);';
    expect((await standard.run(proxyOfArray)).error?.message).toBe('Proxy is not defined');
    expect((await permissive.run(proxyOfArray)).error?.message).toBe('Proxies of arrays are not available in AgentScript.');
    expect((await permissive.run('return Proxy.revocable([1], {}).proxy.length')).error?.message).toBe('Proxies of arrays are not available in AgentScript.');
    expect((await permissive.run('return new Proxy({ a: 1 }, { get: (t, k) => (k === "a" ? 42 : t[k]) }).a')).value).toBe(42);
  });

  it('keeps array methods working on ordinary array-likes, refusing only mutation', async () => {
    expect((await standard.run('return Array.prototype.map.call({ length: 3, 0: "a", 2: "c" }, (x) => x + "!");')).value).toEqual(['a!', null, 'c!']);
    expect((await standard.run('return Array.prototype.sort.call({ length: 2, 0: 2, 1: 1 });')).error?.message).toMatch(/not available on array-like objects/);
  });
});

describe('Array.from over a long array-like with a map function', () => {
  // The runtime copied all of the array-like's values before the native's first call of the map
  // function, and the copy's length ended the run as an iteration limit: a map function that throws at
  // index 10 never ran, and a run that ends at the budget first spent 0.4-1.1 s copying 5e6 values.
  const rows = [
    { name: 'vm', options: {} },
    { name: 'vm, validate and transform off', options: { validate: false, transform: false } },
    { name: 'worker_threads', options: { adapter: 'worker_threads' as const, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } } },
  ];
  const enclaves = rows.map((row) => ({ ...row, enclave: new Enclave({ maxIterations: 100_000, ...row.options }) }));
  afterAll(() => {
    for (const row of enclaves) row.enclave.dispose();
  });

  it.each(enclaves)('$name: maps element by element, so the script\'s own error ends it where it throws', async ({ enclave: e }) => {
    const r = await e.run("let n = 0; try { Array.from({ length: 5e6 }, (v, i) => { n++; if (i === 10) throw new Error('stop'); return i; }); } catch (e) { return [n, e.message]; }");
    expect(r).toMatchObject({ success: true, value: [11, 'stop'] });
  });

  it.each(enclaves.filter((row) => row.name !== 'vm, validate and transform off'))('$name: a map function that runs on is stopped by the iteration budget', async ({ enclave: e }) => {
    const r = await e.run('return Array.from({ length: 5e6 }, (v, i) => i).length;');
    expect(r.error?.code).toBe('MAX_ITERATIONS');
  });
});

describe('Promise subclasses and species', () => {
  const modes = [
    new Enclave({ securityLevel: 'PERMISSIVE', validate: false }),
    new Enclave({ securityLevel: 'PERMISSIVE', validate: false, transform: false }),
    new Enclave({ securityLevel: 'PERMISSIVE', validate: false, adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }),
    new Enclave({ securityLevel: 'PERMISSIVE', validate: false, transform: false, adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }),
  ];
  afterAll(() => modes.forEach((e) => e.dispose()));
  const cases: [string, string, unknown][] = [
    ['then on a subclass returns the subclass', 'class P extends Promise {} const q = new P((r) => r(1)).then((v) => v + 1); return [q instanceof P, await q];', [true, 2]],
    ['catch, finally and chains on a subclass', "class P extends Promise {} const a = await P.reject(new Error('x')).then(null, (e) => e.message); const b = await new P((r) => r(5)).finally(() => 0); const c = await P.resolve(1).then((v) => v + 1).then((v) => v + 1); return [a, b, c];", ['x', 5, 3]],
    ['the species is read once, when then runs', 'let reads = 0; class P extends Promise { static get [Symbol.species]() { reads++; return Promise; } } const q = new P((r) => r(1)).then((v) => v); const first = reads; await q; return [first, reads, q instanceof P];', [1, 1, false]],
    // An own `constructor` on a promise would turn off V8's PromiseSpeciesLookupChain for the isolate.
    ['a promise\'s own constructor is refused, the species of its prototype is used', "const p = Promise.resolve(3); let refused = false; try { p.constructor = undefined; } catch (e) { refused = e instanceof TypeError; } const v = await p.then((x) => x * 2); const q = Promise.resolve(1); Object.setPrototypeOf(q, { constructor: undefined }); const w = await Promise.prototype.then.call(q, (x) => x + 1); return [v, refused, p.constructor === Promise, w];", [6, true, true, 2]],
    ['then on something that is not a promise throws a TypeError', "try { Promise.prototype.then.call({}, () => 1); return 'no'; } catch (e) { return e instanceof TypeError; }", true],
    ['resolving functions that throw from a reaction reach nobody', "class P extends Promise { constructor(ex) { super((res, rej) => ex(() => { throw new Error('res'); }, () => { throw new Error('rej'); })); } } new P((r) => r(1)).then((v) => v); const s = Promise.reject(new Error('r')); Object.setPrototypeOf(s, { constructor: { [Symbol.species]: function W(ex) { ex(() => {}, () => { throw new Error('cap'); }); } } }); Promise.prototype.then.call(s); for (let i = 0; i < 5; i++) await null; return 'quiet';", 'quiet'],
  ];
  it.each(modes.flatMap((e, mode) => cases.map(([label, code, want]) => ({ e, mode, label, code, want }))))('$label (mode $mode)', async ({ e, code, want }) => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const r = await e.run(code);
      expect(r.error).toBeUndefined();
      expect(r.value).toEqual(want);
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
  });
});
