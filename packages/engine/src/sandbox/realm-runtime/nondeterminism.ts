/**
 * The realm's non-deterministic sources, made replayable. In a durable run (one that may pause for a
 * person's approval and later run again from the start against its journal) `Math.random()`,
 * `Date.now()`, `new Date()` and `Date()` take their values from the host, which records each one and
 * hands the same ones back, in the same order, when the run is replayed. The script cannot tell the
 * difference and cannot reach the record: it only ever sees numbers. Other runs keep the native sources.
 */
import type { NdKind } from '../realm-abi.js';
import { current } from './budgets.js';
import { wrap } from './builtins.js';
import { hostNd } from './host.js';
import { DateCtor, G, MathObject, TypeErrorCtor, apply, construct, dateNow, dateToString, defineProperty, gopd, mathRandom, numberIsFinite } from './primordials.js';

/** The value of a source for the current run: the host's in a durable run, the native one otherwise. */
function take(kind: NdKind): number {
  const run = current;
  const live = kind === 'r' ? (apply(mathRandom, MathObject, []) as number) : (apply(dateNow, DateCtor, []) as number);
  if (run === null || !run.durable) return live;
  const v = hostNd(run.id, kind);
  // The host always answers in a durable run; a bridge that failed (a stack overflow on entry) gets a
  // refusal rather than an unrecorded value that a replay could not give back.
  if (typeof v !== 'number' || !numberIsFinite(v)) throw new TypeErrorCtor('The current time or a random number is unavailable right now.');
  return v;
}

const durableRun = (): boolean => current !== null && current.durable;

/** Installs the replayable sources. Runs once, at install, before lockdown freezes them. */
export function installNondeterminism(): void {
  wrap(MathObject, 'random', () => ({ random() { return durableRun() ? take('r') : apply(mathRandom, MathObject, []); } }));
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
  defineProperty(NativeDate.prototype, 'constructor', { value: SafeDate, writable: true, enumerable: false, configurable: true });
  defineProperty(G, 'Date', { value: SafeDate, writable: true, enumerable: false, configurable: true });
}
