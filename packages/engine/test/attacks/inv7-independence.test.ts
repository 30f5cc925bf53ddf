/**
 * Invariant 7: runs are independent. Nothing one run does is visible to the next (or to a concurrent
 * one), whoever submitted it. Each scenario runs an attacker and then a victim on the same Enclave;
 * with the helpers' pool settings the victim reuses the attacker's realm whenever the runtime judged
 * it clean, which is the case these tests exist for. Victims carry their own secrets and spy tools.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Enclave, ExecutionResult, RunOptions } from '../../src/index.js';
import type { Adapter, ToolKit } from '../helpers.js';
import {
  ADAPTERS,
  LEVEL_ADAPTERS,
  buildEngineForChildren,
  childResult,
  describeChild,
  describeResult,
  expectEventLoopAlive,
  expectHostIntact,
  expectNextTenantClean,
  expectNoLeak,
  hostSnapshot,
  itBug,
  makeEnclave,
  makeToolKit,
  rowEnclave,
  runChild,
  sleep,
} from '../helpers.js';

interface Tenant {
  code: string;
  run?: (kit: ToolKit) => RunOptions;
}

interface Scenario {
  name: string;
  attacker: Tenant;
  victim: Tenant;
  /** Run attacker and victim at the same time instead of one after the other. */
  concurrent?: boolean;
  check: (victim: ExecutionResult, ctx: { attacker: ExecutionResult; attackerKit: ToolKit; victimKit: ToolKit; enclave: Enclave; adapter: Adapter }) => void | Promise<void>;
  /** Confirmed engine bug on these rows (by their `validates` flag). */
  bug?: { rows: readonly ('validated' | 'runtime-only')[]; levels?: readonly string[]; note: string };
}

const VICTIM_SECRET = `victim-secret-${Math.random().toString(36).slice(2)}`;
const ATTACKER_MARK = `attacker-mark-${Math.random().toString(36).slice(2)}`;

/** The victim's own value, unaffected: both results are also walked for leaks of the other's data. */
const victimOk = (expected: unknown) => (victim: ExecutionResult) => {
  expect(victim.error, describeResult(victim)).toBeUndefined();
  expect(victim.value).toEqual(expected);
};

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'Object.prototype pollution is not seen by the next run',
    attacker: { code: `try { Object.prototype.polluted = '${ATTACKER_MARK}'; } catch (e) {} try { ({}).__proto__.then = 1; } catch (e) {} return 1;` },
    victim: { code: 'const o = {}; return [typeof o.polluted, typeof o.then, typeof [].polluted];' },
    check: victimOk(['undefined', 'undefined', 'undefined']),
  },
  {
    name: 'top-level declarations of one run are not globals of the next',
    attacker: { code: `var leaked = '${ATTACKER_MARK}'; let leaked2 = 1; function leaked3() { return 1; } return 1;` },
    victim: { code: "const out = []; for (const read of [() => leaked, () => leaked2, () => leaked3]) { try { out.push(typeof read()); } catch (e) { out.push(e.name); } } return out;" },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      victimOk(['ReferenceError', 'ReferenceError', 'ReferenceError'])(victim);
    },
  },
  {
    name: 'assigning an undeclared name does not create a global',
    attacker: { code: `try { leakedGlobal = '${ATTACKER_MARK}'; } catch (e) { return e.name; } return 'assigned';` },
    victim: { code: "try { return typeof leakedGlobal === 'undefined' ? 'absent' : leakedGlobal; } catch (e) { return e.name; }" },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      expect(['absent', 'ReferenceError']).toContain(victim.value);
    },
  },
  {
    name: 'RegExp legacy statics do not carry the previous run\'s match',
    attacker: { code: `/(\\w+)-(\\d+)/.exec('${VICTIM_SECRET}-42'); return 1;` },
    victim: { code: "return [RegExp.$1, RegExp.lastMatch, RegExp.input, RegExp['$' + '_']].map((v) => typeof v);" },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      victimOk(['undefined', 'undefined', 'undefined', 'undefined'])(victim);
    },
  },
  {
    name: 'a value stashed on the Intl.Segmenter iterator prototype is seen by the next run',
    attacker: { code: `if (typeof Intl === 'undefined') return 'no Intl'; const it = new Intl.Segmenter().segment('a')[Symbol.iterator](); Reflect.getPrototypeOf(it).stash = '${ATTACKER_MARK}'; Reflect.getPrototypeOf(new Intl.Segmenter().segment('a')).stash2 = '${ATTACKER_MARK}'; return 1;` },
    victim: { code: "if (typeof Intl === 'undefined') return ['undefined', 'undefined']; const segs = new Intl.Segmenter().segment('b'); return [typeof segs[Symbol.iterator]().stash, typeof segs.stash2];" },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      victimOk(['undefined', 'undefined'])(victim);
    },
  },
  {
    name: 'a method planted on the Intl.Segmenter prototypes hijacks the next run\'s segmentation',
    attacker: { code: "if (typeof Intl === 'undefined') return 'no Intl'; const P = Reflect.getPrototypeOf(new Intl.Segmenter().segment('a')); const I = Reflect.getPrototypeOf(P[Symbol.iterator].call(new Intl.Segmenter().segment('a'))); I.next = Object.prototype.valueOf; P.containing = Object.prototype.valueOf; return 1;" },
    victim: { code: `if (typeof Intl === 'undefined') return ['${VICTIM_SECRET}'.slice(0, 3), 'object']; const segs = new Intl.Segmenter().segment('${VICTIM_SECRET}'.slice(0, 3)); const parts = []; for (const s of segs) { parts.push(s.segment); if (parts.length > 10) break; } return [parts.join(''), typeof segs.containing(0)];` },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      victimOk([VICTIM_SECRET.slice(0, 3), 'object'])(victim);
      expect((victim.value as unknown[])[1]).toBe('object');
    },
  },
  {
    name: 'the same code run twice keeps no state in the cached factory (closures, template objects)',
    attacker: { code: "const tag = (s) => s; const t = tag`x`; try { t.stash = input.v; } catch (e) {} const memo = []; memo.push(input.v); return [memo.length, typeof t.stash];", run: () => ({ input: { v: ATTACKER_MARK } }) },
    victim: { code: "const tag = (s) => s; const t = tag`x`; try { t.stash = input.v; } catch (e) {} const memo = []; memo.push(input.v); return [memo.length, typeof t.stash];", run: () => ({ input: { v: 'victim' } }) },
    check: victimOk([1, 'undefined']),
  },
  {
    name: 'detached work of a finished run never calls tools afterwards (its own or the next run\'s)',
    attacker: { code: "(async () => { for (let i = 0; i < 50; i++) { await null; await callTool('echo', { from: 'detached', i }); } })(); (async () => { await callTool('slow', { ms: 20 }); await callTool('echo', { from: 'after-slow' }); })(); return 'returned early';" },
    victim: { code: "await callTool('slow', { ms: 60 }); const r = await callTool('echo', { v: 'victim' }); return r.v;" },
    check: async (victim, { attackerKit, victimKit }) => {
      victimOk('victim')(victim);
      await sleep(80);
      expect(attackerKit.calls.filter((c) => c.afterSettled)).toEqual([]);
      expect(victimKit.calls.map((c) => (c.args as { v?: string; ms?: number }).v ?? 'slow')).toEqual(['slow', 'victim']);
    },
  },
  {
    name: 'detached work of a timed-out run never resumes in the next run of the same realm',
    attacker: {
      code: "(async () => { for (let i = 0; i < 1e6; i++) { await callTool('slow', { ms: 5 }); } })(); await callTool('hang', {}); return 1;",
      run: () => ({ timeout: 60 }),
    },
    victim: { code: "const a = await callTool('slow', { ms: 40 }); const b = await callTool('echo', { v: 'victim' }); return [a.waited, b.v];" },
    check: async (victim, { attacker, attackerKit }) => {
      expect(attacker.error?.code).toBe('TIMEOUT');
      victimOk([40, 'victim'])(victim);
      await sleep(60);
      expect(attackerKit.calls.filter((c) => c.afterSettled)).toEqual([]);
    },
  },
  {
    name: 'a late tool result of a timed-out run is never delivered to the next run (same call id)',
    attacker: { code: "const r = await callTool('slow', { ms: 80 }); return r;", run: () => ({ timeout: 30 }) },
    victim: { code: "const r = await callTool('slow', { ms: 150 }); return r.waited;" },
    check: (victim, { attacker }) => {
      expect(attacker.error?.code).toBe('TIMEOUT');
      victimOk(150)(victim);
    },
  },
  {
    name: 'per-run globals and input of one run are not visible to the next',
    attacker: { code: 'return [token, input.secret];', run: () => ({ globals: { token: VICTIM_SECRET }, input: { secret: VICTIM_SECRET } }) },
    victim: { code: "const out = []; try { out.push(typeof token); } catch (e) { out.push(e.name); } out.push(typeof input); return out;" },
    check: (victim) => {
      if (victim.error?.code === 'VALIDATION_ERROR') return;
      expect(victim.value).toEqual(['undefined', 'undefined']);
    },
  },
  {
    name: 'per-run tools of one run are not callable by the next',
    attacker: { code: "return await callTool('tenantA', {});", run: () => ({ tools: { tenantA: () => VICTIM_SECRET } }) },
    victim: { code: "try { return await callTool('tenantA', {}); } catch (e) { return e.code; }" },
    check: victimOk('UNKNOWN_TOOL'),
  },
  {
    name: 'logs of one run do not appear in the next run\'s result',
    attacker: { code: `console.log('${ATTACKER_MARK}'); console.error('${ATTACKER_MARK}'); return 1;` },
    victim: { code: "console.log('mine'); return 1;" },
    check: (victim) => {
      victimOk(1)(victim);
      expect(victim.logs?.map((l) => l.message)).toEqual(['mine']);
    },
  },
  {
    name: 'a run that spent its budgets leaves the next run full budgets',
    attacker: { code: "for (let i = 0; i < 100; i++) { try { await callTool('count', {}); } catch (e) {} } let i = 0; while (i >= 0) { i++; }" },
    victim: { code: "let s = 0; for (let i = 0; i < 500000; i++) s++; for (let k = 0; k < 5; k++) await callTool('count', {}); return s;" },
    check: (victim, { attacker }) => {
      expect(['MAX_TOOL_CALLS', 'MAX_ITERATIONS']).toContain(attacker.error?.code);
      victimOk(500000)(victim);
    },
  },
  {
    name: 'a run whose realm was cut off by the deadline does not affect the next run',
    attacker: { code: 'const keep = []; for (let i = 0; i < 1e15; i++) { keep.length = 0; }', run: () => ({ timeout: 50, maxIterations: 1e9 }) },
    victim: { code: 'return [1, 2, 3].map((x) => x * 2);' },
    check: (victim, { attacker }) => {
      expect(['TIMEOUT', 'MAX_ITERATIONS']).toContain(attacker.error?.code);
      victimOk([2, 4, 6])(victim);
    },
  },
  {
    name: 'unhandled rejections of one run do not fail the next',
    attacker: { code: "Promise.reject(new Error('a')); (async () => { throw new Error('b'); })(); callTool('secret', {}); return 1;" },
    victim: { code: 'await null; return 2;' },
    check: victimOk(2),
  },
  {
    name: 'concurrent runs: the attacker cannot read or change the victim\'s input, tools or results',
    concurrent: true,
    attacker: {
      code: `const seen = []; for (let i = 0; i < 8; i++) { const r = await callTool('echo', { i, mark: '${ATTACKER_MARK}' }); seen.push(r.mark); try { Object.prototype.polluted = 1; } catch (e) {} } return seen.every((m) => m === '${ATTACKER_MARK}');`,
    },
    victim: {
      code: "const got = []; for (let i = 0; i < 8; i++) { const r = await callTool('echo', { i, s: input.s }); got.push(r.s === input.s && r.i === i && ({}).polluted === undefined); } return [got.every(Boolean), input.s];",
      run: () => ({ input: { s: VICTIM_SECRET } }),
    },
    check: (victim, { attacker }) => {
      expect(attacker.value).toBe(true);
      victimOk([true, VICTIM_SECRET])(victim);
      expectNoLeak(attacker, [VICTIM_SECRET]);
    },
  },
  {
    name: 'concurrent runs: one run\'s budget error does not end the other',
    concurrent: true,
    attacker: { code: "await callTool('slow', { ms: 10 }); let i = 0; while (i >= 0) { i++; }" },
    victim: { code: "const r = await callTool('slow', { ms: 40 }); return r.waited;" },
    check: (victim, { attacker }) => {
      expect(attacker.error?.code).toBe('MAX_ITERATIONS');
      victimOk(40)(victim);
    },
  },
  {
    name: 'concurrent runs: aborting one run does not abort the other',
    concurrent: true,
    attacker: {
      code: "await callTool('hang', {});",
      run: () => {
        const c = new AbortController();
        setTimeout(() => c.abort(), 20);
        return { signal: c.signal };
      },
    },
    victim: { code: "const r = await callTool('slow', { ms: 60 }); return r.waited;" },
    check: (victim, { attacker }) => {
      expect(attacker.error?.code).toBe('ABORTED');
      victimOk(60)(victim);
    },
  },
];

function rowKey(adapter: Adapter): string {
  const level = (adapter.options.securityLevel as string | undefined) ?? 'STANDARD';
  return `${level}-${adapter.validates ? 'validated' : 'runtime-only'}`;
}

function isBug(s: Scenario, adapter: Adapter): boolean {
  if (!s.bug) return false;
  if (s.bug.levels) return s.bug.levels.includes(rowKey(adapter));
  return s.bug.rows.includes(adapter.validates ? 'validated' : 'runtime-only');
}

/**
 * `shared`: the row's Enclave, which the scenario leaves as it found it (a worker_threads row's: a new
 * Enclave per scenario started a worker each, about 100 ms of CPU, 40 times per Node version).
 */
async function runScenario(adapter: Adapter, s: Scenario, shared?: Enclave): Promise<void> {
  const before = hostSnapshot();
  const enclave = shared ?? makeEnclave(adapter);
  if (shared !== undefined) {
    // The pool gives a run its first idle worker, in the order they started: once none is starting, the
    // victim that follows the attacker gets the attacker's worker (unless the attack ended it), as on a
    // new Enclave with its one worker.
    await enclave.ready();
    await expect.poll(() => enclave.stats().workers?.startingWorkers).toBe(0);
  }
  const attackerKit = makeToolKit();
  const victimKit = makeToolKit();
  const opts = (t: Tenant, kit: ToolKit): RunOptions => {
    const extra = t.run?.(kit) ?? {};
    return extra.tools !== undefined || extra.toolHandler !== undefined ? extra : { tools: kit.tools, ...extra };
  };
  try {
    let attacker: ExecutionResult;
    let victim: ExecutionResult;
    if (s.concurrent) {
      [attacker, victim] = await Promise.all([enclave.run(s.attacker.code, opts(s.attacker, attackerKit)), enclave.run(s.victim.code, opts(s.victim, victimKit))]);
      attackerKit.settled();
    } else {
      attacker = await enclave.run(s.attacker.code, opts(s.attacker, attackerKit));
      attackerKit.settled();
      victim = await enclave.run(s.victim.code, opts(s.victim, victimKit));
    }
    victimKit.settled();
    if (process.env.EK_ATTACK_DEBUG) process.stdout.write(`[scenario] ${adapter.name} | ${s.name}: attacker ${describeResult(attacker)} victim ${describeResult(victim)}\n`);
    expectHostIntact(before);
    // The attacker's marks never show up in what the victim gets back.
    expectNoLeak(victim, [ATTACKER_MARK]);
    // A validating row may refuse the attacker (or the victim, for scenarios using non-dialect names).
    const refused = adapter.validates && (attacker.error?.code === 'VALIDATION_ERROR' || victim.error?.code === 'VALIDATION_ERROR');
    if (!refused) await s.check(victim, { attacker, attackerKit, victimKit, enclave, adapter });
    await attackerKit.expectNoLateCalls(20);
    await victimKit.expectNoLateCalls(0);
    await expectEventLoopAlive();
    await expectNextTenantClean(enclave);
  } finally {
    if (shared === undefined) enclave.dispose();
  }
}

describe.each(ADAPTERS)('invariant 7, runs are independent [$name]', (adapter) => {
  // worker_threads rows: one Enclave for the row's scenarios (vm rows keep a new one each, which costs
  // a realm, not a thread). Each scenario's victim is still its attacker's next tenant.
  const shared = rowEnclave(adapter);
  for (const s of SCENARIOS) {
    itBug(isBug(s, adapter))(s.name, async () => {
      await runScenario(adapter, s, shared());
    });
  }
});

describe.each(ADAPTERS)('invariant 7: Math.random() starts afresh for every run [$name]', (adapter) => {
  // V8 keeps one generator per realm; a run that recovered its state from its own draws could work out
  // what the run before it drew. Each run now has a generator of its own, seeded by the host: the same
  // realm gives two runs unrelated sequences, and a run's draws look uniform.
  it('two runs in one realm draw unrelated, uniform values', async () => {
    const enclave = makeEnclave(adapter);
    try {
      const code = 'const out = []; for (let i = 0; i < 500; i++) out.push(Math.random()); return out;';
      const [a, b] = [await enclave.run(code), await enclave.run(code)];
      const xs = [...(a.value as number[]), ...(b.value as number[])];
      expect(xs).toHaveLength(1000);
      expect(xs.every((x) => typeof x === 'number' && x >= 0 && x < 1)).toBe(true);
      expect(new Set(xs).size).toBe(1000);
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    } finally {
      enclave.dispose();
    }
  });
});

const LEVEL_SUBSET = SCENARIOS.filter((s) => /pollution|Intl\.Segmenter|detached work of a finished|concurrent runs: the attacker/.test(s.name));

describe.each(LEVEL_ADAPTERS)('invariant 7 at other levels [$name]', (adapter) => {
  for (const s of LEVEL_SUBSET) {
    itBug(isBug(s, adapter))(s.name, async () => {
      await runScenario(adapter, s);
    });
  }
});

/** Globals a walk starts from (each read with `typeof`, so a level without one simply skips it). */
const GLOBAL_NAMES = ['Object', 'Function', 'Array', 'String', 'Number', 'Boolean', 'Symbol', 'BigInt', 'Math', 'JSON', 'Reflect', 'Promise', 'Map', 'Set',
  'WeakMap', 'WeakSet', 'Date', 'RegExp', 'Error', 'TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'URIError', 'EvalError', 'AggregateError',
  'Intl', 'Proxy', 'Iterator', 'parseInt', 'parseFloat', 'isNaN', 'isFinite', 'encodeURIComponent', 'decodeURIComponent', 'encodeURI', 'decodeURI',
  'structuredClone', 'callTool', 'console'];

/**
 * Everything a script can reach, from the globals and from the objects V8 itself makes for it (every
 * `arguments` object, iterator, generator, async function, error, template object, strict `callee`
 * accessor), following own properties, accessors (and what their getters return), and prototypes.
 * `visit(o)` runs once per object. Objects made per run are visited too; they are the script's own.
 */
const WALK = `
const roots = [
  (function () { return arguments; })(1), (function () { 'use strict'; return arguments; })(1),
  (function () { return arguments[Symbol.iterator]; })(),
  [][Symbol.iterator](), new Map().entries(), new Set().values(), ''[Symbol.iterator](), ''.matchAll(/x/g),
  (function* () {})(), (async function* () {})(), async function () {}, function* () {}, async function* () {}, (async () => {})(),
  (() => 1).bind(null), ((s) => s)\`x\`, (() => { try { null.x; } catch (e) { return e; } })(), /x/.exec('x'), new Date(0), 1n, Symbol('s'),
];
try { roots.push([].values().map((x) => x), Iterator.from({ next() { return { done: true }; } })); } catch (e) {}
try { const segs = new Intl.Segmenter().segment('ab'); roots.push(segs, segs[Symbol.iterator]()); } catch (e) {}
${GLOBAL_NAMES.map((n) => `roots.push(typeof ${n} === 'undefined' ? undefined : ${n});`).join('\n')}
const seen = new Set();
const queue = roots.slice();
while (queue.length > 0 && seen.size < 100000) {
  let o = queue.pop();
  // A primitive's prototype, not a wrapper of it: a wrapper is a new object each time a getter hands the
  // primitive out (and a String's indices are more strings), which filled the walk's cap with wrappers
  // before it reached the accessors of the roots listed first, an error's \`stack\` among them.
  if (o !== null && (typeof o === 'bigint' || typeof o === 'symbol' || typeof o === 'string' || typeof o === 'number' || typeof o === 'boolean')) o = Reflect.getPrototypeOf(Object(o));
  if (o === null || (typeof o !== 'object' && typeof o !== 'function') || seen.has(o)) continue;
  seen.add(o);
  visit(o);
  for (const k of Reflect.ownKeys(o)) {
    const d = Reflect.getOwnPropertyDescriptor(o, k);
    if (!d) continue;
    if ('value' in d) queue.push(d.value);
    else {
      queue.push(d.get, d.set);
      if (d.get) { try { queue.push(Reflect.apply(d.get, o, [])); } catch (e) {} }
    }
  }
  queue.push(Reflect.getPrototypeOf(o));
}
`;

/**
 * The runtime alone (no validation, no rewriting), in both isolations: the attacker writes a mailbox
 * into every object it can reach that is not frozen, the victim reads every mailbox it can reach.
 */
const UNGUARDED_ROWS: readonly Adapter[] = [
  { name: 'vm, validate:false transform:false', options: { validate: false, transform: false, realmPool: { maxIdle: 1, prewarm: 0 } }, validates: false },
  { name: 'worker_threads, validate:false transform:false', options: { adapter: 'worker_threads', validate: false, transform: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } }, validates: false },
];

const ENGINE_HELD: readonly Scenario[] = [
  {
    name: 'the original Array.prototype.values (every arguments object\'s @@iterator) carries no mailbox',
    attacker: { code: `const v = (function () { return arguments[Symbol.iterator]; })(); try { v.mailbox = '${ATTACKER_MARK}'; } catch (e) {} return 1;` },
    victim: { code: 'const v = (function () { return arguments[Symbol.iterator]; })(); return v.mailbox ?? null;' },
    check: victimOk(null),
  },
  {
    // Node 22 and later: one getter and one setter per context, shared by every error's own `stack`.
    name: 'the stack accessor every error carries (and Error.captureStackTrace installs) carries no mailbox',
    attacker: { code: `const o = {}; Error.captureStackTrace(o); for (const d of [Reflect.getOwnPropertyDescriptor(new Error('x'), 'stack'), Reflect.getOwnPropertyDescriptor(o, 'stack')]) for (const f of [d.get, d.set]) { try { f.mailbox = '${ATTACKER_MARK}'; } catch (e) {} } return 1;` },
    victim: { code: "let e; try { null.x; } catch (x) { e = x; } const d = Reflect.getOwnPropertyDescriptor(e, 'stack'); return [d.get?.mailbox ?? null, d.set?.mailbox ?? null];" },
    check: victimOk([null, null]),
  },
  {
    name: 'nothing a script reaches (globals, what V8 makes per use, what accessors return) carries a mailbox',
    attacker: { code: `const visit = (o) => { if (!Object.isFrozen(o)) { try { Reflect.defineProperty(o, 'mailbox', { value: '${ATTACKER_MARK}', configurable: true }); } catch (e) {} } };\n${WALK}\nreturn seen.size;` },
    // A walk cut short by its cap would prove nothing about what it did not reach.
    victim: { code: `const found = [];\nconst visit = (o) => { const d = Reflect.getOwnPropertyDescriptor(o, 'mailbox'); if (d) found.push(String(d.value)); };\n${WALK}\nreturn seen.size < 100000 ? found : 'the walk was cut short';` },
    check: victimOk([]),
  },
];

describe.each(UNGUARDED_ROWS)('invariant 7 without the AST layers: every intrinsic the engine hands out is frozen [$name]', (adapter) => {
  for (const s of ENGINE_HELD) {
    it(s.name, async () => {
      await runScenario(adapter, s);
    });
  }
});

/**
 * The memory budget is measured as growth of the whole host heap since the run started. Another run
 * (or the host itself) allocating meanwhile is charged to this run: a tenant can make a concurrent
 * tenant fail. Tried in a child with --expose-gc so that garbage does not blur the measurement.
 */
describe('invariant 7 in a child process: one tenant\'s memory charged to another', () => {
  let engine = '';
  beforeAll(() => {
    engine = buildEngineForChildren();
  }, 120_000);

  const source = (withAttacker: boolean) => `
// The fills are charged their elements to the iteration budget (1.75e6 for the attacker's): a budget that leaves them be.
const enclave = new Enclave({ memoryLimit: 16 * 1024 * 1024, maxIterations: 10_000_000 });
let release;
const gate = new Promise((r) => { release = r; });
const tools = { wait: () => gate };
globalThis.gc();
// The victim checks memory once (its baseline), then waits; meanwhile the attacker allocates 14 MB of
// its own 16 MB and waits too; then the victim allocates about 6 MB of its 16 MB.
const victim = enclave.run("const first = new Array(7e4).fill(0); await callTool('wait', {}); const a = new Array(4e5).fill(1); const b = new Array(4e5).fill(1); return first.length + a.length + b.length;", { tools });
await new Promise((r) => setTimeout(r, 20));
const attacker = ${withAttacker} ? enclave.run("const hoard = new Array(1.75e6).fill(7); await callTool('wait', {}); return hoard.length;", { tools }) : Promise.resolve({ success: true });
await new Promise((r) => setTimeout(r, 50));
release();
const [v, a] = await Promise.all([victim, attacker]);
console.log('RESULT ' + JSON.stringify({ victim: v.success ? 'OK' : v.error.code, attacker: a.success ? 'OK' : a.error.code }));
enclave.dispose();
`;

  it('control: the victim alone stays within its budget', async () => {
    const child = await runChild(engine, source(false), { nodeArgs: ['--expose-gc'], killAfterMs: 20_000 });
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual({ victim: 'OK', attacker: 'OK' });
  }, 30_000);

  // Found as a bug (the attacker's heap was charged to the victim); heap growth is now charged only
  // to the run whose own realm entry caused it.
  it('a concurrent tenant holding 14 MB makes the victim fail its 16 MB budget', async () => {
    const child = await runChild(engine, source(true), { nodeArgs: ['--expose-gc'], killAfterMs: 20_000 });
    expect(child.code, describeChild(child)).toBe(0);
    expect(childResult(child)).toEqual({ victim: 'OK', attacker: 'OK' });
  }, 30_000);
});
