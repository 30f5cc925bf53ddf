import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { hostCodec } from '../../sanitize/codec.js';
import type { Codec } from './codec.js';
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
    expect(hostCodec.encode(huge, { maxBytes: 10_000 })).toBe(-1);
    expect(hostCodec.encode('x'.repeat(100), { maxBytes: 50 })).toBe(-1);
  });

  it('refuses values nested deeper than maxDepth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 50; i++) deep = [deep];
    expect(hostCodec.encode(deep, { maxBytes: 1 << 20, maxDepth: 10 })).toBe(-2);
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
