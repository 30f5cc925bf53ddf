/**
 * Invariant 1: no host object reaches script code. Tool results, input and globals arrive as copies
 * built by the realm's own intrinsics; nothing the script does to them touches the host, and no host
 * accessor, proxy trap or method runs because of what the script does.
 */
import { describe, expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { ADAPTERS, LEVEL_ADAPTERS, PWN_LIT, SECRET, isBugRow, itBug, runAttack } from '../helpers.js';

const ESCAPE_OR_GUARD = ['RUNTIME_ERROR', 'VALIDATION_ERROR'] as const;

export const ATTACKS: readonly Attack[] = [
  {
    name: 'constructor chain on a tool result object',
    code: `const r = await callTool('hostObject', {}); return r.constructor.constructor(${PWN_LIT})();`,
    expect: ESCAPE_OR_GUARD,
    validation: 'reject',
  },
  {
    name: 'computed constructor chain on a tool result (key built at run time)',
    code: `const r = await callTool('hostObject', {}); const k = ['con', 'struc', 'tor'].join(''); return r.widget[k][k](${PWN_LIT})();`,
    expect: ['RUNTIME_ERROR'],
    validation: 'accept',
  },
  {
    name: 'tool result: host function, class instance, promise and symbol arrive as inert data',
    code: `const r = await callTool('hostObject', {});
return [typeof r.fn, typeof r.widget, typeof r.widget.method, r.widget.label, typeof r.promise, r.promise === undefined ? 'u' : Object.keys(r.promise).length, typeof r.sym];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => {
      const v = r.value as unknown[];
      expect(v[0]).toBe('undefined');
      expect(v[1]).toBe('object');
      expect(v[2]).toBe('undefined');
      expect(v[3]).toBe('w');
      expect(v[6]).toBe('undefined');
    },
  },
  {
    name: 'tool result objects are realm objects (instanceof the realm intrinsics)',
    code: `const r = await callTool('hostObject', {});
return [r instanceof Object, r.when instanceof Date, r.map instanceof Map, r.set instanceof Set, Array.isArray(r.shared.list) && r.shared.list instanceof Array, r.err instanceof Error, typeof r.big];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([true, true, true, true, true, false, 'bigint']),
  },
  {
    name: 'a host Error in a tool result is reduced to name and message (tool-internal text stays out)',
    code: `const r = await callTool('hostObject', {}); return Object.keys(r.err).sort();`,
    expect: ['OK'],
    validation: 'accept',
    // The Error's message is the tool's own data here (a returned value, not a thrown error); what must
    // not come along is its stack, its extra fields and its prototype.
    check: (r) => expect(r.value).toEqual(['message', 'name']),
    secrets: [],
  },
  {
    name: 'mutating a tool result does not mutate the host object it was copied from',
    code: `const r = await callTool('hostObject', {}); r.shared.nested.flag = 'pwned'; r.shared.list.push(99); r.again.list.length = 0; return r.shared === r.again;`,
    expect: ['OK'],
    validation: 'accept',
    check: (r, { kit }) => {
      expect(kit.hostObject).toEqual({ nested: { flag: 'original' }, list: [1, 2, 3] });
      // Shared references inside one copy are preserved as shared (the codec keeps identity).
      expect(r.value).toBe(true);
    },
  },
  {
    name: 'reading a tool result many times never re-runs host getters or proxy traps',
    code: `const r = await callTool('hostObject', {}); let s = 0; for (let i = 0; i < 200; i++) { s += r.proxy.a + r.proxy.b.c + (r.getterBox.viaGetter === 'got' ? 1 : 0); } return s;`,
    expect: ['OK'],
    validation: 'accept',
    check: (r, { kit }) => {
      expect(r.value).toBe(800);
      // Copying ran the getter once and the proxy traps a handful of times; 200 reads by the script none.
      expect(kit.counters.getterReads).toBe(1);
      expect(kit.counters.proxyTraps).toBeLessThan(20);
    },
  },
  {
    name: 'a throwing host getter in a tool result is skipped, its error never reaches the script',
    code: `const r = await callTool('hostObject', {}); return ['throwingGetter' in r.getterBox, r.getterBox.throwingGetter];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([false, null]), // undefined in an array is null in a result
  },
  {
    name: 'a host thenable returned by a tool is awaited on the host; the script gets data only',
    code: `const r = await callTool('thenable', {}); return [r.fromThenable, typeof r.then];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([true, 'undefined']),
  },
  {
    name: 'cyclic tool result arrives cyclic',
    code: `const a = await callTool('cyclic', {}); return [a.self === a, a.list[0] === a, a.list[1].back === a, a.name];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([true, true, true, 'a']),
  },
  {
    name: 'Buffer and typed arrays from a tool arrive as plain data, not as host views',
    code: `const r = await callTool('hostObject', {}); return [typeof r.buf, Array.isArray(r.buf.data) ? r.buf.data.join(',') : 'x', typeof r.typed];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => {
      const v = r.value as unknown[];
      expect(v[0]).toBe('object');
      expect(v[1]).toBe('104,105');
    },
  },
  {
    name: 'constructor chain on `input`',
    code: `return input.constructor.constructor(${PWN_LIT})();`,
    expect: ESCAPE_OR_GUARD,
    validation: 'reject',
    run: (kit) => ({ input: kit.hostObject }),
  },
  {
    name: 'mutating `input` does not touch the host object passed as input',
    code: `input.nested.flag = 'pwned'; input.list.push(4); input.extra = 1; return input.list.length;`,
    expect: ['OK'],
    validation: 'accept',
    run: (kit) => ({ input: kit.hostObject }),
    check: (r, { kit }) => {
      expect(r.value).toBe(4);
      expect(kit.hostObject).toEqual({ nested: { flag: 'original' }, list: [1, 2, 3] });
    },
  },
  {
    name: 'host class instance as input: methods and prototype do not come along',
    code: `return [typeof input.method, typeof input.secret, input.label, input instanceof Object];`,
    expect: ['OK'],
    validation: 'accept',
    run: () => ({
      input: new (class Account {
        label = 'acct';
        method() {
          return SECRET;
        }
      })(),
    }),
    check: (r) => expect(r.value).toEqual(['undefined', 'undefined', 'acct', true]),
  },
  {
    name: 'cyclic input arrives cyclic, shared references stay shared',
    code: `return [input.self === input, input.a === input.b, input.a.v];`,
    expect: ['OK'],
    validation: 'accept',
    run: () => {
      const shared = { v: 7 };
      const o: Record<string, unknown> = { a: shared, b: shared };
      o.self = o;
      return { input: o };
    },
    check: (r) => expect(r.value).toEqual([true, true, 7]),
  },
  {
    name: 'globals are copies: mutating them changes neither the host object nor the next run',
    code: `cfg.nested.flag = 'pwned'; cfg.list.push(9); return cfg.list.length;`,
    expect: ['OK'],
    validation: 'accept',
    run: (kit) => ({ globals: { cfg: kit.hostObject } }),
    check: async (r, { kit, enclave }) => {
      expect(r.value).toBe(4);
      expect(kit.hostObject).toEqual({ nested: { flag: 'original' }, list: [1, 2, 3] });
      const again = await enclave.run('return [cfg.nested.flag, cfg.list.length];', { globals: { cfg: kit.hostObject } });
      expect(again.value).toEqual(['original', 3]);
    },
  },
  {
    name: 'function globals are realm stubs: constructor chain reaches only the realm',
    code: `return lookup.constructor.constructor(${PWN_LIT})();`,
    expect: ESCAPE_OR_GUARD,
    enclave: { allowFunctionsInGlobals: true },
    run: () => ({ globals: { lookup: (x: unknown) => x } }),
  },
  {
    name: 'function globals do not reveal the host function source',
    code: `return String(lookup) + ' ' + lookup.name;`,
    expect: ['OK', 'RUNTIME_ERROR'],
    enclave: { allowFunctionsInGlobals: true },
    run: () => ({
      globals: {
        // The host function's source text holds a secret: it must never be visible to the script.
        lookup: function lookupImpl(x: unknown) {
          const key = 'sk_live_HUNTER2_in_source';
          return [x, key.length];
        },
      },
    }),
    secrets: ['sk_live_HUNTER2_in_source', 'lookupImpl'],
  },
  {
    name: 'function globals: awaiting one returns a copy of the host return value',
    code: `const v = await lookup(2); v.push(3); return v;`,
    expect: ['OK'],
    validation: 'accept',
    enclave: { allowFunctionsInGlobals: true },
    run: (kit) => ({ globals: { lookup: () => kit.hostObject.list } }),
    check: (r, { kit }) => {
      expect(r.value).toEqual([1, 2, 3, 3]);
      expect(kit.hostObject.list).toEqual([1, 2, 3]);
    },
  },
  {
    name: 'tool arguments: the host tool receives a copy; later script mutations do not reach it',
    code: `const a = { list: [1] }; const p = callTool('echo', a); a.list.push(2); a.late = true; await p; return a.list.length;`,
    expect: ['OK'],
    validation: 'accept',
    check: (_r, { kit }) => expect(kit.calls[0]?.args).toEqual({ list: [1] }),
  },
  {
    name: 'tool arguments: the host tool cannot reach back into the realm through them',
    code: `const a = { n: 1 }; const echoed = await callTool('echo', a); echoed.n = 2; return [a.n, echoed === a];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([1, false]),
  },
  {
    name: 'codec confusion: a returned object that looks like a reference tag stays a plain object',
    code: `return [{ '\\u0000': 'r', v: 0 }, { '\\u0000': 'd', v: 5 }, { '\\u0000': 'm', v: [1, 2] }, { '\\u0000': 'u' }];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([{ '\u0000': 'r', v: 0 }, { '\u0000': 'd', v: 5 }, { '\u0000': 'm', v: [1, 2] }, { '\u0000': 'u' }]),
  },
  {
    name: 'codec confusion: tag-shaped tool arguments reach the tool literally',
    code: `return await callTool('echo', { x: { '\\u0000': 'r', v: 0 }, y: { '\\u0000': 'b', v: '1' } });`,
    expect: ['OK'],
    validation: 'accept',
    check: (r, { kit }) => {
      expect(kit.calls[0]?.args).toEqual({ x: { '\u0000': 'r', v: 0 }, y: { '\u0000': 'b', v: '1' } });
      expect(r.value).toEqual({ x: { '\u0000': 'r', v: 0 }, y: { '\u0000': 'b', v: '1' } });
    },
  },
  {
    name: '__proto__ keys from JSON.parse in tool args never reach the host (DESIGN 5.2)',
    code: `await callTool('echo', JSON.parse('{"__proto__": {"polluted": true}, "\\\\u0000": 1, "nested": {"__proto__": {"then": 1}}}')); return 1;`,
    expect: ['OK'],
    validation: 'accept',
    check: (_r, { kit }) => {
      const args = kit.calls[0]?.args as Record<string, unknown>;
      expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(args, '__proto__')).toBe(false);
      expect(args['\u0000']).toBe(1);
      expect(args.polluted).toBeUndefined();
      const nested = args.nested as Record<string, unknown>;
      expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
      expect(nested.then).toBeUndefined();
    },
  },
  {
    name: '__proto__ keys in the returned value stay own data on the host',
    code: `return JSON.parse('{"__proto__": {"polluted": true}, "list": [{"__proto__": {"then": 1}}]}');`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => {
      const v = r.value as Record<string, unknown>;
      expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
      expect(v.polluted).toBeUndefined();
      const first = (v.list as Record<string, unknown>[])[0] as Record<string, unknown>;
      expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
      expect(first.then).toBeUndefined();
    },
  },
  {
    name: 'returned functions, toJSON and inspect hooks never run on the host',
    code: `return { toJSON() { callTool('echo', { from: 'toJSON' }); return 'x'; }, toString() { callTool('echo', { from: 'toString' }); return 'y'; }, valueOf() { callTool('echo', {}); return 1; }, [Symbol.for('nodejs.util.inspect.custom')]() { callTool('echo', {}); return 'z'; }, data: 1 };`,
    expect: ['OK', 'VALIDATION_ERROR'],
    check: async (r, { kit }) => {
      if (!r.success) return;
      const { inspect } = await import('node:util');
      JSON.stringify(r);
      inspect(r, { depth: 10 });
      const v = r.value as Record<string, unknown>;
      // Functions are dropped from copied objects: none of the script's hooks is an own property.
      for (const k of ['toJSON', 'toString', 'valueOf']) expect(Object.hasOwn(v, k)).toBe(false);
      expect(v.data).toBe(1);
      expect(kit.calls).toEqual([]);
    },
  },
  {
    name: 'a returned Proxy is copied without running its traps on the host',
    code: `let traps = 0; const p = new Proxy({ a: 1 }, { get(t, k) { traps++; callTool('echo', { trap: 'get' }); return 1; }, ownKeys(t) { traps++; return ['a', 'b']; }, getOwnPropertyDescriptor(t, k) { return { value: 'trap', enumerable: true, configurable: true }; } }); return p;`,
    expect: ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR'],
    check: (r, { kit }) => {
      // Whatever the copy holds, no trap ran on the host and no tool call came out of a trap.
      expect(kit.calls).toEqual([]);
      expect(r.value === undefined || typeof r.value === 'object').toBe(true);
    },
  },
  {
    name: 'tool result Date/Map/Set instances are the realm intrinsics (their methods are the realm\'s)',
    code: `const r = await callTool('hostObject', {}); const m = r.map; return [m.get('k').v, r.when.getTime(), [...r.set].length, r.map.get === new Map().get];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual([1, 0, 2, true]),
  },
];

describe.each(ADAPTERS)('invariant 1, no host object reaches the script [$name]', (adapter) => {
  for (const attack of ATTACKS) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, attack);
    });
  }
});

const LEVEL_SUBSET = ATTACKS.filter((a) => /constructor chain on a tool result object|mutating `input`|cyclic tool result/.test(a.name));

describe.each(LEVEL_ADAPTERS)('invariant 1 at other levels [$name]', (adapter) => {
  for (const attack of LEVEL_SUBSET) {
    itBug(isBugRow(attack, adapter))(attack.name, async () => {
      await runAttack(adapter, { ...attack, validation: undefined });
    });
  }
});
