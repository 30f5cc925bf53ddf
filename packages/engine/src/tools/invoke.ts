import { decodeToolArgs, describeEncodeFailure, hostCodec, hostEncodeOptions, TOO_DEEP, TOO_LARGE, TOO_LONG, TOO_MANY_VALUES } from '../sanitize/codec.js';
import { ToolError } from '../errors.js';
import { closeNames } from '../suggest.js';
import { describeToolError } from './redact.js';
import type { RateLimitStore } from '../rate-limit.js';
import type { ToolCallHook, ToolContext, ToolFunction, ToolRateLimit } from '../types.js';
import { emitToolCall } from './audit.js';
import type { HostTool } from './define.js';
import { checkWithSchema, formatIssues, jsonSchemaOf } from './schema.js';
import type { Sidecar } from './sidecar.js';
import { typeFromJsonSchema } from './typescript.js';
import { elapsedMs } from '../source.js';
import { Abort } from '../abort.js';
import type { ToolReply } from '../sandbox/realm-abi.js';
import { toolErrorReply } from '../sandbox/realm-abi.js';

/** The tools one run may call, resolved by the Enclave from the instance's and the run's options. */
export interface ToolScope {
  runId: string;
  /** The tool for a name, or undefined when the run has none by that name. */
  lookup: (name: string) => ToolFunction | HostTool | undefined;
  /**
   * Whether the host registered this name (a tool of the run's set, a function global). A `toolHandler`
   * serves any name, so a name it gets is the script's text: what the host writes (span names,
   * attributes) names only registered ones.
   */
  registered: (name: string) => boolean;
  /** The names offered in "did you mean" hints. */
  names: () => string[];
  /** Unknown tool names of this run that still get "did you mean" hints (each is a scan of `names()`). */
  hintsLeft: number;
  /** The per-run context the host passed in `RunOptions.context`. */
  context: unknown;
  maxToolResultBytes: number;
  /** The most JSON values one call's arguments may hold (see MAX_TOOL_ARGS_VALUES in levels.ts). */
  maxToolArgsValues: number;
  /** Audit hook: one event per call, after the reply is ready. */
  onToolCall?: ToolCallHook | undefined;
  /** Counts for tools with a `rateLimit` (shared by the Enclave's runs). */
  rateLimitStore?: RateLimitStore | undefined;
  /** The run's sidecar, when huge strings stay on the host. */
  sidecar?: Sidecar | undefined;
  /** Timeout (ms) of tools that do not set their own. */
  toolTimeout?: number | undefined;
}

/** One call as the realm made it: the arguments are still the realm codec's text. */
export interface ToolCallRequest {
  name: string;
  argsText: string;
  /** 1-based index of the call within its run. */
  callIndex: number;
  /** Set when the run ends (a tool's `ctx.signal` follows it). */
  runEnd: Abort;
  /** What a call of a tool with `needsApproval` meets: absent, it fails with `APPROVAL_REQUIRED`. */
  approval?: ApprovalGate | undefined;
}

/**
 * A durable run's word on one call of a tool with `needsApproval`: the person approved it, denied it,
 * or has not been asked yet (`ask` is told the arguments as the handler would receive them; the call
 * then replies `APPROVAL_REQUIRED`, which the durable run keeps from the script while it pauses, and
 * `asked` is set). `ask` may refuse to pause: the call then fails in the script with
 * `APPROVAL_REQUIRED` and the refusal's message and status, as it does in a run that cannot pause.
 */
export type ApprovalGate = { kind: 'approved'; matches?(args: unknown): boolean } | { kind: 'denied'; reason: string } | { kind: 'ask'; ask(args: unknown): Promise<ApprovalRefusal | undefined>; asked?: boolean };

/** Why a call that needs approval does not pause its run (a full wait list, arguments that cannot be shown). */
export interface ApprovalRefusal {
  message: string;
  status: number;
}

/** What goes back to the realm (see sandbox/realm-abi.ts). */
export type { ToolReply };

/** A failure decided by the host, with a code the script can branch on. */
class CallFailure {
  constructor(
    readonly message: string,
    readonly code: string,
    readonly data?: Record<string, unknown>,
  ) {}
}

const ENDED = Symbol('ended');
const TIMED_OUT = Symbol('timed out');

function unknownTool(name: string, scope: ToolScope): CallFailure {
  const names = scope.names();
  // The first unknown names of a run get the closest tools; past them, only the list below.
  const close = scope.hintsLeft > 0 ? closeNames(name, names, { partial: true }) : [];
  scope.hintsLeft--;
  const hint =
    close.length > 0
      ? ` Did you mean ${close.map((n) => `"${n}"`).join(' or ')}?`
      : names.length > 0
        ? ` Available tools: ${names.slice(0, 20).join(', ')}.`
        : ' No tools are available in this run.';
  return new CallFailure(`Unknown tool "${name}".${hint}`, 'UNKNOWN_TOOL');
}

/**
 * Each tool's expected argument type, made once: converting a schema to JSON Schema and TypeScript is
 * work that grows with the schema (17 ms for a zod object of 400 fields), and a script may call a tool
 * with invalid arguments as often as its tool-call budget allows.
 */
const expectedArgsText = new WeakMap<HostTool, string>();

/** The expected argument type in TypeScript notation, for messages: an LLM fixes its call from it. */
function expectedArgs(tool: HostTool): string {
  let text = expectedArgsText.get(tool);
  if (text === undefined) {
    const schema = tool.input === undefined ? undefined : jsonSchemaOf(tool.input, 'input');
    const type = schema === undefined ? undefined : typeFromJsonSchema(schema, { comments: false });
    text = type !== undefined && type.length <= 600 ? ` Expected arguments: ${type}.` : '';
    expectedArgsText.set(tool, text);
  }
  return text;
}

/**
 * Settles with the promise, or with ENDED / TIMED_OUT when the call is aborted first; the tool's own
 * promise is still observed, so its late rejection is never unhandled.
 */
function untilAborted<T>(promise: Promise<T>, call: CallAbort): Promise<T | typeof ENDED | typeof TIMED_OUT> {
  const stopped = () => (call.timedOut ? TIMED_OUT : ENDED);
  if (call.abort.aborted) {
    promise.then(undefined, () => {});
    return Promise.resolve(stopped());
  }
  return new Promise((resolve, reject) => {
    const unlisten = call.abort.listen(() => resolve(stopped()));
    promise.then(
      (v) => {
        unlisten();
        resolve(v);
      },
      (e) => {
        unlisten();
        reject(e);
      },
    );
  });
}

interface CallAbort {
  /** The call's own flag; `ctx.signal` is its signal. */
  abort: Abort;
  timedOut: boolean;
  /** Clears the tool's timer (the flag stays tied to the run). */
  done: () => void;
}

/**
 * The call's abort flag (`ctx.signal`): set when the run ends, and at the tool's timeout. It stays tied
 * to the run after the call, so work a tool left running in the background still stops then.
 */
function callAbort(runEnd: Abort, timeout: number | undefined): CallAbort {
  const abort = new Abort();
  runEnd.listen(() => abort.abort(runEnd.reason));
  const call: CallAbort = { abort, timedOut: false, done: () => {} };
  if (timeout === undefined) return call;
  const timer = setTimeout(() => {
    call.timedOut = true;
    abort.abort(new ToolError(`The tool did not answer within ${timeout} ms.`, { code: 'TOOL_TIMEOUT' }));
  }, timeout);
  call.done = () => clearTimeout(timer);
  return call;
}

async function rateLimited(scope: ToolScope, tool: HostTool, rl: ToolRateLimit, ctx: ToolContext): Promise<CallFailure | undefined> {
  if (scope.rateLimitStore === undefined) return undefined;
  let hit;
  try {
    const key = rl.key === undefined ? undefined : rl.key(ctx);
    hit = await scope.rateLimitStore.hit(`${tool.name}\u0000${key === undefined ? '*' : String(key)}`, rl.windowMs);
  } catch {
    // Fail closed: a limit that cannot be checked is not a limit that holds.
    return new CallFailure(`Tool "${tool.name}" is unavailable right now; try again later.`, 'RATE_LIMIT_UNAVAILABLE', { status: 503 });
  }
  if (hit.count <= rl.limit) return undefined;
  const retryAfterMs = Math.max(0, Math.ceil(hit.resetInMs));
  return new CallFailure(
    `Tool "${tool.name}" is rate limited: at most ${rl.limit} call${rl.limit === 1 ? '' : 's'} per ${rl.windowMs} ms. Retry after ${retryAfterMs} ms; do not call it again in this run.`,
    'RATE_LIMITED',
    { status: 429, retryAfterMs },
  );
}

/** Whether the call may run now: undefined if it may, the failure the script sees otherwise. */
async function approvalGate(rule: NonNullable<HostTool['needsApproval']>, name: string, args: unknown, ctx: ToolContext, gate: ApprovalGate | undefined, references: number): Promise<CallFailure | undefined> {
  if (gate?.kind === 'approved') {
    if (gate.matches === undefined || gate.matches(args)) return undefined;
    // The script made the approved call, but its tool's schema made other arguments of it this time (a
    // transform that reads what changed since): a person approved the ones shown, never these.
    return new CallFailure(`Tool "${name}" was approved with the arguments shown then; its schema makes other ones of the same call now, so it does not run.`, 'APPROVAL_DENIED', { status: 403 });
  }
  if (gate?.kind === 'denied') return new CallFailure(gate.reason, 'APPROVAL_DENIED', { status: 403 });
  let needed = true;
  if (typeof rule === 'function') {
    try {
      needed = (await rule(args, ctx)) !== false;
    } catch {
      // A predicate that fails cannot vouch for the call: a person decides.
      needed = true;
    }
  }
  if (!needed) return undefined;
  if (gate?.kind === 'ask') {
    // The person must be shown what the call will run with. A sidecar string is shown resolved, but a
    // pause does not keep the sidecar: the replay ran the approved call with the bare reference (and past
    // 1 MiB nothing of the arguments was shown at all, the recipient neither).
    if (references > 0) {
      return new CallFailure(
        `Tool "${name}" needs a person's approval, and its arguments hold references to huge tool results kept on the host (sidecar), which a paused run does not keep: nobody could approve what it would run with. Pass smaller values.`,
        'APPROVAL_REQUIRED',
        { status: 422 },
      );
    }
    const refused = await gate.ask(args);
    if (refused !== undefined) return new CallFailure(refused.message, 'APPROVAL_REQUIRED', { status: refused.status });
    gate.asked = true;
    return new CallFailure(`Tool "${name}" is waiting for a person's approval.`, 'APPROVAL_REQUIRED', { status: 403 });
  }
  return new CallFailure(`Tool "${name}" needs a person's approval, which this run cannot wait for: run the script as a session to be able to approve it.`, 'APPROVAL_REQUIRED', { status: 403 });
}

async function callTool(scope: ToolScope, tool: HostTool, call: ToolCallRequest): Promise<ToolReply | CallFailure> {
  let args: unknown;
  try {
    args = decodeToolArgs(call.argsText, scope.maxToolArgsValues);
  } catch {
    return new CallFailure(`The arguments of "${tool.name}" could not be read.`, 'INVALID_ARGUMENTS');
  }
  if (args === TOO_MANY_VALUES) {
    return new CallFailure(
      `The arguments of "${tool.name}" hold more than ${scope.maxToolArgsValues} values (array elements and properties count one each); pass fewer per call.`,
      'INVALID_ARGUMENTS',
    );
  }
  let references = 0;
  if (scope.sidecar !== undefined && call.argsText.includes('"$ref"')) {
    const resolved = scope.sidecar.resolveIn(args);
    if (!resolved.ok) return new CallFailure(`The references passed to "${tool.name}" expand to more than ${scope.sidecar.options.maxResolvedSize} characters.`, 'INVALID_ARGUMENTS');
    args = resolved.value;
    references = resolved.references;
  }
  const timeout = tool.timeout ?? scope.toolTimeout;
  const aborts = callAbort(call.runEnd, timeout);
  const stopped = (why: typeof ENDED | typeof TIMED_OUT) =>
    why === ENDED
      ? new CallFailure(`The run ended before "${tool.name}" answered.`, 'ABORTED')
      : new CallFailure(`Tool "${tool.name}" did not answer within ${timeout} ms.`, 'TOOL_TIMEOUT', { status: 504 });
  try {
    if (tool.input !== undefined) {
      const checked = await untilAborted(checkWithSchema(tool.input, args), aborts);
      if (checked === ENDED || checked === TIMED_OUT) return stopped(checked);
      if (!checked.ok) {
        return new CallFailure(`Invalid arguments for "${tool.name}": ${formatIssues(checked.issues)}.${expectedArgs(tool)}`, 'INVALID_ARGUMENTS', { issues: checked.issues });
      }
      args = checked.value;
    }
    // `signal` is a getter: the AbortController behind it is made only for a tool that reads it.
    const ctx: ToolContext = Object.freeze({
      get signal() {
        return aborts.abort.signal;
      },
      runId: scope.runId,
      callIndex: call.callIndex,
      tool: call.name,
      context: scope.context,
    });
    if (tool.needsApproval !== undefined && tool.needsApproval !== false) {
      const gate = await untilAborted(approvalGate(tool.needsApproval, tool.name, args, ctx, call.approval, references), aborts);
      if (gate === ENDED || gate === TIMED_OUT) return stopped(gate);
      if (gate !== undefined) return gate;
    }
    if (tool.rateLimit !== undefined) {
      const limited = await untilAborted(rateLimited(scope, tool, tool.rateLimit, ctx), aborts);
      if (limited === ENDED || limited === TIMED_OUT) return stopped(limited);
      if (limited !== undefined) return limited;
    }
    const handler = tool.handler;
    let value = await untilAborted(
      new Promise<unknown>((resolve) => resolve(handler(args, ctx))),
      aborts,
    );
    if (value === ENDED || value === TIMED_OUT) return stopped(value);
    if (tool.output !== undefined) {
      const checked = await checkWithSchema(tool.output, value);
      // The issues describe host data: they stay on the host.
      if (!checked.ok) return new CallFailure(`Tool "${tool.name}" returned a value that does not match its declared output.`, 'INVALID_RESULT');
      value = checked.value;
    }
    return copyResult(scope, tool, value);
  } finally {
    aborts.done();
  }
}

/** How deep a tool's result is copied into a realm. */
const RESULT_DEPTH = 256;

function copyResult(scope: ToolScope, tool: HostTool, value: unknown): ToolReply | CallFailure {
  const sidecar = scope.sidecar;
  const text = hostCodec.encode(value, {
    ...hostEncodeOptions(scope.maxToolResultBytes, RESULT_DEPTH, false),
    ...(sidecar !== undefined ? { extract: sidecar.extract, extractMin: sidecar.options.extractionThreshold } : {}),
  });
  const problem = sidecar?.settle(typeof text === 'string');
  if (problem !== undefined) return new CallFailure(`Tool "${tool.name}" returned ${problem}.`, 'RESULT_TOO_LARGE');
  if (typeof text === 'string') return [1, text];
  if (text.code === TOO_LARGE) return new CallFailure(`Tool "${tool.name}" returned more than ${scope.maxToolResultBytes} bytes.`, 'RESULT_TOO_LARGE');
  if (text.code === TOO_DEEP) return new CallFailure(`Tool "${tool.name}" returned a value nested too deeply to copy.`, 'RESULT_TOO_LARGE');
  // The tool's value, not its size: what it is and where, never what it threw (see describeEncodeFailure).
  // A string within maxToolResultBytes but longer than the realm could build itself (a web page, a file)
  // is a size the script may ask less of: RESULT_TOO_LARGE, with the same description.
  const code = text.code === TOO_LONG ? 'RESULT_TOO_LARGE' : 'INVALID_RESULT';
  return new CallFailure(`Tool "${tool.name}" returned a value that could not be copied: ${describeEncodeFailure(text, 'result', scope.maxToolResultBytes, RESULT_DEPTH)}`, code);
}

/**
 * Runs one tool call on the host, the same way for every isolation adapter: the arguments are decoded
 * into host values (references to sidecar strings resolved), checked against the tool's input schema,
 * counted against its rate limit; the tool runs with its context under its timeout and the run's
 * signal; its value is checked against the output schema and copied out under the run's byte cap.
 * Every call emits one audit event. Never rejects: a tool's own failure becomes a redacted error reply
 * (see `describeToolError`).
 */
export async function invokeHostTool(scope: ToolScope, call: ToolCallRequest): Promise<ToolReply> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const found = scope.lookup(call.name);
  const tool: HostTool | undefined = typeof found === 'function' ? { name: call.name, handler: found } : found;
  let reply: ToolReply;
  let errorCode: string | undefined;
  try {
    const out = tool === undefined ? unknownTool(call.name, scope) : await callTool(scope, tool, call);
    if (out instanceof CallFailure) {
      errorCode = out.code;
      reply = toolErrorReply('ToolError', out.message, out.code, out.data);
    } else reply = out;
  } catch (err) {
    const described = describeToolError(call.name, err);
    errorCode = described[2];
    reply = [0, JSON.stringify(described)];
  }
  // The event is built only for a hook that will read it: a run's tool calls are a hot path.
  if (scope.onToolCall !== undefined) emitToolCall(scope.onToolCall, {
    type: 'tool_call',
    runId: scope.runId,
    tool: call.name,
    callIndex: call.callIndex,
    startedAt,
    durationMs: elapsedMs(t0),
    argsBytes: call.argsText.length,
    ...(reply[0] === 1 ? { resultBytes: reply[1].length } : {}),
    outcome: reply[0] === 1 ? 'ok' : 'error',
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(tool?.sideEffect !== undefined ? { sideEffect: tool.sideEffect } : {}),
    ...(call.approval?.kind === 'approved' ? { approved: true } : {}),
    context: scope.context,
  });
  return reply;
}
