/**
 * Messages between the host and a worker of the `worker_threads` adapter. Every message is a JSON text
 * (never a structured-clone object graph), size-checked before it is parsed, and shaped as a tuple whose
 * first element names it.
 */
import type { RuntimeLimits } from '../levels.js';
import type { ExecutionResult } from '../types.js';

/** What a worker gets at start, through `workerData` (never reachable from a realm). */
export interface WorkerInit {
  /** One Int32: 1 while script code runs in a realm entry, 0 otherwise. */
  flag: SharedArrayBuffer;
  intl: boolean;
  proxy: boolean;
  /** Largest message text the worker accepts. */
  maxMessageBytes: number;
}

/** The parts of a run plan that cross to the worker. */
export interface WireRunPlan {
  runId: string;
  globalNames: readonly string[];
  functionNames: readonly string[];
  inputText: string | null;
  globalsText: string | null;
  limits: RuntimeLimits;
  /**
   * Milliseconds of the run already spent when the message was sent (queue wait, checks). Each thread's
   * `performance.timeOrigin` is its own, so the deadline crosses as time elapsed, not as a timestamp.
   */
  elapsed: number;
}

export type HostMessage =
  /** Start run `id`: the rewritten script's cache key and source, and the plan. */
  | ['run', number, string, string, WireRunPlan]
  /** The reply to tool call `callIndex` of run `id`: `[ok, payload]` as in `ToolReply`. */
  | ['reply', number, number, 0 | 1, string]
  /** End run `id` now (deadline or abort in the host); the worker answers with its `done`. */
  | ['cancel', number];

export type WorkerMessage =
  | ['ready']
  /** Run `id` calls a tool: call index, name, and the arguments as realm codec text. */
  | ['call', number, number, string, string]
  /** Run `id` ended. A successful value is codec text; locations are in the rewritten script. */
  | ['done', number, ExecutionResult, boolean];

/** Parses a message text no longer than `maxBytes` characters; throws on anything malformed. */
export function checkMessage(text: unknown, maxBytes: number): unknown[] {
  if (typeof text !== 'string') throw new TypeError('message is not text');
  if (text.length > maxBytes) throw new RangeError('message too large');
  const message: unknown = JSON.parse(text);
  if (!Array.isArray(message) || typeof message[0] !== 'string') throw new TypeError('malformed message');
  return message;
}
