/**
 * The realm's non-deterministic sources, made replayable. In a durable run (one that may pause for a
 * person's approval and later run again from the start against its journal) `Math.random()`,
 * `Date.now()`, `new Date()` and `Date()` take their values from the host, which records each one and
 * hands the same ones back, in the same order, when the run is replayed. So do the clock reads of
 * `Intl.DateTimeFormat`'s `format()` and `formatToParts()` without a date, where the level keeps Intl.
 * The script cannot tell the difference and cannot reach the record: it only ever sees numbers. Other
 * runs keep the native sources.
 */
import type { NdKind } from '../realm-abi.js';
import { current } from './budgets.js';
import { checkIcu, sortKey, wrap, wrapHandedOut } from './builtins.js';
import { displace } from './displaced.js';
import { hostNd } from './host.js';
import {
  DateCtor,
  DateTimeFormatPrototype,
  G,
  MathObject,
  TypeErrorCtor,
  apply,
  construct,
  dateGetTime,
  dateNow,
  dateToString,
  defineProperty,
  gopd,
  mathImul,
  mathRandom,
  numberIsFinite,
  symbolToPrimitive,
} from './primordials.js';

/** The value of a source for the current run: the host's in a durable run, the native one otherwise. */
function take(kind: NdKind): number {
  const run = current;
  // Only read where the run is not durable: drawing here would advance the run's own generator for nothing.
  if (run === null || !run.durable) return kind === 'r' ? runRandom() : (apply(dateNow, DateCtor, []) as number);
  const v = hostNd(run.id, kind);
  // The host always answers in a durable run; a bridge that failed (a stack overflow on entry) gets a
  // refusal rather than an unrecorded value that a replay could not give back.
  if (typeof v !== 'number' || !numberIsFinite(v)) throw new TypeErrorCtor('The current time or a random number is unavailable right now.');
  return v;
}

const durableRun = (): boolean => current !== null && current.durable;

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/** The next 32 bits of a run's own generator (xoshiro128**, state in `rng`). */
export function next32(s: number[]): number {
  const s0 = s[0] as number;
  const s1 = s[1] as number;
  const s2 = (s[2] as number) ^ s0;
  const s3 = (s[3] as number) ^ s1;
  const result = mathImul(rotl(mathImul(s1, 5), 7), 9) >>> 0;
  s[0] = s0 ^ s3;
  s[1] = s1 ^ s2;
  s[2] = s2 ^ (s1 << 9);
  s[3] = rotl(s3, 11);
  return result;
}

/** A double in [0, 1) with 53 random bits, from the current run's generator (the realm's outside a run). */
export function runRandom(): number {
  const run = current;
  if (run === null) return apply(mathRandom, MathObject, []) as number;
  const hi = next32(run.rng) >>> 5;
  const lo = next32(run.rng) >>> 6;
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** A date argument of Intl.DateTimeFormat: none means now, which a durable run takes from its clock source. */
const dateOrNow = (date: unknown): unknown => (date === undefined && durableRun() ? take('t') : date);

/** Without a date, `format` and `formatToParts` read the clock: a durable run's come from its source. */
function installDateTimeFormatClock(proto: object): void {
  wrap(proto, 'formatToParts', (orig) => ({ formatToParts(this: unknown, date: unknown) { return apply(orig, this, [dateOrNow(date)]); } }));
  wrapHandedOut(proto, 'format', (native) => ({ format(date: unknown) { return apply(native, undefined, [dateOrNow(date)]); } }).format);
}

/**
 * V8 parses a date string (`Date.parse`, `new Date(s)`) in one native step that ignores termination, at
 * about 20 ns a character: a string of 1.2e8 spaces held a vm host 2.4 s past a 300 ms deadline
 * (PERMISSIVE, validate:false, transform:false, Node 24; 0.6 s at STANDARD's longest string). A date is
 * short: a longer string is refused, as the ICU calls refuse theirs (see checkIcu).
 */
function dateText<T>(v: T): T {
  if (typeof v === 'string') checkIcu('A date string', v.length);
  return v;
}

const primitive = (v: unknown): boolean => v === null || (typeof v !== 'object' && typeof v !== 'function');

/**
 * What `new Date(v)` makes of one argument, read as the native reads it: a Date's time value, else
 * ToPrimitive (the script's `Symbol.toPrimitive`, `valueOf` or `toString`, each called once), so that a
 * string it answers is seen before V8 parses it.
 */
function dateArgument(v: unknown): unknown {
  if (primitive(v)) return dateText(v);
  try {
    return apply(dateGetTime, v, []);
  } catch {
    // Not a Date: converted below.
  }
  const o = v as Record<PropertyKey, unknown>;
  const exotic = o[symbolToPrimitive];
  if (exotic !== undefined && exotic !== null) {
    if (typeof exotic !== 'function') throw new TypeErrorCtor('Symbol.toPrimitive is not a function');
    const r = apply(exotic as (hint: string) => unknown, o, ['default']);
    if (!primitive(r)) throw new TypeErrorCtor('Cannot convert object to primitive value');
    return dateText(r);
  }
  const names = ['valueOf', 'toString'] as const;
  for (let i = 0; i < 2; i++) {
    const f = o[names[i] as string];
    if (typeof f === 'function') {
      const r = apply(f as () => unknown, o, []);
      if (primitive(r)) return dateText(r);
    }
  }
  throw new TypeErrorCtor('Cannot convert object to primitive value');
}

/** Installs the replayable sources. Runs once, at install, before lockdown freezes them. */
export function installNondeterminism(intl: boolean): void {
  if (intl && DateTimeFormatPrototype !== undefined) installDateTimeFormatClock(DateTimeFormatPrototype);
  wrap(MathObject, 'random', () => ({ random() { return durableRun() ? take('r') : runRandom(); } }));
  wrap(DateCtor, 'now', () => ({ now() { return durableRun() ? take('t') : apply(dateNow, DateCtor, []); } }));
  const NativeDate = DateCtor;
  const SafeDate = function Date(this: unknown, ...args: unknown[]): unknown {
    // Called without `new`, Date ignores its arguments and answers the current time as a string.
    if (new.target === undefined) return apply(dateToString, construct(NativeDate, durableRun() ? [take('t')] : []), []);
    const target = new.target === SafeDate ? NativeDate : new.target;
    if (args.length === 0 && durableRun()) return construct(NativeDate, [take('t')], target);
    if (args.length === 1) args[0] = dateArgument(args[0]);
    return construct(NativeDate, args, target);
  };
  const keys = ['prototype', 'now', 'parse', 'UTC', 'length', 'name'];
  for (let i = 0; i < keys.length; i++) {
    const d = gopd(NativeDate, keys[i] as string);
    if (d) defineProperty(SafeDate, keys[i] as string, d);
  }
  wrap(SafeDate, 'parse', (orig) => ({ parse(text: unknown) { return apply(orig, NativeDate, [dateText(sortKey(text))]); } }));
  displace(NativeDate);
  defineProperty(NativeDate.prototype, 'constructor', { value: SafeDate, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'Date', { value: SafeDate, writable: true, enumerable: false, configurable: true });
}
