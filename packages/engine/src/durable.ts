/**
 * Durable runs: a run that can pause for a person's approval of one tool call, hold nothing while it
 * waits (no realm, no worker), and later continue on any instance by running the script again from the
 * start against its journal. The journal is every completed tool call (name, arguments, reply, in the
 * order the replies reached the script), every value the script took from a non-deterministic source
 * (`Date.now()`, `new Date()`, `Date()`, `Math.random()`), and the number of console lines already
 * reported. On replay each call that matches the journal at its position gets the recorded reply
 * without its tool running, the recorded values come back in order, the approved call runs once, and the
 * run goes on live. A script that takes another path ends as `REPLAY_DIVERGED` and runs nothing further.
 *
 * What the journal holds crosses a store (memory, Redis): read back, it is untrusted input, checked by
 * `readJournal` against its shape and caps before a run believes any of it. The script never sees it.
 */
import { EnclaveConfigError, TOOL_ERROR_CODE } from './errors.js';
import type { DriverJournal, DriverToolCall } from './sandbox/driver.js';
import { isNdValues } from './sandbox/nondeterminism.js';
import type { NdValue, ToolReply } from './sandbox/realm-abi.js';
import { MAX_STRING_CHARS } from './sandbox/realm-abi.js';
import { hostCodec } from './sanitize/codec.js';
import type { ApprovalGate, ApprovalRefusal } from './tools/invoke.js';
import type { ApprovalDecision, ExecutionError, JournalCall, PausedRun, RunJournal } from './types.js';

export const DURABLE_DEFAULTS = { maxPauses: 10, maxJournalBytes: 4 * 1024 * 1024 } as const;
/** Longest denial reason kept; a longer one is cut. */
export const MAX_REASON = 1000;
const MAX_NAME = 256;

/** The durable part of a run's settings, checked. */
export interface DurableSettings {
  maxPauses: number;
  maxJournalBytes: number;
  resume?: { journal: RunJournal; decision: ApprovalDecision };
  mayPause?: (call: { callId: number; tool: string }) => Promise<string | undefined>;
}

/** The run's identity for its journal: a hash, so a resume with other code or input is refused cheaply. */
export function journalKey(scriptKey: string, inputText: string | null, globalsText: string | null): string {
  // Loaded on the first durable run: importing node:crypto up front was a tenth of a cold start.
  const { createHash } = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(scriptKey).update('\u0000').update(inputText ?? '').update('\u0000').update(globalsText ?? '').digest('base64url');
}

const isIndex = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;

/** A recorded reply as the realm may be given it: a value the codec reads, or an error of the host's shape (rebuilt). */
function checkedReply(ok: unknown, payload: unknown): ToolReply | undefined {
  if (typeof payload !== 'string') return undefined;
  if (ok === 1) {
    let value: unknown;
    try {
      value = hostCodec.decode(payload);
    } catch {
      return undefined;
    }
    // A store's journal may hold a string no tool's result could have (see hostEncodeOptions); only a text that long can.
    if (payload.length > MAX_STRING_CHARS && typeof hostCodec.encode(value, { maxBytes: Infinity, maxStringChars: MAX_STRING_CHARS }) !== 'string') return undefined;
    return [1, payload];
  }
  if (ok !== 0) return undefined;
  let e: unknown;
  try {
    e = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(e) || e.length < 3 || e.length > 4) return undefined;
  const [name, message, code, data] = e as unknown[];
  if (typeof name !== 'string' || typeof message !== 'string' || typeof code !== 'string' || name.length > MAX_NAME || message.length > 8192 || !TOOL_ERROR_CODE.test(code)) return undefined;
  if (data !== undefined && (data === null || typeof data !== 'object' || Array.isArray(data))) return undefined;
  return [0, JSON.stringify(data === undefined ? [name, message, code] : [name, message, code, data])];
}

/**
 * A journal read back from a store, checked field by field against what this engine writes and the
 * caps in force; undefined when anything is off. Every string it keeps is one the checks passed.
 */
export function readJournal(value: unknown, limits: { maxJournalBytes: number; maxPauses: number }): RunJournal | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const j = value as Record<string, unknown>;
  if (j.v !== 1 || typeof j.key !== 'string' || j.key.length > 100 || !isCount(j.logs) || !isIndex(j.pauses) || j.pauses > limits.maxPauses) return undefined;
  if (!Array.isArray(j.calls) || !isNdValues(j.nd, limits.maxJournalBytes / 8)) return undefined;
  const pending = j.pending;
  if (!Array.isArray(pending) || (pending.length !== 3 && pending.length !== 4) || !isIndex(pending[0]) || !isName(pending[1]) || typeof pending[2] !== 'string') return undefined;
  const shown: unknown = pending[3];
  if (pending.length === 4 && (typeof shown !== 'string' || shown.length > MAX_SHOWN_ARGS)) return undefined;
  let bytes = pending[2].length + (typeof shown === 'string' ? shown.length : 0) + j.nd.length * 24;
  const seen = new Set<number>([pending[0]]);
  const calls: JournalCall[] = [];
  for (const c of j.calls as unknown[]) {
    if (!Array.isArray(c) || c.length !== 5) return undefined;
    const [index, name, argsText, ok, payload] = c as unknown[];
    if (!isIndex(index) || seen.has(index) || !isName(name) || typeof argsText !== 'string') return undefined;
    const reply = checkedReply(ok, payload);
    if (reply === undefined) return undefined;
    seen.add(index);
    bytes += callBytes(name, argsText, reply[1]);
    if (bytes > limits.maxJournalBytes) return undefined;
    calls.push([index, name, argsText, reply[0], reply[1]]);
  }
  if (bytes > limits.maxJournalBytes) return undefined;
  const trace = j.trace === undefined ? undefined : readTraceIds(j.trace);
  if (trace === null) return undefined;
  const journal: RunJournal = { v: 1, key: j.key, calls, nd: j.nd.map(([k, v]) => [k, v]), logs: j.logs, pauses: j.pauses, pending: typeof shown === 'string' ? [pending[0], pending[1], pending[2], shown] : [pending[0], pending[1], pending[2]] };
  if (trace !== undefined) journal.trace = trace;
  return journal;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** A journal's `trace` as this engine writes it (valid OpenTelemetry ids: lowercase hex, not all zeros), or null. */
function readTraceIds(value: unknown): [string, string] | null {
  if (!Array.isArray(value) || value.length !== 2) return null;
  const [traceId, spanId] = value as unknown[];
  if (typeof traceId !== 'string' || typeof spanId !== 'string' || !TRACE_ID.test(traceId) || !SPAN_ID.test(spanId) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return [traceId, spanId];
}

function callBytes(name: string, argsText: string, payload: string): number {
  return name.length + argsText.length + payload.length + 32;
}

/** The durable options of `run()`, checked; a journal that does not read is the caller's bad input. */
export function readDurableOptions(value: unknown): DurableSettings | undefined {
  if (value === undefined || value === false) return undefined;
  const where = 'run(code, options): durable';
  if (value === true) return { ...DURABLE_DEFAULTS };
  if (value === null || typeof value !== 'object') throw new EnclaveConfigError(`${where} must be true or { maxPauses?, maxJournalBytes?, resume?, mayPause? }.`);
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!['maxPauses', 'maxJournalBytes', 'resume', 'mayPause'].includes(key)) throw new EnclaveConfigError(`${where}: unknown option "${key}".`);
  const positive = (key: 'maxPauses' | 'maxJournalBytes') => {
    const v = o[key];
    if (v === undefined) return DURABLE_DEFAULTS[key];
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw new EnclaveConfigError(`${where}.${key} must be a positive integer.`);
    return v as number;
  };
  const settings: DurableSettings = { maxPauses: positive('maxPauses'), maxJournalBytes: positive('maxJournalBytes') };
  if (o.mayPause !== undefined) {
    if (typeof o.mayPause !== 'function') throw new EnclaveConfigError(`${where}.mayPause must be a function (call) => Promise<string | undefined>.`);
    settings.mayPause = o.mayPause as NonNullable<DurableSettings['mayPause']>;
  }
  if (o.resume === undefined) return settings;
  const resume = o.resume as { journal?: unknown; decision?: unknown } | null;
  if (resume === null || typeof resume !== 'object') throw new EnclaveConfigError(`${where}.resume must be { journal, decision }.`);
  const journal = readJournal(resume.journal, settings);
  if (journal === undefined) throw new EnclaveConfigError(`${where}.resume.journal is not the journal of a paused run, or it exceeds the journal limits.`);
  const decision = readDecision(resume.decision);
  if (decision === undefined) throw new EnclaveConfigError(`${where}.resume.decision must be { approved: true } or { approved: false, reason? }.`);
  settings.resume = { journal, decision };
  return settings;
}

/** A decision from untrusted input (an HTTP body, a caller): only the two documented shapes, the reason cut to MAX_REASON. */
export function readDecision(value: unknown): ApprovalDecision | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const d = value as Record<string, unknown>;
  for (const key of Object.keys(d)) if (key !== 'approved' && key !== 'reason') return undefined;
  if (d.approved === true) return d.reason === undefined ? { approved: true } : undefined;
  if (d.approved !== false) return undefined;
  if (d.reason === undefined) return { approved: false };
  if (typeof d.reason !== 'string') return undefined;
  return { approved: false, reason: d.reason.slice(0, MAX_REASON) };
}

/** Characters of the arguments shown for approval at most (as JSON): the most a script may pass a tool. */
const MAX_SHOWN_ARGS = 1024 * 1024;

/**
 * A JSON copy of the arguments for a person to read: `{ args, text }`, with `args` undefined when the
 * call has none, and `text` the JSON the journal keeps to hold the approved call to them (see
 * RunJournal.pending); undefined when they cannot be shown whole (then the call must not pause: a person
 * would approve a call without seeing, say, its recipient, and it would run with them all the same).
 */
function displayArgs(args: unknown): { args: unknown; text: string } | undefined {
  // '' for none: no JSON text is empty.
  if (args === undefined) return { args, text: '' };
  try {
    // A script passes JSON only, but a tool's schema may hand the handler a BigInt, a Set or a Map (an
    // amount, recipients): shown as what they hold, never left out (a BigInt made the whole copy fail) or
    // written as `{}`.
    const text = JSON.stringify(args, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Set || v instanceof Map ? [...v] : v));
    return text === undefined || text.length > MAX_SHOWN_ARGS ? undefined : { args: JSON.parse(text) as unknown, text };
  } catch {
    return undefined;
  }
}

type Stop = Pick<ExecutionError, 'code' | 'name' | 'message' | 'data'>;
const never = new Promise<ToolReply>(() => {});

/**
 * One durable run's journal at work: the driver's `invokeTool` and `journal`. It replays recorded
 * calls in their recorded order, runs the rest live, asks for approvals, and ends the run itself when it
 * pauses (once no call is in flight, so none is lost or run twice), diverges, or runs out of room.
 */
export class DurableRun implements DriverJournal {
  readonly stopped: Promise<Stop>;
  #stop!: (s: Stop) => void;
  #ending = false;
  readonly #settings: DurableSettings;
  readonly #key: string;
  readonly #live: (call: DriverToolCall) => Promise<ToolReply>;
  /** Recorded calls by index, with their place in the delivery order. */
  readonly #recorded = new Map<number, { call: JournalCall; order: number }>();
  readonly #replayNd: readonly NdValue[];
  /** The new journal: the recorded calls first, in their order, then what completes now. */
  readonly #calls: JournalCall[];
  readonly #nd: NdValue[];
  #ndSeen = 0;
  #bytes: number;
  /** Recorded replies wait for their turn: the one at `#nextOrder` is delivered first. */
  readonly #waiting = new Map<number, (reply: ToolReply) => void>();
  #nextOrder = 0;
  /** How many recorded replies the replay hands back before any live one. */
  readonly #recordedCount: number;
  /** Live replies that came while recorded ones were still to be handed back: they follow them, in the order they came. */
  #held: (() => void)[] = [];
  #inFlight = 0;
  /** Calls that asked for approval (their replies are not results). */
  readonly #asked = new Set<number>();
  #pause: { callIndex: number; name: string; argsText: string; args: unknown; shown: string | undefined } | undefined;
  #reachedPending: boolean;
  logs = 0;

  constructor(settings: DurableSettings, key: string, live: (call: DriverToolCall) => Promise<ToolReply>) {
    this.stopped = new Promise<Stop>((resolve) => (this.#stop = resolve));
    this.#settings = settings;
    this.#key = key;
    this.#live = live;
    const journal = settings.resume?.journal;
    this.#reachedPending = journal === undefined;
    this.#calls = journal ? [...journal.calls] : [];
    this.#recordedCount = this.#calls.length;
    this.#replayNd = journal ? journal.nd : [];
    this.#nd = journal ? [...journal.nd] : [];
    this.#bytes = this.#nd.length * 24;
    journal?.calls.forEach((call, order) => {
      this.#recorded.set(call[0], { call, order });
      this.#bytes += callBytes(call[1], call[2], call[4]);
    });
    if (journal !== undefined && journal.key !== key) this.#end('REPLAY_DIVERGED', 'ReplayDivergedError', 'The paused run was resumed with another script, input or globals than it started with. Nothing ran.');
  }

  /** The values the realm is to hand back first (see IsolatedJob.replayNd). */
  get replayNd(): readonly NdValue[] {
    return this.#replayNd;
  }

  /** How many values of non-deterministic sources fit the journal at most (each is charged 24 bytes). */
  get maxNd(): number {
    return Math.floor(this.#settings.maxJournalBytes / 24) + 1;
  }

  /** Console lines reported before the pause this run resumes: not reported again. */
  get replayedLogs(): number {
    return this.#settings.resume?.journal.logs ?? 0;
  }

  /** Whether a resumed run reached the call it was paused on (a run that ends before has diverged). */
  get reachedPending(): boolean {
    return this.#reachedPending;
  }

  record(values: NdValue[]): void {
    for (const value of values) {
      const at = this.#ndSeen++;
      const recorded = this.#replayNd[at];
      if (recorded !== undefined) {
        if (recorded[0] !== value[0]) this.#diverged(`it asked for ${value[0] === 'r' ? 'a random number' : 'the time'} where it asked for ${recorded[0] === 'r' ? 'a random number' : 'the time'} before`);
        continue;
      }
      this.#nd.push(value);
      this.#grow(24);
    }
  }

  readonly invokeTool = (call: DriverToolCall): Promise<ToolReply> => {
    if (this.#ending) return never;
    const recorded = this.#recorded.get(call.callIndex);
    if (recorded !== undefined) {
      const [, name, argsText] = recorded.call;
      if (name !== call.name || argsText !== call.argsText) return this.#divergedCall(call, name);
      return new Promise<ToolReply>((resolve) => {
        this.#waiting.set(recorded.order, resolve);
        // From a microtask, once the driver awaits this promise too: resolved here, in its own call,
        // it would reach the script after the later replies it lets go, which the driver already awaits.
        queueMicrotask(() => this.#deliverRecorded());
      });
    }
    const pending = this.#settings.resume?.journal.pending;
    if (pending !== undefined && pending[0] === call.callIndex) {
      if (pending[1] !== call.name || pending[2] !== call.argsText) return this.#divergedCall(call, pending[1]);
      this.#reachedPending = true;
      const decision = (this.#settings.resume as NonNullable<DurableSettings['resume']>).decision;
      // Approved: it runs only with the arguments the person was shown (a journal written before they were
      // kept has none to hold it to).
      const shown = pending[3];
      const approval: ApprovalGate = decision.approved
        ? { kind: 'approved', matches: (args) => shown === undefined || displayArgs(args)?.text === shown }
        : { kind: 'denied', reason: decision.reason || `A person denied the call of "${call.name}".` };
      return this.#run(call, approval);
    }
    return this.#run(call, { kind: 'ask', ask: (args) => this.#ask(call, args) });
  };

  /** The journal of the pause, once the run has stopped for it. */
  paused(): PausedRun | undefined {
    const p = this.#pause;
    if (p === undefined || !this.#ending) return undefined;
    const pauses = (this.#settings.resume?.journal.pauses ?? 0) + 1;
    return {
      approval: { callId: p.callIndex, tool: p.name, args: p.args },
      journal: { v: 1, key: this.#key, calls: this.#calls, nd: this.#nd, logs: this.logs, pauses, pending: p.shown === undefined ? [p.callIndex, p.name, p.argsText] : [p.callIndex, p.name, p.argsText, p.shown] },
    };
  }

  async #run(call: DriverToolCall, approval: ApprovalGate): Promise<ToolReply> {
    this.#inFlight++;
    let reply: ToolReply;
    try {
      reply = await this.#live({ ...call, approval } as DriverToolCall);
    } finally {
      this.#inFlight--;
    }
    if (!this.#asked.has(call.callIndex)) {
      this.#calls.push([call.callIndex, call.name, call.argsText, reply[0], reply[1]]);
      this.#grow(callBytes(call.name, call.argsText, reply[1]));
    }
    // While the run stops for a pause, replies are kept from the script: the journal has them.
    if (this.#ending) {
      this.#settle();
      return never;
    }
    // Before its pause the script saw every recorded reply and none of these (the approved call had not
    // answered): a live reply that overtook a recorded one would show it an order it never saw, and
    // the journal, which lists it after them, an order the script did not see now.
    if (this.#nextOrder < this.#recordedCount) return new Promise<ToolReply>((resolve) => this.#held.push(() => resolve(reply)));
    return reply;
  }

  /** Whether the run pauses for this call: undefined if it does (or ends otherwise), what the call fails with if the pause is refused. */
  async #ask(call: DriverToolCall, args: unknown): Promise<ApprovalRefusal | undefined> {
    const shown = displayArgs(args);
    if (shown === undefined) {
      // Refused like a full wait list: the call fails in the script, and the journal records it.
      if (!this.#ending) return { message: `Tool "${call.name}" needs a person's approval, and its arguments cannot be shown whole (more than ${MAX_SHOWN_ARGS} characters as JSON, or not JSON): nobody could approve what it would run with. Pass smaller values.`, status: 422 };
    }
    if (!this.#ending) {
      const pauses = this.#settings.resume?.journal.pauses ?? 0;
      if (pauses >= this.#settings.maxPauses) {
        this.#asked.add(call.callIndex);
        this.#end('MAX_PAUSES', 'PauseLimitError', `The run paused for approval ${pauses} times, its limit; "${call.name}" needs another approval.`);
        return undefined;
      }
      const mayPause = this.#settings.mayPause;
      let refused: string | undefined;
      if (mayPause !== undefined) {
        try {
          refused = await mayPause({ callId: call.callIndex, tool: call.name });
        } catch {
          refused = `Tool "${call.name}" needs a person's approval, which this run cannot wait for right now.`;
        }
      }
      // Refused: the call completes as a failure the script sees, and the journal records it like any reply.
      if (refused !== undefined && !this.#ending) return { message: refused, status: 429 };
    }
    this.#asked.add(call.callIndex);
    if (this.#ending) return undefined;
    this.#ending = true;
    this.#pause = { callIndex: call.callIndex, name: call.name, argsText: call.argsText, args: shown?.args, shown: shown?.text };
    return undefined;
  }

  /** A pause ends the run once every call in flight has replied (into the journal). */
  #settle(): void {
    const p = this.#pause;
    if (p === undefined || this.#inFlight > 0) return;
    this.#stop({
      code: 'APPROVAL_REQUIRED',
      name: 'ApprovalRequired',
      message: `The run is waiting for a person's approval of "${p.name}" (call ${p.callIndex}).`,
      data: { callId: p.callIndex, tool: p.name, args: p.args },
    });
  }

  #deliverRecorded(): void {
    for (let deliver = this.#waiting.get(this.#nextOrder); deliver !== undefined; deliver = this.#waiting.get(this.#nextOrder)) {
      this.#waiting.delete(this.#nextOrder);
      const call = this.#calls[this.#nextOrder] as JournalCall;
      this.#nextOrder++;
      deliver([call[3], call[4]]);
    }
    if (this.#nextOrder < this.#recordedCount || this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const deliver of held) deliver();
  }

  #divergedCall(call: DriverToolCall, before: string): Promise<ToolReply> {
    this.#diverged(`call ${call.callIndex} was "${before}" with other arguments or another tool before, now "${call.name}"`);
    return never;
  }

  #diverged(how: string): void {
    this.#end('REPLAY_DIVERGED', 'ReplayDivergedError', `The script took another path than before its pause (${how}). Nothing further ran.`);
  }

  #grow(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes > this.#settings.maxJournalBytes) {
      this.#end('JOURNAL_LIMIT_EXCEEDED', 'JournalLimitError', `The run's journal exceeded its cap of ${this.#settings.maxJournalBytes} bytes (tool results and recorded values).`);
    }
  }

  #end(code: string, name: string, message: string): void {
    this.#ending = true;
    this.#pause = undefined;
    this.#stop({ code: code as Stop['code'], name, message });
  }
}
