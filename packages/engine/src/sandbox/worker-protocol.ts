/**
 * Messages between the host and a worker of the `worker_threads` isolation. Every message is text,
 * size-checked before it is parsed: a JSON tuple whose first element names it. Text that is already
 * JSON or code travels after the first newline (JSON.stringify never writes a raw newline), so it is
 * not escaped into a second JSON string and unescaped again: a run's rewritten script, a tool's reply
 * (for a 260 KB result that was 3.1 ms of the call against 1.1 ms) and a run's value.
 */
import { MAX_DECODE_DEPTH, jsonWithin } from '../sanitize/codec.js';
import type { EntryCall, EntryEnd, EntryLog, IsolatedJob } from './isolation.js';
import type { NdValue } from './realm-abi.js';
import type { RealmPoolOptions } from './realm.js';

/** What a worker gets at start, through `workerData` (never reachable from a realm). */
export interface WorkerInit {
  /** One Int32: 1 while script code runs in a realm entry, 0 otherwise. */
  flag: SharedArrayBuffer;
  /**
   * One BigInt64: the iterations the current run had counted at its last heap check, -1 before the
   * first; the host reads it when it ends a run while the worker is busy (see IsolatedRun.iterations).
   */
  progress: SharedArrayBuffer;
  /** The host's count of compiles under way with V8's compilation cache off (see compile.ts). */
  compiles: SharedArrayBuffer;
  realms: RealmPoolOptions;
  /** Largest message text the worker accepts. */
  maxMessageBytes: number;
  /** The heap, in bytes, the worker's runs may fill (`memoryLimitPerWorker`); V8's own limit is higher. */
  heapCeiling: number;
  /** The realm runtime's compiled code, made by the host (see runtimeCodeForWorkers in realm.ts), where it makes it. */
  runtimeCode: Uint8Array | undefined;
}

/**
 * A job as it crosses: the deadline as the milliseconds left when the message was sent, because each
 * thread's `performance.timeOrigin` is its own.
 */
export type WireJob = Omit<IsolatedJob, 'deadline' | 'source' | 'inputText' | 'globalsText' | 'positions'> & {
  remaining: number;
  /** Lengths of the input's and the globals' codec texts at the start of the tail (-1: none); the script follows them. */
  input: number;
  globals: number;
  /**
   * IsolatedJob.positions, made before the job is sent (a worker cannot ask for it later): the anchors
   * and the prefix here, the user's text (of length `user`) in the tail after the globals, before the script.
   */
  anchors?: string;
  prefix?: number;
  user?: number;
};

/** A tool call as it crosses: the length of its argument text, which travels after the newline. */
export type WireCall = [callId: number, name: string, argsLength: number];

/** A run's end as it crosses: a report's value travels after the newline. */
export type WireEnd = Exclude<EntryEnd, { kind: 'report' }> | { kind: 'report'; report: string };

export type HostMessage =
  /** Start run `id`; the input's and globals' codec texts, then the rewritten script, follow the newline. */
  | ['run', number, WireJob]
  /** The reply to tool call `callId` of run `id`: `ok` as in `ToolReply`; its payload follows the newline. */
  | ['reply', number, number, 0 | 1]
  /** End run `id` now (deadline or abort in the host); the worker answers with a final `entry`. */
  | ['cancel', number];

export type WorkerMessage =
  | ['ready']
  /**
   * What one realm entry of run `id` produced. With an end, the run is over on the worker, and the last
   * fields say whether it changed the worker's own globals, and whether the worker's heap is still so
   * full afterwards that it should be replaced; the optional last one, in a durable run, is the values
   * its non-deterministic sources gave in the entry (see EntryOutput.nd, null when there are none) and
   * after it the iterations the run had counted (see EntryOutput.iterations).
   */
  | ['entry', number, WireCall[], EntryLog[], WireEnd | null, boolean, boolean, (NdValue[] | null)?, number?];

/** A message's text as `checkMessage` reads it: the tuple's JSON, then `tail` (if any) after a newline. */
export function formatMessage(message: readonly unknown[], tail?: string): string {
  return tail === undefined ? JSON.stringify(message) : `${JSON.stringify(message)}\n${tail}`;
}

/** An entry's calls and end as `wireEntry` writes them; `tail` follows the newline. */
export interface WireEntry<C> {
  calls: C[];
  end: WireEnd | null;
  tail: string | undefined;
}

/**
 * An entry's calls and end as they cross, as `readEntry` reads them: each call's argument text (JSON
 * already) and then a report's value follow the newline, in `tail`. With `embedArgs` the argument texts
 * stay inside the calls instead (for apps from before runtime nodes framed them).
 */
export function wireEntry(calls: readonly EntryCall[], end: EntryEnd | null): WireEntry<WireCall>;
export function wireEntry(calls: readonly EntryCall[], end: EntryEnd | null, embedArgs: boolean): WireEntry<WireCall | EntryCall>;
export function wireEntry(calls: readonly EntryCall[], end: EntryEnd | null, embedArgs = false): WireEntry<WireCall | EntryCall> {
  let tail = '';
  const wireCalls: (WireCall | EntryCall)[] = [];
  for (const call of calls) {
    if (embedArgs) wireCalls.push(call);
    else {
      wireCalls.push([call[0], call[1], call[2].length]);
      tail += call[2];
    }
  }
  let wireEnd: WireEnd | null = end;
  if (end?.kind === 'report') {
    wireEnd = { kind: 'report', report: end.report };
    tail += end.value;
  }
  return { calls: wireCalls, end: wireEnd, tail: tail === '' ? undefined : tail };
}

/**
 * Parses a message text no longer than `maxBytes` characters, whose tuple (the JSON before the newline)
 * holds at most `maxValues` values and nests at most MAX_DECODE_DEPTH deep (see jsonWithin: measured
 * before it is parsed); throws on anything malformed.
 */
export function checkMessage(text: unknown, maxBytes: number, maxValues = Infinity): { message: unknown[]; tail: string } {
  if (typeof text !== 'string') throw new TypeError('message is not text');
  if (text.length > maxBytes) throw new RangeError('message too large');
  const nl = text.indexOf('\n');
  const head = nl === -1 ? text : text.slice(0, nl);
  if (maxValues !== Infinity && !jsonWithin(head, MAX_DECODE_DEPTH, maxValues)) throw new RangeError('message holds too many values');
  const message: unknown = JSON.parse(head);
  if (!Array.isArray(message) || typeof message[0] !== 'string') throw new TypeError('malformed message');
  return { message, tail: nl === -1 ? '' : text.slice(nl + 1) };
}
