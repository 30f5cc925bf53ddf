/**
 * Host values the copy into a realm cannot take (run input, data globals, a tool's result) and script
 * values the copy out cannot read (a tool's arguments, the result): each gets its own clear error with
 * the code the README gives it, says where the problem is, quotes nothing the host's value threw, and
 * never crashes or hangs the host. Before, every one of them read "input is nested too deeply", a
 * throwing getter or toJSON() silently dropped data, and a Promise or a WeakMap became `{}`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';
import type { CreateEnclaveOptions } from '../src/index.js';

/** Host text that must never reach a result: what the hostile values throw. */
const SECRET = 'host-secret /srv/app/config.ts';

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
const trapsThrow = (): object =>
  new Proxy({}, {
    ownKeys() {
      throw new Error(SECRET);
    },
    getPrototypeOf() {
      throw new Error(SECRET);
    },
  });
const getterThrows = () => ({
  get b(): unknown {
    throw new Error(SECRET);
  },
});
const toJSONThrows = () => ({
  toJSON(): unknown {
    throw new Error(SECRET);
  },
});
/** A toJSON() whose value has a toJSON() of its own, without end. */
const toJSONForever = (): object => ({ toJSON: () => toJSONForever() });

/** [name, value under `a`, the message (after `input`/`globals`/`result`), the error's name]. */
const HOSTILE: readonly [string, () => unknown, RegExp, string][] = [
  ['a revoked proxy', revoked, /^\.a could not be read: it is a revoked Proxy, or a Proxy whose trap threw\.$/, 'TypeError'],
  ['a proxy whose traps throw', trapsThrow, /^\.a could not be read: it is a revoked Proxy, or a Proxy whose trap threw\.$/, 'TypeError'],
  ['a getter that throws', getterThrows, /^\.a\.b could not be read: its getter threw\.$/, 'TypeError'],
  ['a getter that throws, in an array', () => [1, getterThrows()], /^\.a\[1\]\.b could not be read: its getter threw\.$/, 'TypeError'],
  ['a toJSON() that throws', toJSONThrows, /^\.a could not be copied: its toJSON\(\) threw\.$/, 'TypeError'],
  ['a toJSON() that never ends', toJSONForever, /^ is nested more than \d+ levels deep \(at \w+\.a\.toJSON\(\)\.toJSON\(\).*\.toJSON\(\)\), deeper than it is copied into the script\.$/, 'RangeError'],
  ['a Promise', () => Promise.resolve(1), /^\.a is a Promise \(await it first\), which cannot be copied into the script\.$/, 'TypeError'],
  ['a WeakMap, as a Map value', () => new Map([['k', new WeakMap()]]), /^\.a\.get\("k"\) is a WeakMap .*, which cannot be copied into the script\.$/, 'TypeError'],
  ['a WeakSet', () => new WeakSet(), /^\.a is a WeakSet .*, which cannot be copied into the script\.$/, 'TypeError'],
  ['an ArrayBuffer in a Set', () => new Set([new ArrayBuffer(8)]), /^\.a\.values\(\) is raw binary data .*, which cannot be copied into the script\.$/, 'TypeError'],
  ['a sparse array of 2^32 - 1 elements', () => Object.assign([], { length: 2 ** 32 - 1 }), /^ is larger than \d+ bytes\.$/, 'RangeError'],
];

/** Values that copy: the script reads them (README "Results are JSON" and the host-to-realm notes). */
const COPIED: readonly [string, () => unknown, string][] = [
  ['a cycle (kept)', () => {
    const o: Record<string, unknown> = { n: 1 };
    o.self = o;
    return o;
  }, 'return input.a.self.self.n'],
  ['a BigInt', () => 2n ** 70n, 'return String(input.a)'],
  ['symbol keys and functions (left out, as JSON leaves them)', () => ({ [Symbol('s')]: 1, f() {}, k: 2 }), 'return Object.keys(input.a).join()'],
  ['a class instance (its own data)', () => new (class Point { x = 1; y = 2; })(), 'return input.a.x + input.a.y'],
  ['a typed array', () => new Uint8Array([1, 2, 3]), 'return input.a.length'],
  ['an invalid Date', () => new Date(NaN), 'return Number.isNaN(input.a.getTime())'],
  ['a toJSON() that returns its own object', () => ({ k: 3, toJSON() { return this; } }), 'return input.a.k'],
  ['a Map and a Set', () => [new Map([[1, 'x']]), new Set([2])], 'return input.a[0].get(1) + input.a[1].has(2)'],
];

const MODES: readonly (readonly [string, CreateEnclaveOptions])[] = [
  ['vm', { adapter: 'vm' }],
  ['worker_threads, validate and transform off', { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }],
];

const enclaves: Enclave[] = [];
afterAll(async () => {
  await Promise.all(enclaves.map((e) => e.dispose()));
});
function enclaveFor(options: CreateEnclaveOptions): Enclave {
  const e = new Enclave({ timeout: 15_000, ...options });
  enclaves.push(e);
  return e;
}

describe.each(MODES)('host values that cannot be copied into a realm (%s)', (_mode, options) => {
  // The tests whose Enclave has no tools of its own share one: what they check is the copy of one run's
  // input, globals or result, which no run before it changes. One each started a worker each (about
  // 100 ms of CPU) in worker_threads mode.
  let plain: Enclave | undefined;
  const shared = () => (plain ??= enclaveFor(options));
  it.each(HOSTILE)('input holding %s: VALIDATION_ERROR that says what and where', async (_name, make, message, name) => {
    const r = await shared().run('return input', { input: { a: make() } });
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.error.code).toBe('VALIDATION_ERROR');
    expect(r.error.name).toBe(name);
    expect(r.error.message.slice('input'.length)).toMatch(message);
    expect(r.error.message.startsWith('input')).toBe(true);
    expect(JSON.stringify(r)).not.toContain('host-secret');
  });

  it.each(HOSTILE)('a data global holding %s: VALIDATION_ERROR too', async (_name, make, message) => {
    const r = await shared().run('return 1', { globals: { a: make() } });
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.error.code).toBe('VALIDATION_ERROR');
    // The size cap is shared with the input, and named so.
    if (!/larger/.test(String(message))) expect(r.error.message.slice('globals'.length)).toMatch(message);
    else expect(r.error.message).toMatch(/^input and globals together are larger than \d+ bytes\.$/);
    expect(JSON.stringify(r)).not.toContain('host-secret');
  });

  it.each(HOSTILE.filter(([name]) => /proxy|never ends|sparse/.test(name)))('a tool result holding %s: a catchable ToolError, TOOL_ERROR when uncaught', async (_name, make, message) => {
    const e = enclaveFor({ ...options, tools: { get: async () => ({ a: make() }) } });
    const caught = await e.run('try { await callTool("get", {}); return "no error"; } catch (err) { return [err.code, err.message]; }');
    if (/could not be read/.test(String(message))) {
      expect(caught.value).toEqual(['INVALID_RESULT', expect.any(String)]);
      expect((caught.value as string[])[1]?.slice('Tool "get" returned a value that could not be copied: result'.length)).toMatch(message);
    } else expect(caught.value).toEqual(['RESULT_TOO_LARGE', expect.stringMatching(/^Tool "get" returned (more than \d+ bytes|a value nested too deeply to copy)\.$/)]);
    const uncaught = await e.run('return await callTool("get", {})');
    expect(uncaught.success).toBe(false);
    if (!uncaught.success) expect(uncaught.error.code).toBe('TOOL_ERROR');
    expect(JSON.stringify([caught, uncaught])).not.toContain('host-secret');
  });

  it('a tool result keeps its documented leniency: a throwing getter or toJSON() is left out, a Promise or a WeakMap is its own data', async () => {
    const e = enclaveFor({ ...options, tools: { get: async () => ({ g: getterThrows(), t: toJSONThrows(), p: Promise.resolve(1), w: new WeakMap(), ok: 1 }) } });
    const r = await e.run('const v = await callTool("get", {}); return [Object.keys(v.g), v.t === undefined, Object.keys(v.p), Object.keys(v.w), v.ok]');
    expect(r.value).toEqual([[], true, [], [], 1]);
  });

  it.each(COPIED)('input holding %s is copied', async (_name, make, script) => {
    const r = await shared().run(script, { input: { a: make() } });
    expect(r.success, JSON.stringify(r)).toBe(true);
  });
});

describe.each([
  ['vm', { adapter: 'vm' }],
  ['vm, validate and transform off', { adapter: 'vm', validate: false, transform: false }],
  ['worker_threads', { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }],
] as const)('script values the copy out cannot read (PERMISSIVE, %s)', (_mode, options) => {
  it('a revoked proxy in a tool’s arguments: INVALID_ARGUMENTS with its path, and the tool never runs', async () => {
    // Host-side canary: the tool would record its arguments.
    const calls: unknown[] = [];
    const e = enclaveFor({ securityLevel: 'PERMISSIVE', ...options, tools: { t: async (args: unknown) => calls.push(args) } });
    const r = await e.run('const p = Proxy.revocable({}, {}); p.revoke(); try { await callTool("t", { list: [1, p.proxy] }); } catch (err) { return [err.code, err.message]; }');
    expect(r.value).toEqual(['INVALID_ARGUMENTS', 'Arguments of "t" could not be read (at args.list[1]): it is a revoked Proxy, or a Proxy whose trap threw.']);
    expect(calls).toEqual([]);
  });

  it('a result holding a proxy whose trap throws: RUNTIME_ERROR that says where, not a size or depth cap', async () => {
    const e = enclaveFor({ securityLevel: 'PERMISSIVE', ...options });
    const r = await e.run('return { ok: 1, bad: new Proxy({}, { getPrototypeOf() { throw new Error("trap"); } }) }');
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error).toMatchObject({ code: 'RUNTIME_ERROR', message: 'The result could not be read (at value.bad): it is a revoked Proxy, or a Proxy whose trap threw.' });
  });
});
