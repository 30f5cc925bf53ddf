/**
 * Calls into the host. The bridge functions are host functions: one of them can still throw on entry
 * (a stack overflow, raised by V8 before the function's own try/catch runs), and that error belongs to
 * the host realm, a host `Function` away from `process`. Every call goes through `host()`, which
 * swallows whatever the call throws without ever binding it to a variable.
 */
import type { HeapState, HostBridge, LogLevel, NdKind } from '../realm-abi.js';

let bridge: HostBridge | null = null;

/** Takes the bridge's functions once, at install: the host object itself is never read again. */
export function connect(from: HostBridge): void {
  if (bridge !== null) return;
  const { begin, tool, take, done, log, heap, nd, positions } = from;
  bridge = { begin, tool, take, done, log, heap, nd, positions };
}

// Fixed arity, no spread: the spread of an array goes through the array iterator, which the realm's
// lockdown wraps (and which refuses to run once the run is over).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each bridge function has its own fixed signature
function host<R>(fn: ((...args: any[]) => R) | undefined, a?: unknown, b?: unknown, c?: unknown, d?: unknown): R | undefined {
  try {
    return fn === undefined ? undefined : fn(a, b, c, d);
  } catch {
    return undefined;
  }
}

export const hostBegin = (): string | undefined => host(bridge?.begin);
export const hostCall = (id: number, callId: number, name: string, argsText: string): 0 | 1 | undefined => host(bridge?.tool, id, callId, name, argsText);
export const hostTake = (id: number): string | undefined => host(bridge?.take, id);
export const hostDone = (id: number, report: string, value: string): void => {
  host(bridge?.done, id, report, value);
};
export const hostLog = (id: number, level: LogLevel, line: string): void => {
  host(bridge?.log, id, level, line);
};
export const hostHeap = (id: number, iterations: number): HeapState | undefined => host(bridge?.heap, id, iterations);
export const hostNd = (id: number, kind: NdKind): number | undefined => host(bridge?.nd, id, kind);
export const hostPositions = (id: number): string | undefined => host(bridge?.positions, id);
