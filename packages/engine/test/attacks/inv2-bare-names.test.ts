/**
 * Invariants 1 and 2 without the AST layers: a bare identifier resolves through the realm's global
 * object, so every name a script can write, declared or not, must lead to realm objects only. These
 * attacks run with validation off, with the rewriter's guards off, and with both off, in both
 * isolations and at every level: the runtime must hold on its own.
 *
 * The canaries are on the host side: a host global and `process.env` (PWN), a file the payload writes
 * through `process.getBuiltinModule('fs')` (an escape into a worker thread reaches the machine's files
 * that way), a host function the payload calls, and snapshots of the host's prototypes.
 */
import { describe, expect, it } from 'vitest';
import type { CreateEnclaveOptions } from '../../src/index.js';
import type { Adapter, Attack, Outcome } from '../helpers.js';
import { escapeCanaries, ONE_WORKER, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';

/**
 * What an escaped `Function` runs: it sets a host global, writes a file and calls a host function.
 * A realm `Function` cannot even compile it (code generation from strings is off there).
 */
const { payload: PAYLOAD } = escapeCanaries('bare-names');
const P = JSON.stringify(PAYLOAD);

/** Tries every way to turn a value into a host function call, and never throws. */
const ESCALATE = `const escalate = (v) => {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return;
  const tries = [
    () => v.constructor.constructor(${P})(),
    () => v.constructor(${P})(),
    () => v(${P})(),
    () => Object.getPrototypeOf(v).constructor.constructor(${P})(),
    () => v.__proto__.constructor.constructor(${P})(),
    () => v.call(undefined, ${P})(),
    () => { v.polluted = 'hacked'; },
    () => { v.__pwned = 1; },
  ];
  for (const t of tries) { try { t(); } catch {} }
};`;

/** Names a bare identifier could resolve to through the global object's prototype chain. */
const PROTOTYPE_NAMES = [
  ...new Set([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype)]),
].sort();

/** Reads, typeof, calls and chains from a bare name; the assignment is a script of its own (see below). */
function useName(name: string): string {
  return `${ESCALATE}
const out = [];
const probe = (label, f) => { try { const v = f(); out.push(label + ':' + typeof v); escalate(v); } catch (e) { out.push(label + ':threw'); } };
probe('read', () => ${name});
probe('typeof', () => typeof ${name});
probe('call', () => ${name}());
probe('call with a payload', () => ${name}(${P}));
probe('call a string', () => ${name}.call('x'));
probe('chain', () => ${name}.constructor.constructor(${P})());
probe('prototype', () => ${name}.prototype);
probe('proto chain', () => ${name}.__proto__.constructor.constructor(${P})());
probe('getter lookup', () => ${name}.__lookupGetter__ && ${name}.__lookupGetter__('__proto__'));
return out;`;
}

const ANY: readonly Outcome[] = ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR'];

const ATTACKS: Attack[] = [
  ...PROTOTYPE_NAMES.map((name): Attack => ({ name: `bare \`${name}\`: read, typeof, call, chain`, code: useName(name), expect: ANY })),
  ...PROTOTYPE_NAMES.map(
    (name): Attack => ({
      name: `bare \`${name}\`: assigned, then used`,
      code: `${ESCALATE}\n${name} = function () { return 1; }; escalate(${name}); return typeof ${name};`,
      // Assigning `arguments` is an early error in strict code; everything else throws at run time.
      expect: ANY,
    }),
  ),
  ...PROTOTYPE_NAMES.map(
    (name): Attack => ({
      name: `bare \`${name}\`: delete`,
      // Deleting an unqualified name is a syntax error in strict code: the script never runs.
      code: `delete ${name}; return typeof ${name};`,
      expect: ['VALIDATION_ERROR', 'RUNTIME_ERROR'],
    }),
  ),
  {
    name: 'upstream: `__proto__.isAdmin = true`',
    code: `__proto__.isAdmin = true; return ({}).isAdmin;`,
    expect: ANY,
  },
  {
    name: "upstream: `constructor.prototype.polluted = 'hacked'`",
    code: `constructor.prototype.polluted = 'hacked'; return ({}).polluted;`,
    expect: ANY,
  },
  {
    name: 'a bare `constructor` is the realm Object, not the host one',
    // The global object's own prototype is an empty realm object whose prototype is Object.prototype.
    code: `const C = constructor; let p = __proto__; for (let i = 0; i < 4 && p !== null && p !== Object.prototype; i++) p = Object.getPrototypeOf(p);
return [C === Object, C === ({}).constructor, p === Object.prototype];`,
    expect: ['OK', 'RUNTIME_ERROR', 'VALIDATION_ERROR'],
    check: (r) => {
      if (r.success) expect(r.value).toEqual([true, true, true]);
    },
  },
  {
    name: 'the full chain `constructor.constructor(...)()` through every prototype name',
    code: `${ESCALATE}
const names = ${JSON.stringify(PROTOTYPE_NAMES.filter((n) => n !== 'arguments' && n !== 'caller'))};
const got = [];
for (const n of names) { try { got.push(typeof constructor.prototype[n]); escalate(constructor.prototype[n]); } catch { got.push('threw'); } }
try { constructor.constructor(${P})(); } catch {}
try { hasOwnProperty.constructor(${P})(); } catch {}
try { __lookupGetter__.call(constructor.prototype, '__proto__').constructor(${P})(); } catch {}
try { toString.constructor(${P})(); } catch {}
return got;`,
    expect: ANY,
  },
  {
    name: 'pollution through bare `__proto__`: properties, accessors, prototype swaps',
    code: `const tries = [
  () => { __proto__.polluted = 'hacked'; },
  () => { __proto__.__proto__ = { polluted: 'hacked' }; },
  () => { __proto__ = { polluted: 'hacked' }; },
  () => { Object.assign(__proto__, { polluted: 'hacked' }); },
  () => { Object.defineProperty(__proto__, 'polluted', { value: 'hacked' }); },
  () => { Reflect.set(__proto__, 'polluted', 'hacked'); },
  () => { __defineGetter__('polluted', () => 'hacked'); },
  () => { __proto__.__defineGetter__('polluted', () => 'hacked'); },
  () => { __defineSetter__('then', () => {}); },
  () => { constructor.prototype.toString = () => 'hacked'; },
  () => { constructor.assign(constructor.prototype, { polluted: 'hacked' }); },
  () => { Object.setPrototypeOf(__proto__, { polluted: 'hacked' }); },
];
const out = [];
for (const t of tries) { try { t(); out.push('done'); } catch (e) { out.push('threw'); } }
return [out, typeof ({}).polluted, typeof [].polluted];`,
    expect: ANY,
    check: (r) => {
      if (r.success) {
        const [, objPolluted, arrPolluted] = r.value as unknown[];
        // The realm's own prototypes are frozen too, so not even the realm sees the key.
        expect(objPolluted).toBe('undefined');
        expect(arrPolluted).toBe('undefined');
      }
    },
  },
  {
    name: 'the global object through any spelling that survives without the validator',
    code: `${ESCALATE}
const spellings = {
  globalThis: () => globalThis,
  self: () => self,
  window: () => window,
  global: () => global,
  frames: () => frames,
  this: () => this,
  strictFunctionThis: () => (function () { return this; })(),
  arrowThis: () => (() => this)(),
  functionCtor: () => constructor.constructor('return this')(),
  indirectEval: () => (0, eval)('this'),
  valueOf: () => valueOf(),
  valueOfCall: () => valueOf.call(),
  protoOfProto: () => __proto__,
  lookupGetter: () => __lookupGetter__('__proto__').call(undefined),
  callee: () => (function () { return arguments.callee; })(),
  promiseThis: () => Promise.resolve().then(function () { return this; }),
  errorStackThis: () => { let t; const E = Error; try { E.prepareStackTrace = (e, frames) => { t = frames[0] && frames[0].getThis(); return ''; }; void new E().stack; } catch {} return t; },
  getterThis: () => ({ get g() { return this; } }).g,
};
const out = {};
for (const k of Object.keys(spellings)) {
  try {
    const g = spellings[k]();
    out[k] = g === undefined ? 'undefined' : typeof g;
    escalate(g);
    if (g && typeof g === 'object') { try { g.__pwned = 1; } catch {} try { g.process = 1; } catch {} }
  } catch (e) { out[k] = 'threw'; }
}
return out;`,
    expect: ANY,
  },
  {
    name: 'a global a run defines is not seen by the next run (the global object is frozen)',
    code: `const out = [];
for (const f of [() => { leaked = 1; }, () => { Object.defineProperty(constructor.prototype, 'leaked', { value: 1 }); }, () => { __proto__.leaked = 1; }]) {
  try { f(); out.push('done'); } catch { out.push('threw'); }
}
return out;`,
    expect: ANY,
    check: (r) => {
      if (r.success) expect(r.value).toEqual(['threw', 'threw', 'threw']);
    },
  },
];

type Mode = { label: string; options: CreateEnclaveOptions; validates: boolean };
const MODES: readonly Mode[] = [
  { label: 'validate:false', options: { validate: false }, validates: false },
  { label: 'transform:false', options: { transform: false }, validates: true },
  { label: 'validate:false transform:false', options: { validate: false, transform: false }, validates: false },
];
const ISOLATIONS = [
  { label: 'vm', options: { realmPool: REUSE_ONE_REALM } },
  { label: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: ONE_WORKER } },
] as const;
const LEVELS = ['STRICT', 'STANDARD', 'PERMISSIVE'] as const;

const ROWS: Adapter[] = ISOLATIONS.flatMap((iso) =>
  LEVELS.flatMap((level) =>
    MODES.map((mode) => ({
      name: `${iso.label} ${level} ${mode.label}`,
      options: { ...iso.options, ...mode.options, securityLevel: level } as CreateEnclaveOptions,
      validates: mode.validates,
    })),
  ),
);

describe.each(ROWS)('bare names resolve to realm objects only [$name]', (row) => {
  // vm rows share the row's Enclave as worker rows do: each attack meets the realm the previous tenant
  // left (when it was judged clean), as on a long-lived server, and its own next tenant after it. A new
  // Enclave per attack built a realm for each (about 5 ms of CPU, 7 s of this file's 18 per Node
  // version). A bare name resolves through the frozen global alike in a new realm and a reused one, and
  // the canaries are the host's: with a bare name made to lead to a host object, the same 1,090 tests
  // fail either way.
  const shared = rowEnclave(row, { shareVm: true });
  for (const attack of ATTACKS) {
    it(attack.name, async () => {
      await runAttack(row, attack, shared());
    });
  }
});
