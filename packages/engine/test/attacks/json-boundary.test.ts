/**
 * DESIGN 5.2, results are JSON: whatever a script returns, logs or passes to a tool, the host's own
 * `JSON.stringify` writes it without throwing and within its cap (as written: shared values count each
 * time), and no own `__proto__` key or `constructor.prototype` path reaches the host, where a naive deep
 * merge (the cause of many lodash-style CVEs) would follow it into a host prototype.
 *
 * Canaries are host-side: the host's own JSON.stringify of what it received, the host's prototypes after a
 * hand-written naive merge and after two merge libraries in versions with known prototype-pollution CVEs
 * (deep-extend 0.5.0, CVE-2018-3750; lodash.merge 4.6.1, the constructor payload fixed in 4.6.2), which
 * are first shown to pollute on a raw payload, so the tests can fail.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecutionResult, ToolSet } from '../../src/index.js';
import type { Adapter, Attack, ToolKit } from '../helpers.js';
import { ADAPTERS, LEVEL_ADAPTERS, ONE_WORKER, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';

const require = createRequire(import.meta.url);
type Merge = (target: object, ...sources: unknown[]) => unknown;
const deepExtend = require('deep-extend') as Merge;
const lodashMerge = require('lodash.merge') as Merge;

/** The merge every tutorial shows: no key filter, recursion into whatever the target already has. */
function naiveMerge(target: Record<string, unknown>, source: unknown): Record<string, unknown> {
  if (source === null || typeof source !== 'object') return target;
  for (const key in source as Record<string, unknown>) {
    const value = (source as Record<string, unknown>)[key];
    if (value !== null && typeof value === 'object') {
      if (target[key] === null || (typeof target[key] !== 'object' && typeof target[key] !== 'function')) target[key] = Array.isArray(value) ? [] : {};
      naiveMerge(target[key] as Record<string, unknown>, value);
    } else target[key] = value;
  }
  return target;
}

const MERGES: readonly [string, Merge][] = [
  ['a naive recursive merge', (t, s) => naiveMerge(t as Record<string, unknown>, s)],
  ['deep-extend 0.5.0', deepExtend],
  ['lodash.merge 4.6.1', lodashMerge],
];

const OBJECT_STATICS = ['assign', 'keys', 'defineProperty', 'freeze', 'entries'] as const;
const objectStatics = () => OBJECT_STATICS.map((k) => (Object as unknown as Record<string, unknown>)[k]);
const STATICS_BEFORE = objectStatics();

/** Host prototypes and Object's statics are as they were: what a polluting merge would change. */
function expectNoPollution(where: string): void {
  const probe: Record<string, unknown> = {};
  expect(probe.polluted, `${where}: host Object.prototype polluted`).toBeUndefined();
  expect(probe.isAdmin, `${where}: host Object.prototype polluted`).toBeUndefined();
  expect(Object.keys(Object.prototype), `${where}: host Object.prototype has new keys`).toEqual([]);
  expect(objectStatics(), `${where}: host Object statics replaced`).toEqual(STATICS_BEFORE);
}

function cleanPollution(): void {
  const proto = Object.prototype as Record<string, unknown>;
  delete proto.polluted;
  delete proto.isAdmin;
  OBJECT_STATICS.forEach((k, i) => ((Object as unknown as Record<string, unknown>)[k] = STATICS_BEFORE[i]));
}
afterEach(cleanPollution);

describe('the merge canaries are real: each pollutes the host on a raw payload', () => {
  const payloads = {
    '__proto__ key': '{"__proto__":{"polluted":"yes"}}',
    'constructor.prototype path': '{"constructor":{"prototype":{"polluted":"yes"}}}',
  };
  it.each(MERGES)('%s', (name, merge) => {
    let polluted = 0;
    for (const text of Object.values(payloads)) {
      try {
        merge({}, JSON.parse(text));
      } catch {
        // some libraries throw on one of the shapes
      }
      if (({} as Record<string, unknown>).polluted === 'yes') polluted++;
      cleanPollution();
    }
    expect(polluted, `${name} is not a canary: it polluted on no payload`).toBeGreaterThan(0);
  });
});

// ---- rows -------------------------------------------------------------------------------------------

const TRANSFORM_OFF: readonly Adapter[] = [
  { name: 'vm runtime-only, transform:false', options: { validate: false, transform: false, realmPool: REUSE_ONE_REALM }, validates: false },
  { name: 'worker_threads runtime-only, transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: ONE_WORKER }, validates: false },
];
const ROWS: readonly Adapter[] = [...ADAPTERS, ...TRANSFORM_OFF, ...LEVEL_ADAPTERS];

const OUTPUT_CAP = 64 * 1024;
const LOG_CAP = 32 * 1024;
const ARGS_CAP = 16 * 1024;
/** The result around the value: success, stats, error name/message/code/data, logs' level and time fields. */
const ENVELOPE = 4096;
const CAPS = { maxOutputBytes: OUTPUT_CAP, maxLogBytes: LOG_CAP, maxToolArgsBytes: ARGS_CAP, maxLogEntries: 200 };

/** The host's own JSON.stringify works on the whole result, within the caps plus the envelope. */
function expectSerializable(r: ExecutionResult): string {
  let text = '';
  expect(() => (text = JSON.stringify(r))).not.toThrow();
  const logEnvelope = (r.logs?.length ?? 0) * 80;
  expect(text.length).toBeLessThanOrEqual(OUTPUT_CAP + LOG_CAP + logEnvelope + ENVELOPE);
  if (r.success) expect(JSON.stringify(r.value ?? null).length).toBeLessThanOrEqual(OUTPUT_CAP);
  return text;
}

/**
 * No own `__proto__` key and no object under a `constructor` key anywhere in what the host got: in the
 * result as its own JSON.parse reads it back (which would create such own keys), and in every log line
 * that is JSON.
 */
function expectNoPrototypeKeys(value: unknown, where: string): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown, at: string): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    expect(Object.hasOwn(v, '__proto__'), `${where}: own __proto__ key at ${at}`).toBe(false);
    const c = (v as Record<string, unknown>).constructor;
    if (Object.hasOwn(v, 'constructor')) expect(c !== null && typeof c === 'object', `${where}: object under constructor at ${at}`).toBe(false);
    for (const [k, x] of Object.entries(v)) walk(x, `${at}.${k}`);
  };
  walk(value, 'value');
}
function expectResultWithoutPrototypeKeys(r: ExecutionResult, text: string, where: string): void {
  expectNoPrototypeKeys(JSON.parse(text), where);
  for (const log of r.logs ?? []) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(log.message);
    } catch {
      continue;
    }
    expectNoPrototypeKeys(parsed, `${where}, log`);
  }
}

/** What a tool received: plain JSON data its host can write, within the argument cap. */
function expectArgsSerializable(kit: ToolKit): void {
  for (const call of kit.calls) {
    let text = '';
    expect(() => (text = JSON.stringify(call.args))).not.toThrow();
    expect(text.length).toBeLessThanOrEqual(ARGS_CAP);
  }
}

/**
 * Values a script can build whose in-memory size is small; each is returned, logged and passed to a
 * tool. `dag` doubles 60 times (2^60 leaves as written).
 */
const HOSTILE_VALUES: Record<string, string> = {
  bigint: '12345678901234567890123n',
  'bigint inside': '({ n: 1n, list: [2n, { deep: 3n }] })',
  'object cycle': '(() => { const a = { name: "a" }; a.self = a; return a; })()',
  'array cycle': '(() => { const a = [1]; a.push(a); return a; })()',
  'Map holding itself': '(() => { const m = new Map(); m.set("me", m); return m; })()',
  'Set holding itself': '(() => { const s = new Set(); s.add(s); return s; })()',
  'shared arrays (2^60 as written)': '(() => { let a = ["x"]; for (let i = 0; i < 60; i++) a = [a, a]; return a; })()',
  'shared objects (2^40 as written)': '(() => { let o = { v: "x" }; for (let i = 0; i < 40; i++) o = { l: o, r: o }; return o; })()',
  'shared Map values': '(() => { let m = new Map([["k", "v"]]); for (let i = 0; i < 40; i++) m = new Map([["a", m], ["b", m]]); return m; })()',
  'a big typed array': 'new Uint8Array(20000000)',
  'a long String object': 'new String("y".repeat(3000000))',
  'a huge sparse array': '(() => { const a = []; a.length = 4294967295; return a; })()',
  'strings that grow when escaped': '"\\u0001".repeat(30000)',
  'getters, toJSON and Symbol.toPrimitive that throw or recurse': '({ get g() { throw new Error("g"); }, toJSON() { return this.toJSON(); }, [Symbol.toPrimitive]() { throw 1; }, ok: 1 })',
  'a Proxy whose traps lie': 'new Proxy({}, { ownKeys: () => ["a", "b"], getOwnPropertyDescriptor: (t, k) => ({ value: k === "a" ? 1n : { x: 1 }, enumerable: true, configurable: true }) })',
  'Dates, NaN, -0, undefined, functions and symbols': '({ d: new Date(0), bad: new Date(NaN), n: NaN, z: -0, u: undefined, f() {}, s: Symbol("s"), list: [undefined, () => 1, Symbol("t"), Infinity] })',
  'deep nesting': '(() => { let v = 0; for (let i = 0; i < 20000; i++) v = { v }; return v; })()',
};

/** Outcomes that are all fine here, as long as the host can write them. */
const SERIALIZABLE_OUTCOMES = ['OK', 'OUTPUT_LIMIT_EXCEEDED', 'RUNTIME_ERROR', 'MEMORY_LIMIT_EXCEEDED', 'MAX_ITERATIONS', 'TOOL_ERROR', 'VALIDATION_ERROR'] as const;

const RESULT_ATTACKS: readonly Attack[] = Object.entries(HOSTILE_VALUES).flatMap(([label, expr]): Attack[] => [
  {
    name: `returned: ${label}`,
    code: `const v = ${expr};\nreturn v;`,
    expect: SERIALIZABLE_OUTCOMES,
    enclave: CAPS,
    check: (r) => {
      expectSerializable(r);
      if (/cycle|itself/.test(label)) expect(r.error?.code).toBe('OUTPUT_LIMIT_EXCEEDED');
      if (/as written|long String|sparse/.test(label)) expect(r.error?.code).toBe('OUTPUT_LIMIT_EXCEEDED');
      // Typed arrays exist at some levels only.
      if (/big typed/.test(label)) expect(r.error?.code === 'OUTPUT_LIMIT_EXCEEDED' || r.error?.name === 'ReferenceError').toBe(true);
    },
  },
  {
    name: `logged: ${label}`,
    code: `const v = ${expr};\nconsole.log('v', v); console.error(v); return 'done';`,
    expect: SERIALIZABLE_OUTCOMES,
    enclave: CAPS,
    check: (r) => {
      expectSerializable(r);
      const bytes = (r.logs ?? []).reduce((n, l) => n + JSON.stringify(l.message).length, 0);
      expect(bytes).toBeLessThanOrEqual(LOG_CAP);
    },
  },
  {
    name: `passed to a tool: ${label}`,
    code: `const v = ${expr};\nlet caught = null;\ntry { await callTool('echo', { v }); } catch (e) { caught = e.code; }\ntry { await callTool('echo', v); } catch (e) { caught = e.code; }\nreturn caught;`,
    expect: SERIALIZABLE_OUTCOMES,
    enclave: CAPS,
    check: (r, { kit }) => {
      expectSerializable(r);
      expectArgsSerializable(kit);
      if (/cycle|itself|as written/.test(label) && r.success) expect(r.value).toBe('INVALID_ARGUMENTS');
    },
  },
]);

const MAPPING_ATTACK: Attack = {
  name: 'the documented JSON forms, in results, logs and tool arguments alike',
  code: `const v = { big: 2n ** 64n, d: new Date(0), m: new Map([['k', 1]]), s: new Set([1, 2]), n: NaN, u: undefined, list: [undefined, Infinity], e: new TypeError('t') };
await callTool('echo', v);
console.log(v);
return v;`,
  expect: ['OK'],
  enclave: CAPS,
  check: (r, { kit }) => {
    const expected = { big: '18446744073709551616', d: '1970-01-01T00:00:00.000Z', m: [['k', 1]], s: [1, 2], n: null, list: [null, null], e: { name: 'TypeError', message: 't' } };
    expect(r.value).toEqual(expected);
    expect(kit.calls[0]?.args).toEqual(expected);
    expect(JSON.parse(r.logs?.[0]?.message ?? 'null')).toEqual(expected);
  },
};

const ERROR_DATA_ATTACK: Attack = {
  name: 'a tool error rethrown after the script put a BigInt, a cycle and a __proto__ key on its data',
  code: `try { await callTool('publicError', {}); } catch (e) {
  const c = {}; c.c = c;
  try { e.data = { big: 1n, c, ['__proto__']: { polluted: 1 } }; } catch {}
  try { e.code = 1n; e.tool = c; } catch {}
  throw e;
}`,
  expect: ['TOOL_ERROR', 'RUNTIME_ERROR'],
  check: (r) => {
    const text = expectSerializable(r);
    expectResultWithoutPrototypeKeys(r, text, 'error data');
    for (const merge of MERGES) merge[1]({}, JSON.parse(text));
    expectNoPollution('error data merged');
  },
};

// ---- prototype keys ---------------------------------------------------------------------------------

/** Ways a script builds a value with an own `__proto__` key or a `constructor.prototype` path. */
const PROTO_VALUES: Record<string, string> = {
  'JSON.parse': 'JSON.parse(\'{"__proto__": {"polluted": "yes", "isAdmin": true}, "ok": 1}\')',
  'JSON.parse, escaped key': 'JSON.parse(\'{"__pr\\\\u006fto__": {"polluted": "yes"}, "ok": 1}\')',
  'Object.fromEntries': 'Object.fromEntries([["__pro" + "to__", { polluted: "yes" }], ["ok", 1]])',
  'computed key in a literal': '({ ["__pro" + "to__"]: { polluted: "yes" }, ok: 1 })',
  'Object.defineProperty': '(() => { const o = { ok: 1 }; Object.defineProperty(o, "__pro" + "to__", { value: { polluted: "yes" }, enumerable: true }); return o; })()',
  'constructor.prototype path': '({ ["constr" + "uctor"]: { prototype: { polluted: "yes" } }, ok: 1 })',
  'constructor path to Object statics': '({ ["constr" + "uctor"]: { assign: "replaced", keys: "replaced" }, ok: 1 })',
  'nested in arrays and objects': '({ ok: 1, list: [{ a: JSON.parse(\'{"__proto__": {"polluted": "yes"}}\') }], deep: { x: { ["constr" + "uctor"]: { prototype: { isAdmin: true } } } } })',
  'a Map with prototype keys': 'new Map([["__pro" + "to__", { polluted: "yes" }], ["constr" + "uctor", { prototype: { polluted: "yes" } }]])',
  'a null-prototype object': '(() => { const o = Object.create(null); o["__pro" + "to__"] = { polluted: "yes" }; o.ok = 1; return o; })()',
};

/** Merges what it receives into a fresh object three ways, as a careless host tool would. */
function mergingTools(kit: ToolKit): ToolSet {
  return {
    merge: async (args: unknown) => {
      kit.calls.push({ name: 'merge', args, afterSettled: false });
      for (const [, merge] of MERGES) merge({}, args);
      return 'merged';
    },
  };
}

const PROTO_ATTACKS: readonly Attack[] = Object.entries(PROTO_VALUES).flatMap(([label, expr]): Attack[] => [
  {
    name: `tool arguments built by ${label} reach a merging tool without prototype keys`,
    code: `const v = ${expr};\nawait callTool('merge', v);\nawait callTool('merge', { wrapped: v, list: [v] });\nconsole.log(v);\nreturn 'ok';`,
    expect: ['OK', 'RUNTIME_ERROR'],
    run: (kit) => ({ tools: mergingTools(kit) }),
    check: (r, { kit }) => {
      expectNoPollution(label);
      expectResultWithoutPrototypeKeys(r, expectSerializable(r), label);
      if (r.success) expect(kit.calls).toHaveLength(2);
      for (const call of kit.calls) expectNoPrototypeKeys(call.args, `${label}, tool arguments`);
    },
  },
  {
    name: `a result built by ${label} merges into a host object without reaching a prototype`,
    code: `const v = ${expr};\nreturn { v, list: [v] };`,
    expect: ['OK', 'RUNTIME_ERROR'],
    check: (r) => {
      const text = expectSerializable(r);
      expectResultWithoutPrototypeKeys(r, text, label);
      for (const [name, merge] of MERGES) {
        merge({}, r.value);
        merge({}, JSON.parse(text));
        expectNoPollution(`${label}, result merged by ${name}`);
      }
    },
  },
]);

const ATTACKS: readonly Attack[] = [...RESULT_ATTACKS, MAPPING_ATTACK, ERROR_DATA_ATTACK, ...PROTO_ATTACKS];

describe.each(ROWS)('results are JSON and carry no prototype keys [$name]', (adapter) => {
  // One Enclave per option set, met by every attack in turn, in both isolations (see rowEnclave): a vm
  // row's attack meets the realm the previous tenant left instead of a new one (a realm is about 5 ms of
  // CPU to build; 5 s of this file's 17 per Node version). What crosses the boundary is encoded the same
  // way by either realm: with the codec's prototype-key filter taken out, the same 68 tests fail either way.
  const plain = rowEnclave(adapter, { shareVm: true });
  const capped = rowEnclave({ ...adapter, options: { ...adapter.options, ...CAPS } }, { shareVm: true });
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      const sharedCapped = attack.enclave === CAPS ? capped() : undefined;
      if (sharedCapped !== undefined) await runAttack(adapter, { ...attack, enclave: undefined }, sharedCapped);
      else await runAttack(adapter, attack, plain());
      expectNoPollution(attack.name);
    }, 60_000);
  }
});
