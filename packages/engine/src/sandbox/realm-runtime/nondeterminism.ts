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
import { wrap, wrapHandedOut } from './builtins.js';
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
  dateNow,
  dateToString,
  defineProperty,
  gopd,
  mathImul,
  mathRandom,
  numberIsFinite,
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
    return construct(NativeDate, args, target);
  };
  const keys = ['prototype', 'now', 'parse', 'UTC', 'length', 'name'];
  for (let i = 0; i < keys.length; i++) {
    const d = gopd(NativeDate, keys[i] as string);
    if (d) defineProperty(SafeDate, keys[i] as string, d);
  }
  displace(NativeDate);
  defineProperty(NativeDate.prototype, 'constructor', { value: SafeDate, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'Date', { value: SafeDate, writable: true, enumerable: false, configurable: true });
}
