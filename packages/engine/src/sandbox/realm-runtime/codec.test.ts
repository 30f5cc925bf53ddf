import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { hostCodec } from '../../sanitize/codec.js';
import type { Codec, JSONEncodeOptions } from './codec.js';
import { loadInFreshContext } from '../../../test/realm-context.js';

const big = { maxBytes: 1 << 20 };
const roundTrip = (v: unknown) => {
  const text = hostCodec.encode(v, big);
  if (typeof text !== 'string') throw new Error(`encode failed: ${text}`);
  return hostCodec.decode(text);
};

describe('wire codec', () => {
  it('keeps JSON values as plain JSON text', () => {
    const v = { a: 1, b: 'x', c: [true, null, 2.5], d: { e: [] } };
    const text = hostCodec.encode(v, big) as string;
    expect(JSON.parse(text)).toEqual(v);
    expect(text).not.toContain('\\u0000');
  });

  it('carries undefined, NaN, Infinity, -0, BigInt, Date, Map and Set', () => {
    const v = [undefined, NaN, Infinity, -Infinity, -0, 12345678901234567890n, new Date(86_400_000), new Map<unknown, unknown>([[1, 'a'], ['k', { x: 1 }]]), new Set([1, 'two'])];
    const out = roundTrip(v) as unknown[];
    expect(out[0]).toBeUndefined();
    expect(out[1]).toBeNaN();
    expect(out[2]).toBe(Infinity);
    expect(out[3]).toBe(-Infinity);
    expect(Object.is(out[4], -0)).toBe(true);
    expect(out[5]).toBe(12345678901234567890n);
    expect(out[6]).toEqual(new Date(86_400_000));
    expect(out[7]).toEqual(new Map<unknown, unknown>([[1, 'a'], ['k', { x: 1 }]]));
    expect(out[8]).toEqual(new Set([1, 'two']));
  });

  // Both have one own key per character or element, which V8 lists in one step that ignores
  // termination: a String object passed for a plain object once its prototype was gone (3e7 characters
  // held a vm host 19-21 s past its deadline), and a view was listed key by key (a tool's Float64Array of
  // 1e7 elements, 4.7 s). They are recognized by their brand and counted before anything is listed.
  it('copies a String object as its string and a typed array as an array, whatever their prototype', () => {
    const bare = Object.setPrototypeOf(new String('ab'), null) as object;
    const plainProto = Object.setPrototypeOf(new String('cd'), Object.prototype) as object;
    const view = Object.setPrototypeOf(new Float64Array([1.5, -0]), null) as object;
    expect(roundTrip([bare, plainProto, new String('ef'), new Uint8Array([1, 2]), view])).toEqual(['ab', 'cd', 'ef', [1, 2], [1.5, -0]]);
    expect(hostCodec.encodeJSON([bare, plainProto, view], { maxBytes: 1 << 20, maxDepth: 8, cycles: 'fail' })).toBe('["ab","cd",[1.5,0]]');
    // An object that only looks like one keeps its keys.
    expect(roundTrip({ length: 2, 0: 'x' })).toEqual({ length: 2, 0: 'x' });
    expect(roundTrip(Object.defineProperty({ 0: 'y' }, 'length', { value: 1 }))).toEqual({ 0: 'y' });
  });

  it('preserves cycles and shared references', () => {
    const shared = { s: 1 };
    const a: Record<string, unknown> = { shared, again: shared, list: [shared] };
    a.self = a;
    const out = roundTrip(a) as Record<string, unknown>;
    expect(out.self).toBe(out);
    expect(out.again).toBe(out.shared);
    expect((out.list as unknown[])[0]).toBe(out.shared);
  });

  it('escapes objects that use the tag key as data', () => {
    const v = { '\u0000': 'r', v: 0, nested: { '\u0000': 'u' } };
    expect(roundTrip(v)).toEqual(v);
  });

  it('keeps __proto__ as an own key and never sets a prototype', () => {
    const v = JSON.parse('{"__proto__": {"polluted": true}, "d": new Date(0)}'.replace('new Date(0)', '1'));
    const out = roundTrip(v) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('drops functions, symbols and symbol keys; turns errors into name and message', () => {
    const v = { f: () => 1, s: Symbol('x'), [Symbol('k')]: 1, e: new TypeError('boom'), list: [() => 1] };
    const out = roundTrip(v) as Record<string, unknown>;
    expect(out).toEqual({ e: { name: 'TypeError', message: 'boom' }, list: [undefined] });
    expect(Object.keys(out)).toEqual(['e', 'list']);
  });

  it('stops at the byte budget without walking the rest of a huge value', () => {
    const huge = Array.from({ length: 1000 }, () => 'x'.repeat(1000));
    expect(hostCodec.encode(huge, { maxBytes: 10_000 })).toMatchObject({ code: -1 });
    expect(hostCodec.encode('x'.repeat(100), { maxBytes: 50 })).toMatchObject({ code: -1 });
  });

  it('refuses values nested deeper than maxDepth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 50; i++) deep = [deep];
    // With the path to where it got too deep.
    expect(hostCodec.encode(deep, { maxBytes: 1 << 20, maxDepth: 10 })).toEqual({ code: -2, path: '[0]'.repeat(11), what: '' });
  });

  it('reads accessors only when allowed, and never lets a throwing getter escape', () => {
    const v = {
      get ok() {
        return 1;
      },
      get bad(): number {
        throw new Error('getter');
      },
      plain: 2,
    };
    expect(roundTrip(v)).toEqual({ plain: 2 });
    const withGetters = hostCodec.encode(v, { maxBytes: 1000, getters: true }) as string;
    expect(hostCodec.decode(withGetters)).toEqual({ ok: 1, plain: 2 });
  });

  it('calls toJSON only when asked (the host reading its own tool results)', () => {
    const v = { when: { toJSON: () => 'custom' } };
    expect(hostCodec.decode(hostCodec.encode(v, { maxBytes: 1000, useToJSON: true }) as string)).toEqual({ when: 'custom' });
    expect(hostCodec.decode(hostCodec.encode(v, { maxBytes: 1000 }) as string)).toEqual({ when: { toJSON: undefined } });
  });

  it('decodes into the objects of the realm it was built in', async () => {
    const { ctx, exports } = await loadInFreshContext<{ createCodec: () => Codec }>('codec.ts');
    const realmCodec = exports.createCodec();
    const text = hostCodec.encode({ d: new Date(0), m: new Map([[1, 2]]), a: [1] }, big) as string;
    const out = realmCodec.decode(text) as { d: Date; m: Map<number, number>; a: number[] };
    expect(out.d instanceof Date).toBe(false);
    expect(out.d instanceof (vm.runInContext('Date', ctx) as DateConstructor)).toBe(true);
    expect(out.a instanceof (vm.runInContext('Array', ctx) as ArrayConstructor)).toBe(true);
    expect(out.m.get(1)).toBe(2);
  });
});

describe('JSON copy-out (what leaves a realm: results, tool arguments, logs)', () => {
  const opts: JSONEncodeOptions = { maxBytes: 1 << 20, maxDepth: 64, cycles: 'fail' };
  const json = (v: unknown, o: Partial<JSONEncodeOptions> = {}) => hostCodec.encodeJSON(v, { ...opts, ...o });

  it('maps every non-JSON type to the documented JSON form', () => {
    const text = json({
      big: 12345678901234567890n,
      nums: [NaN, Infinity, -Infinity, -0, 1.5],
      when: new Date(86_400_000),
      bad: new Date(NaN),
      map: new Map<unknown, unknown>([['k', 1], [{ o: 1 }, [2]]]),
      set: new Set([1, 'two']),
      re: /a+b/gi,
      err: new RangeError('boom'),
      bytes: new Uint8Array([1, 2, 255]),
      wide: new BigInt64Array([3n]),
      boxed: Object('str'),
      holes: [1, , 3], // eslint-disable-line no-sparse-arrays
      gone: undefined,
      fn: () => 1,
      list: [undefined, () => 1, Symbol('s')],
    }) as string;
    expect(typeof text).toBe('string');
    expect(JSON.parse(text)).toEqual({
      big: '12345678901234567890',
      nums: [null, null, null, 0, 1.5],
      when: '1970-01-02T00:00:00.000Z',
      bad: null,
      map: [['k', 1], [{ o: 1 }, [2]]],
      set: [1, 'two'],
      re: '/a+b/gi',
      err: { name: 'RangeError', message: 'boom' },
      bytes: [1, 2, 255],
      wide: ['3'],
      boxed: 'str',
      holes: [1, null, 3],
      list: [null, null, null],
    });
    expect(json(undefined)).toBe('');
  });

  it('counts a shared value each time it is written, so a small DAG cannot expand on the host', () => {
    let a: unknown = ['x'];
    for (let i = 0; i < 40; i++) a = [a, a];
    expect(json(a)).toEqual({ code: -1, path: '' });
    // Shared but small: written out in full, each time.
    const shared = { k: 1 };
    expect(JSON.parse(json([shared, shared]) as string)).toEqual([{ k: 1 }, { k: 1 }]);
  });

  it('keeps the text within maxBytes as written, escapes included', () => {
    const quotes = '"'.repeat(100); // 100 characters in memory, 200 as JSON
    expect(json(quotes, { maxBytes: 150 })).toEqual({ code: -1, path: '' });
    const ok = json(quotes, { maxBytes: 202 }) as string;
    expect(ok.length).toBeLessThanOrEqual(202);
    expect(json(new Uint8Array(10_000_000), { maxBytes: 1000 })).toEqual({ code: -1, path: '' });
    expect(json(Object('x'.repeat(5000)), { maxBytes: 1000 })).toEqual({ code: -1, path: '' });
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    expect(json(sparse, { maxBytes: 1000 })).toEqual({ code: -1, path: '' });
  });

  it('refuses a cycle with the path where it closes, or marks it (logs)', () => {
    const a: Record<string, unknown> = { list: [1] };
    (a.list as unknown[]).push({ back: a });
    expect(json(a)).toEqual({ code: -3, path: '.list[1].back' });
    expect(JSON.parse(json(a, { cycles: 'mark' }) as string)).toEqual({ list: [1, { back: '[Circular]' }] });
    const m = new Map<string, unknown>();
    m.set('me', m);
    expect((json(m) as { code: number }).code).toBe(-3);
  });

  it('refuses values nested deeper than maxDepth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(json(deep, { maxDepth: 50 })).toEqual({ code: -2, path: '' });
  });

  it('runs no getter and no toJSON of the value', () => {
    let ran = 0;
    const arr = [1, 2];
    Object.defineProperty(arr, 1, { get: () => ++ran, enumerable: true });
    const v = {
      get g() {
        return ++ran;
      },
      toJSON: () => ++ran,
      arr,
      d: 1,
    };
    expect(JSON.parse(json(v) as string)).toEqual({ arr: [1, null], d: 1 });
    expect(ran).toBe(0);
  });

  it('never writes a "__proto__" key or an object under "constructor"', () => {
    const v = JSON.parse('{"__proto__":{"polluted":1},"a":{"constructor":{"prototype":{"polluted":1}},"b":[{"__proto__":{"x":1}}]},"constructor":"a string is data"}') as unknown;
    const text = json(v) as string;
    expect(text).not.toContain('__proto__');
    expect(text).not.toContain('prototype');
    expect(JSON.parse(text)).toEqual({ a: { b: [{}] }, constructor: 'a string is data' });
    // Keys Object.prototype also has stay ordinary own data.
    const own = JSON.parse(json({ toString: 1, hasOwnProperty: 'x' }) as string) as Record<string, unknown>;
    expect(Object.keys(own)).toEqual(['toString', 'hasOwnProperty']);
  });

  it('decodeJSON drops prototype keys from text it did not make, however the key is spelled', () => {
    for (const text of [
      '{"__proto__":{"polluted":1},"ok":1}',
      '{"__pr\\u006fto__":{"polluted":1},"ok":1}',
      '{"a":{"constructor":{"prototype":{"polluted":1}}},"ok":1}',
      '{"a":{"c\\u006fnstructor":{"prototype":{"polluted":1}}},"ok":1}',
    ]) {
      const out = hostCodec.decodeJSON(text) as Record<string, unknown>;
      expect(out.ok).toBe(1);
      expect(Object.hasOwn(out, '__proto__')).toBe(false);
      expect(JSON.stringify(out)).not.toMatch(/proto|polluted/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
    expect(hostCodec.decodeJSON('')).toBeUndefined();
    expect(() => hostCodec.decodeJSON('{')).toThrow();
  });

  it('works the same in a fresh realm, with that realm\'s intrinsics', async () => {
    const { ctx, exports } = await loadInFreshContext<{ createCodec: () => Codec }>('codec.ts');
    const realmCodec = exports.createCodec();
    const value = vm.runInContext('({ big: 2n ** 70n, m: new Map([[1, new Set([2])]]), d: new Date(0), p: JSON.parse(\'{"__proto__":{"x":1}}\') })', ctx);
    expect(JSON.parse(realmCodec.encodeJSON(value, opts) as string)).toEqual({ big: String(2n ** 70n), m: [[1, [2]]], d: '1970-01-01T00:00:00.000Z', p: {} });
  });
});

