/**
 * What the host's run driver needs from a place that executes scripts. `vm` (a realm in this thread)
 * and `worker_threads` (the same realm in a pool of workers) implement it; the driver (driver.ts) owns
 * everything else about a run: deadline, abort, tool calls, logs, budgets it can check, the result.
 *
 * A run reports what happened in units of realm entries: after each entry (its start, and each delivery
 * of tool replies), the tool calls the script made, the lines it logged, and how it ended if it did.
 * Nothing is reported from inside an entry, so no host code runs while script code might.
 */
import type { IsolationKind } from '../types.js';
import type { LogLevel, NdValue, RealmLimits, ToolReply } from './realm-abi.js';

export type { IsolationKind };

/** One run as an isolation gets it: everything crosses as text or plain data. */
export interface IsolatedJob {
  /**
   * The rewritten script, compiled with `lineOffset: -1` in the thread that runs it. It is its own key:
   * each thread compiles a text once, and each realm registers its factory once.
   */
  source: string;
  limits: RealmLimits;
  /** Codec text of `input` and of the data globals, or null. */
  inputText: string | null;
  globalsText: string | null;
  /** The factory's global parameters, in order, and which of them are host functions. */
  globalNames: readonly string[];
  functionNames: readonly string[];
  /** `performance.now()` in the host when the run's deadline passes. */
  deadline: number;
  /**
   * A durable run: the values its non-deterministic sources gave before, handed back in order, after
   * which they give live values (each reported in `EntryOutput.nd`). Absent: the native sources.
   */
  replayNd?: readonly NdValue[] | undefined;
  /** At most this many values in all (a durable run's journal is capped): the sources then refuse. */
  maxNd?: number | undefined;
  /**
   * Whether the script names a private member, as the host read it from the script's tree: a realm that
   * ran such a script is retired (see mayNamePrivately). Absent: the thread reads the text itself, as for
   * jobs from runtime nodes' apps, which carry no such answer.
   */
  privateNames?: boolean | undefined;
  /**
   * False when the script cannot name `console` (see namesConsole in pipeline.ts): its run gets none
   * built. Absent: it gets one, as jobs from runtime nodes' apps, which carry no such answer.
   */
  console?: boolean | undefined;
  /**
   * What the realm needs to put the frames of a stack trace the script reads in the user's own source
   * (see positions.ts), asked for only when the script formats one (a worker is sent it with the job).
   * Absent: frames keep the rewritten script's columns.
   */
  positions?: (() => ScriptPositions) | undefined;
}

/** The rewriter's anchors (see positions.ts) and the user's own text. */
export interface ScriptPositions {
  anchors: string;
  text: string;
  /** Where the user's text starts in the original the anchors count in (see ast/parse.ts, WRAP_PREFIX). */
  prefix: number;
}

/** How a run ended, as its thread saw it. */
export type EntryEnd =
  /** The realm reported: `report` is JSON of a DoneReport, `value` the codec text of an `ok` value. */
  | { kind: 'report'; report: string; value: string }
  /** The entry ran into the deadline before the realm reported. */
  | { kind: 'timeout' }
  /**
   * V8 refused to compile the rewritten script (rare: an early error the parser does not report), at
   * `at`, V8's line in the rewritten script and column (0: unknown), where Node told it (see syntaxPosition).
   */
  | { kind: 'syntax'; message: string; at?: [line: number, column: number] }
  /** The realm failed in a way the runtime does not understand; the realm is discarded. */
  | { kind: 'crashed' }
  /** The host stopped the run (deadline, abort) between entries. */
  | { kind: 'stopped' };

export type EntryCall = [callId: number, name: string, argsText: string];
export type EntryLog = [level: LogLevel, line: string];

/** What one realm entry produced. */
export interface EntryOutput {
  calls: EntryCall[];
  logs: EntryLog[];
  end: EntryEnd | null;
  /** A durable run's values of non-deterministic sources taken in the entry, replayed or live, in order. */
  nd?: NdValue[] | undefined;
  /** The iterations the run had counted when the entry ended (see RealmControl.iterations), if known. */
  iterations?: number | undefined;
}

export type IsolationFailureCode = 'QUEUE_FULL' | 'MEMORY_LIMIT_EXCEEDED' | 'RUNTIME_ERROR' | 'INTERNAL_ERROR' | 'ABORTED' | 'RUNTIME_UNAVAILABLE' | 'RUNTIME_LOST' | 'TIMEOUT';

export interface IsolationEvents {
  entry(output: EntryOutput): void;
  /** The isolation itself failed the run: queue full, a worker died or flooded, disposal. */
  failed(code: IsolationFailureCode, name: string, message: string): void;
}

/** A started run, as the driver holds it. */
export interface IsolatedRun {
  /** A tool's reply, delivered to the script in the next realm entry. */
  deliver(callId: number, reply: ToolReply): void;
  /** The run has ended on the host's side: no script code of it runs again. Idempotent. */
  stop(): void;
  /**
   * The iterations the run has counted so far, where the isolation can tell while its thread is busy (a
   * worker shares them, see WorkerInit.progress); undefined otherwise.
   */
  iterations?(): number | undefined;
}

export interface Isolation {
  readonly kind: IsolationKind;
  /** Where a run started now would execute, where that can differ from `kind` (the vm isolation's worker fallback). */
  placement?(): IsolationKind;
  run(job: IsolatedJob, events: IsolationEvents): IsolatedRun;
  /** Resolves once the isolation can run without start-up delay. */
  ready(): Promise<void>;
  /** Ends every run and frees what the isolation holds; a promise, where there is one, settles once that is done (workers exited). */
  dispose(): void | Promise<void>;
}

/**
 * `v` if it is an iteration count (a non-negative safe integer), else undefined: a count read from a
 * realm, a worker's message or its shared slot is checked with this before the driver takes it.
 */
export function iterationCount(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Whether what a remote adapter created has the shape of an isolation (checked once, at construction). */
export function isIsolation(value: unknown): value is Isolation {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.kind === 'remote' && typeof v.run === 'function' && typeof v.ready === 'function' && typeof v.dispose === 'function';
}
