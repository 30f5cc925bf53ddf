/**
 * The host's side of a durable run's non-deterministic values (see realm-runtime/nondeterminism.ts):
 * the shape check for lists of them that arrive from elsewhere (a worker, a journal read back from a
 * store), where they are untrusted input.
 */
import type { NdValue } from './realm-abi.js';

/** Whether `value` is a list of `[kind, value]` pairs a realm could have been given: a random number in [0, 1), or a time that a Date can hold. */
export function isNdValues(value: unknown, maxLength = Infinity): value is NdValue[] {
  if (!Array.isArray(value) || value.length > maxLength) return false;
  for (const item of value) {
    if (!Array.isArray(item) || item.length !== 2) return false;
    const [kind, v] = item as [unknown, unknown];
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    if (kind === 'r' ? v < 0 || v >= 1 : kind !== 't' || Math.abs(v) > 8.64e15) return false;
  }
  return true;
}
