/**
 * What serves a handler's requests: the run and check routes, the catalog, sessions, approvals and their
 * streams. createEnclaveHandler (handler.ts) checks the options and builds the Enclave at once, and loads
 * this module then: a chunk of its own, so that `import '@enclave-kit/engine'` does not compile it.
 */
import type { Enclave } from '../enclave.js';
import { MemoryRateLimitStore } from '../rate-limit.js';
import { MAX_DELAY_MS, OptionChecker } from '../options.js';
import type { EnclaveDescription } from '../tools/describe.js';
import type { ApprovalDecision, PausedRun, ExecutionFailure, ExecutionResult, ExecutionStats, RunOptions, ToolDefinition, ToolSet } from '../types.js';
import { DURABLE_DEFAULTS, MAX_REASON, readDecision } from '../durable.js';
import type { CheckRequestBody, RunRequestBody } from './body.js';
import { contentTypeRefusal, isJsonContentType, parseCheckRequest, parseRunRequest, readBodyText } from './body.js';
import { failure, internalFailure, noStats } from '../result.js';
import { EnclaveHttpError, refusalStatus } from './errors.js';
import { extractTraceContext } from '../tracing.js';
import { SESSION_ID_RULE, isSessionId, newSessionId } from '../events.js';
import { DOT_SEGMENT_MESSAGE, hasDotSegment } from './route.js';
import type { EnclaveEvent } from '../types.js';
import { MemoryLeaseStore, holdLease } from '../leases.js';
import type { FinalSessionState, PausedSession, SessionRecord, SessionState, SessionStore } from './session-store.js';
import { MemorySessionStore } from './session-store.js';
import { hostAllowed, originAllowed } from './origin.js';
import type { StreamFormat } from './stream.js';
import type { EnclaveHandlerOptions, EnclaveRequestContext, EnclaveRouteContext, HandlerCore, HandlerShared, RunScope, SessionOptions } from './handler-common.js';
import { CHECK_PATH, DEFAULT_SEND_TIMEOUT_MS, json, keyBytes, playgroundPath, routeAt } from './handler-common.js';
import { eventsFormat, pushStream, storeStream, streamFormat, streamHeaders } from './stream.js';

/** The keys a `createContext` result may have. */
const SCOPE_KEYS = ['tools', 'toolHandler', 'globals', 'context'];

/**
 * A per-request tool set of the host's hook, in shape. Its failure is the hook's (a bare 500, onError),
 * never the client's 422 VALIDATION_ERROR naming the host's tools; the entries are checked by the run.
 */
function checkedTools(check: OptionChecker, what: string, tools: unknown): RunScope['tools'] {
  if (tools !== undefined && (tools === null || typeof tools !== 'object')) check.fail(`${what} must be an object of named functions or an array of defineTool() definitions (or undefined), got ${tools === null ? 'null' : typeof tools}.`);
  return tools as RunScope['tools'];
}

/** What `createContext` returned, in shape: nothing (no scope), or an object of the scope's keys alone. */
function checkedScope(scope: unknown): RunScope {
  if (scope === undefined || scope === null) return {};
  const check = new OptionChecker('createContext(ctx, native)');
  const o = check.object('its result', scope, 'an object { tools | toolHandler, globals, context }') ?? {};
  check.knownKeys('its result', o, SCOPE_KEYS);
  checkedTools(check, 'tools', o.tools);
  check.function('toolHandler', o.toolHandler, '(name, args, ctx) => result');
  check.object('globals', o.globals, 'an object of values');
  return o as RunScope;
}

/**
 * The catalog served on `GET`: `enclave.describe()` of the request's tools (names, descriptions, JSON
 * Schemas, `callTool` overloads in TypeScript, and the dialect of the level). This is the only place
 * that shapes the catalog.
 */
function describeCatalog(enclave: Enclave, scope: RunScope): EnclaveDescription {
  return enclave.describe(scope.tools);
}

const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_SESSIONS_PER_USER = 10;
const DEFAULT_FOLLOWERS_PER_USER = 20;
const DEFAULT_SESSION_TTL_MS = 10 * 60_000;
/** Seconds a client told 429 for too many runs or sessions waits: runs end at their deadline at the latest. */
const BUSY_RETRY_AFTER_S = 5;
/** Seconds a client told 503 waits when a store (sessions, limits, leases) did not answer. */
const STORE_RETRY_AFTER_S = 2;
/**
 * How long an instance's word that it is running something (a session, a lease) lasts by default; it
 * renews it every third of that. An instance that dies stops renewing: its leases expire, and within
 * this time plus one sweep (every half of it) any instance ends its sessions as RUN_LOST.
 */
const LIVENESS_MS = 10_000;
/** How long a finished run waits for a store that does not answer before its events are given up. */
const DRAIN_WAIT_MS = 10_000;
/** How long a paused run waits for a decision by default. */
const DEFAULT_MAX_PAUSE_MS = 24 * 60 * 60_000;
/** Sessions of one user that may wait for a decision at once by default. */
const DEFAULT_MAX_WAITING_PER_USER = 20;
/** Bytes of an approval's body read at most. */
const MAX_DECISION_BYTES = 8192;

/** What the core keeps of a paused session in its store (`PausedSession.state`, as JSON). */
interface PausedState {
  v: 1;
  /**
   * The seq of its `approval_required` event: the session's last seq while it waits. A state put back
   * after its decision (the session went on since) is refused. Absent in states of earlier versions.
   */
  seq?: number;
  body: RunRequestBody;
  /** Checked by the engine when the run resumes. */
  journal: unknown;
  /** The approval as the person is shown it: kept with the journal (signed with it), so a decision is bound to what was shown. */
  approval: PausedRun['approval'];
  /**
   * The run's stats up to this pause, over all its parts: the tool calls the script made (the call that
   * waits included) and its iterations, and the time it ran (a wait for a person counts for nothing).
   * Absent in states of earlier versions.
   */
  stats?: ExecutionStats;
  /**
   * The names of the tools the run had when it started (`'*'`: a tool handler served any name). The
   * run goes on with the deciding request's tools, cut down to these: a decision lets one call run, it
   * never lets the rest of the script call what the request that started it could not. Absent in states
   * of earlier versions.
   */
  tools?: readonly string[] | '*';
}

/** Tool names a paused state keeps at most (more is not a state this app writes). */
const MAX_STATE_TOOLS = 100_000;
/**
 * Characters of the tool names' JSON a paused state is allowed besides its journal and request: some
 * 20,000 names of twenty characters. A run with more pauses all the same, and its state is refused at
 * the decision (STATE_REJECTED): never resumed with tools it did not have.
 */
const STATE_TOOLS_CHARS = 512 * 1024;

/** The names of the tools of a run's scope, or `'*'` when a tool handler serves any name. */
function scopeToolNames(scope: RunScope): readonly string[] | '*' {
  if (scope.toolHandler !== undefined) return '*';
  const { tools } = scope;
  if (tools === undefined) return [];
  const names = Array.isArray(tools) ? (tools as readonly { name?: unknown }[]).map((t) => t.name) : Object.keys(tools);
  return [...new Set(names.filter((n): n is string => typeof n === 'string'))];
}

/**
 * The deciding request's scope cut down to the tools the paused run had (`PausedState.tools`): only
 * those names of its `tools`, and no tool handler unless the run had one too.
 */
function withinTools(scope: RunScope, names: readonly string[] | '*' | undefined): RunScope {
  if (names === undefined || names === '*') return scope;
  const allowed = new Set(names);
  const { toolHandler: _handler, tools, ...rest } = scope;
  if (tools === undefined) return rest;
  const kept: ToolSet = Array.isArray(tools)
    ? (tools as readonly ToolDefinition[]).filter((t) => allowed.has(t.name))
    : Object.fromEntries(Object.entries(tools).filter(([name]) => allowed.has(name)));
  return { ...rest, tools: kept };
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Stats as a paused state keeps them, or undefined. */
function readStats(value: unknown): ExecutionStats | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { duration, toolCallCount, iterationCount } = value as Record<string, unknown>;
  if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0 || !isCount(toolCallCount) || !isCount(iterationCount)) return undefined;
  return { duration, toolCallCount, iterationCount };
}

/**
 * A resumed run's stats over all its parts: the replay makes the script's calls and iterations again
 * (the larger counts are the run's), and the time of each part adds up.
 */
function withEarlierParts<R extends ExecutionResult>(result: R, earlier: ExecutionStats | undefined): R {
  if (earlier === undefined) return result;
  const { stats } = result;
  return {
    ...result,
    stats: { duration: earlier.duration + stats.duration, toolCallCount: Math.max(earlier.toolCallCount, stats.toolCallCount), iterationCount: Math.max(earlier.iterationCount, stats.iterationCount) },
  };
}

/** What a person is shown of an approval, as one text to compare: the call, its tool, its arguments. */
function shownApproval(approval: { callId?: unknown; tool?: unknown; args?: unknown } | undefined): string | undefined {
  try {
    return approval === undefined ? undefined : JSON.stringify([approval.callId, approval.tool, approval.args ?? null]);
  } catch {
    return undefined;
  }
}

/** A digest as `approvalDigest` writes it: SHA-256, base64url. */
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * The digest of what a person is shown of an approval (`shownApproval`): it goes out with the approval
 * (`approval_required`, `pendingApproval`), and a decision that sends it back is taken only for that
 * very call. Computed again from the call each time, never read from a store.
 */
async function approvalDigest(approval: { callId?: unknown; tool?: unknown; args?: unknown } | undefined): Promise<string | undefined> {
  const shown = shownApproval(approval);
  if (shown === undefined) return undefined;
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(shown))).toString('base64url');
}

/** A paused state read back from a store, checked as untrusted input; undefined when it is not one the core wrote. */
function readPausedState(text: string): PausedState | undefined {
  try {
    const state = JSON.parse(text) as unknown;
    if (state === null || typeof state !== 'object' || (state as { v?: unknown }).v !== 1) return undefined;
    const { seq, body, journal, approval, stats: statsIn, tools } = state as { seq?: unknown; body?: unknown; journal?: unknown; approval?: unknown; stats?: unknown; tools?: unknown };
    if (approval === null || typeof approval !== 'object') return undefined;
    const toolsOk = tools === undefined || tools === '*' || (Array.isArray(tools) && tools.length <= MAX_STATE_TOOLS && tools.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 256));
    if (!toolsOk) return undefined;
    if (seq !== undefined && !(Number.isSafeInteger(seq) && (seq as number) > 0)) return undefined;
    const stats = statsIn === undefined ? undefined : readStats(statsIn);
    if (statsIn !== undefined && stats === undefined) return undefined;
    const { callId, tool, args } = approval as PausedRun['approval'];
    const pending = journal !== null && typeof journal === 'object' ? (journal as { pending?: unknown }).pending : undefined;
    // The approval shown is the journal's pending call: the same call, the same tool.
    if (!Array.isArray(pending) || pending[0] !== callId || pending[1] !== tool) return undefined;
    return { v: 1, ...(seq !== undefined && { seq: seq as number }), body: parseRunRequest(JSON.stringify(body)), journal, approval: { callId, tool, args }, ...(stats !== undefined && { stats }), ...(tools !== undefined && { tools: tools as readonly string[] | '*' }) };
  } catch {
    return undefined;
  }
}


/** A MAC as the store keeps it: 43 base64url characters (32 bytes). */
const MAC_TEXT = /^[\w-]{43}$/;

/**
 * Signs and opens what a store keeps of a paused run (`sessions.stateKey`): `<mac>.<state>`, the MAC over
 * the session's id, its owner and the state, so a signed state is good for its own session only.
 * Without a key, states go in as they are and come back with any MAC prefix dropped unchecked.
 */
function pausedStateSeal(secret: string | Uint8Array | undefined) {
  let key: ReturnType<typeof crypto.subtle.importKey> | undefined;
  const hmacKey = () => (key ??= crypto.subtle.importKey('raw', keyBytes(secret as string | Uint8Array), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']));
  const signed = (sessionId: string, owner: string, state: string) => new TextEncoder().encode(`${sessionId}\n${owner.length}\n${owner}\n${state}`);
  return {
    async seal(sessionId: string, owner: string, state: string): Promise<string> {
      if (secret === undefined) return state;
      return `${Buffer.from(await crypto.subtle.sign('HMAC', await hmacKey(), signed(sessionId, owner, state))).toString('base64url')}.${state}`;
    },
    /** The state if its MAC verifies (or no key is set), undefined otherwise. */
    async open(sessionId: string, owner: string, text: string): Promise<string | undefined> {
      const dot = text.indexOf('.');
      // A state is JSON, which never starts with a MAC's characters followed by a dot.
      const macText = dot === 43 ? text.slice(0, dot) : '';
      const mac = MAC_TEXT.test(macText) ? Buffer.from(macText, 'base64url') : undefined;
      const state = mac !== undefined ? text.slice(dot + 1) : text;
      if (secret === undefined) return state;
      if (mac === undefined) return undefined;
      return (await crypto.subtle.verify('HMAC', await hmacKey(), mac, signed(sessionId, owner, state))) ? state : undefined;
    },
  };
}

/** How long DELETE waits for the cancelled run's final state before it answers 202. */
const CANCEL_WAIT_MS = 5_000;

/** The pause-and-resume side of the sessions, when their store can keep paused runs. */
function durableSessions(store: SessionStore, options: SessionOptions<unknown, unknown>, maxBodySize: number) {
  const { pause: pauseIn, resume, expired, holdWait, releaseWait, pausedState } = store;
  if (typeof pauseIn !== 'function' || typeof resume !== 'function') return undefined;
  const maxPauseDuration = options.maxPauseDuration ?? DEFAULT_MAX_PAUSE_MS;
  const { seal, open } = pausedStateSeal(options.stateKey);
  const limits = { maxPauses: options.maxPauses ?? DURABLE_DEFAULTS.maxPauses, maxJournalBytes: options.maxJournalBytes ?? DURABLE_DEFAULTS.maxJournalBytes };
  return {
    seal,
    open,
    limits,
    /**
     * The longest state this app writes: its journal and request body, each character of which JSON
     * escaping grows to six at most, the approval shown (1 MiB at most), the names of the run's tools
     * and the MAC. A longer one is refused before it is verified or parsed (a store may hand back up to
     * 512 MiB).
     */
    maxStateChars: 6 * (limits.maxJournalBytes + maxBodySize) + 2 * 1024 * 1024 + STATE_TOOLS_CHARS,
    maxPauseDuration,
    maxWaitingPerUser: options.maxWaitingPerUser ?? DEFAULT_MAX_WAITING_PER_USER,
    pause: (sessionId: string, paused: PausedSession, ttlMs: number) => pauseIn.call(store, sessionId, paused, ttlMs),
    resume: (sessionId: string, callId: number, livenessMs: number) => resume.call(store, sessionId, callId, livenessMs),
    expired: (): Promise<string[]> => (typeof expired === 'function' ? expired.call(store) : Promise.resolve([])),
    /** A paused session's state without a decision; undefined when the store cannot say. */
    pausedState: (sessionId: string): Promise<string | undefined> => (typeof pausedState === 'function' ? pausedState.call(store, sessionId) : Promise.resolve(undefined)),
    /** A place among the owner's waiting sessions until `until`; `undefined` when the store keeps no count. */
    holdWait: typeof holdWait === 'function' ? (owner: string, sessionId: string, max: number, until: number) => holdWait.call(store, owner, sessionId, max, until) : undefined,
    releaseWait: async (owner: string, sessionId: string): Promise<void> => {
      if (typeof releaseWait === 'function') await releaseWait.call(store, owner, sessionId);
    },
    /** How a wait that nobody decided in time ends: the same from the sweep and from a late decision. */
    expiredResult: () => failure('APPROVAL_EXPIRED', 'ApprovalExpiredError', `Nobody approved or denied the call this session waited on within ${maxPauseDuration} ms; nothing more ran.`),
  };
}

/** The owner of a session when the host does not say: the user's id, or the user if it is a string or number. */
const isKey = (v: unknown): v is string | number | bigint => typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint';

/**
 * The user's key: the `authenticate` result's `id`, or the result itself when it is a string, number or
 * bigint, or its JSON. Without `authenticate` (no user) everybody shares one key. A user it cannot tell
 * apart from others (JSON that fails, or says nothing: `{}`) is refused, never given a shared key: two
 * such users would share their sessions and their caps. The host then sets `userKey`.
 */
function defaultOwner(ctx: EnclaveRequestContext<unknown, unknown>): string {
  const user = ctx.user;
  // No user, or a yes from `authenticate` that names nobody: one key for all, as without `authenticate`.
  if (user === undefined || user === null || typeof user === 'boolean') return '';
  if (isKey(user)) return String(user);
  if (typeof user === 'object') {
    const id = (user as { id?: unknown }).id;
    if (isKey(id)) return String(id);
    let text: string | undefined;
    try {
      text = JSON.stringify(user);
    } catch {
      text = undefined;
    }
    if (text !== undefined && text !== '{}' && text !== '[]') return text;
  }
  throw new Error('enclave: no user key can be derived from what authenticate() returned (no string, number or bigint `id`, and no distinct JSON); set the `userKey` option.');
}

/** One of a user's places for an open session stream: the stream that answers the request owns it (`handed`). */
interface Follower {
  release(): void;
  handed: boolean;
}

interface SessionRoute {
  /** The route's own path, as the client addressed it (mount prefixes included). */
  base: string;
  id?: string;
  events: boolean;
  /** The `{callId}` of `{base}/sessions/{id}/approvals/{callId}`. */
  approval?: string;
}

/** The session routes below the handler's path (`subPath`). */
const SESSION_PATH = /^\/sessions(?:\/([^/]+)(?:(\/events)|\/approvals\/([^/]+))?)?\/?$/;
/** The same pattern at the end of a whole URL path, for a handler called without `subPath` (it does not know its mount). */
const SESSION_PATH_AT_END = new RegExp(`^(.*)${SESSION_PATH.source.slice(1)}`);

/**
 * `{base}/sessions`, `{base}/sessions/{id}`, `{base}/sessions/{id}/events` or
 * `{base}/sessions/{id}/approvals/{callId}`; undefined for the run route. With the adapter's `subPath`
 * the mount comes first: only the path below it is a session route, so a handler mounted at
 * `/api/sessions` keeps its run route and serves its sessions at `/api/sessions/sessions`. Without one
 * (a bare `handler(request)`) the route is read from the end of the URL's path.
 */
function sessionRouteOf(url: string, subPath: string | undefined): SessionRoute | undefined {
  let pathname: string;
  try {
    pathname = new URL(url).pathname;
  } catch {
    return undefined;
  }
  let base: string;
  let m: RegExpExecArray | null;
  if (subPath === undefined) {
    const whole = SESSION_PATH_AT_END.exec(pathname);
    if (!whole) return undefined;
    base = whole[1] ?? '';
    m = SESSION_PATH.exec(pathname.slice(base.length));
  } else {
    m = SESSION_PATH.exec(subPath);
    // The mount as the client addressed it: the URL's path without as many segments as the sub-path has.
    const segments = pathname.replace(/\/+$/, '').split('/');
    base = segments.slice(0, Math.max(1, segments.length - (subPath.replace(/\/+$/, '').split('/').length - 1))).join('/');
  }
  if (!m) return undefined;
  // The URLs handed out below it are the client's own path: one that starts `//` would be another host's.
  base = base.replace(/^\/{2,}/, '/');
  if (m[1] === undefined) return { base, events: false };
  const route: SessionRoute = { base, id: decodeURIComponentSafe(m[1]), events: m[2] !== undefined };
  if (m[3] !== undefined) route.approval = decodeURIComponentSafe(m[3]);
  return route;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return '';
  }
}

/**
 * Where a reader resumes: after the seq in `Last-Event-ID` when that header is present (an `EventSource`
 * sends it on reconnecting), else after `?fromSeq=N`, else from the start (0). A value present but not a
 * non-negative integer in decimal digits is 400, and that includes an empty one: `?fromSeq=` is a
 * client that lost its number, and so is an empty `Last-Event-ID`, which no `EventSource` sends (it
 * omits the header while its last event ID is empty, and this server never sends an empty `id:`, every
 * event's is its seq). Replaying from the start instead would hand such a client every event again.
 * An integer of any length is one: past the largest safe integer it is past every seq a session can
 * reach (`Number.MAX_SAFE_INTEGER`, which a store can still add one to exactly), so nothing follows it.
 */
function resumePoint(request: Request): number {
  const header = request.headers.get('last-event-id');
  const raw = header ?? new URL(request.url).searchParams.get('fromSeq');
  if (raw === null) return 0;
  if (!/^\d+$/.test(raw)) throw new EnclaveHttpError(400, `${header !== null ? 'Last-Event-ID' : 'fromSeq'} must be a non-negative integer.`);
  return Math.min(Number(raw), Number.MAX_SAFE_INTEGER);
}

function stateOf(result: ExecutionResult): FinalSessionState {
  if (result.success) return 'completed';
  return result.error.code === 'ABORTED' ? 'cancelled' : 'failed';
}

/** Whether a session ended because nobody decided its approval in time. */
function endedExpired(record: SessionRecord): boolean {
  return record.result !== undefined && !record.result.success && record.result.error.code === 'APPROVAL_EXPIRED';
}

function sessionView(record: SessionRecord): { sessionId: string; state: SessionState; result?: ExecutionResult; pendingApproval?: SessionRecord['pendingApproval'] } {
  const view: ReturnType<typeof sessionView> = { sessionId: record.sessionId, state: record.state };
  if (record.result !== undefined) view.result = record.result;
  if (record.state === 'waiting_for_approval' && record.pendingApproval !== undefined) view.pendingApproval = record.pendingApproval;
  return view;
}

/** The session once it has finished, or undefined if it has not within `ms`. */
async function untilFinished(store: SessionStore, sessionId: string, ms: number): Promise<SessionRecord | undefined> {
  let wake: (() => void) | undefined;
  const stop = store.subscribe(sessionId, () => wake?.());
  const deadline = performance.now() + ms;
  try {
    for (;;) {
      const record = await store.get(sessionId);
      if (record === undefined || record.state !== 'running') return record;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(left, 250)).unref();
      });
    }
  } finally {
    stop();
  }
}

/**
 * Appends a session's events in order, batching what arrives while a write is in flight (a remote store
 * pays one round trip per batch, not per event). A write that fails is retried, with backoff, until the
 * store answers or the run has ended and `drained` gives up; a store that fails loses events, never the
 * run. What waits is bounded by the run's own budgets.
 */
function orderedAppender(store: SessionStore, sessionId: string): { push(event: EnclaveEvent): void; drained(maxWaitMs: number): Promise<void> } {
  let pending: EnclaveEvent[] = [];
  let writing: Promise<void> | undefined;
  let giveUp = false;
  // `writing` is cleared in the same step that finds nothing left to write: an event pushed in between
  // would otherwise wait for a write that never comes (and a session lose its `final`).
  // (`drained` sets giveUp while a write awaits.)
  const more = () => pending.length > 0 && !giveUp;
  const write = async (): Promise<void> => {
    for (let attempt = 0; more(); attempt++) {
      const batch = pending;
      pending = [];
      try {
        await store.append(sessionId, batch);
        attempt = -1;
      } catch {
        // Back in front of what arrived meanwhile, for the next attempt.
        pending = batch.concat(pending);
        await pause(attempt);
      }
    }
    writing = undefined;
  };
  return {
    push(event) {
      pending.push(event);
      writing ??= write();
    },
    async drained(maxWaitMs) {
      const timer = setTimeout(() => (giveUp = true), maxWaitMs);
      timer.unref();
      // Each write may chain more: wait until none is in flight.
      for (let w = writing; w !== undefined; w = writing) await w;
      clearTimeout(timer);
    },
  };
}

/** Backoff between attempts at a store that failed: 100 ms, doubling, at most 2 s. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)).unref());
}

/** Calls a store until it answers, with backoff, for at most `maxWaitMs`; the last failure is thrown. */
async function persistently<T>(fn: () => Promise<T>, maxWaitMs: number): Promise<T> {
  const until = performance.now() + maxWaitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (performance.now() >= until) throw err;
      await pause(attempt);
    }
  }
}


/** Starts the request side of a handler whose options createEnclaveHandler has checked. */
export function startHandlerCore<N, U>(options: EnclaveHandlerOptions<N, U>, shared: HandlerShared<N, U>): HandlerCore<N> {
  const { enclave, statuses, maxBodySize, bodyTimeoutMs, catalog, checkRouteOn, playground, routes, requestError, refuse } = shared;
  const retryAfter = String(options.retryAfter ?? 1);
  const logger = options.logger ?? console;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const rateLimit = options.rateLimit ? { ...options.rateLimit, store: options.rateLimit.store ?? new MemoryRateLimitStore() } : undefined;
  const sessionOptions = options.sessions === false ? undefined : (options.sessions ?? {});
  const ownsStore = sessionOptions !== undefined && sessionOptions.store === undefined;
  const userKey = (options.userKey ?? defaultOwner) as (ctx: EnclaveRequestContext<N, U>) => string;
  const leases = options.leases ?? new MemoryLeaseStore();
  const sessionStore = sessionOptions && (sessionOptions.store ?? new MemorySessionStore());
  const sessions = sessionOptions && sessionStore && {
    store: sessionStore,
    durable: durableSessions(sessionStore, sessionOptions as SessionOptions<unknown, unknown>, maxBodySize),
    owner: (sessionOptions.owner ?? userKey) as (ctx: EnclaveRequestContext<N, U>) => string,
    maxPerUser: sessionOptions.maxPerUser ?? DEFAULT_SESSIONS_PER_USER,
    maxFollowersPerUser: sessionOptions.maxFollowersPerUser ?? DEFAULT_FOLLOWERS_PER_USER,
    ttlMs: sessionOptions.ttlMs ?? DEFAULT_SESSION_TTL_MS,
    livenessMs: sessionOptions.livenessMs ?? LIVENESS_MS,
  };
  // Every instance ends the sessions of instances that stopped renewing them (crash, kill -9), once.
  const sweeper = sessions && setInterval(() => void sweep(), Math.max(10, Math.floor(sessions.livenessMs / 2)));
  sweeper?.unref();
  async function sweep(): Promise<void> {
    if (!sessions) return;
    try {
      for (const id of await sessions.store.stale()) {
        const lost = failure('RUN_LOST', 'RunLostError', 'The app instance running this session stopped before the run ended; the run did not finish and is not retried.');
        await sessions.store.finish(id, 'failed', lost, sessions.ttlMs);
      }
      const durable = sessions.durable;
      if (durable === undefined) return;
      const ids = await durable.expired();
      // Only a wait that has ended by now: a session a decision set running again since the listing, or
      // that paused again on a later call, is not this sweep's to end.
      const now = Date.now();
      for (const id of ids) await endExpiredWait(id, await sessions.store.get(id), now);
    } catch {
      // The store is down: the next sweep tries again.
    }
  }
  /** Sessions this handler runs, so disposal can end them. */
  const localSessions = new Map<string, AbortController>();
  /** Session streams open on this instance, by owner (`sessions.maxFollowersPerUser`). */
  const followers = new Map<string, number>();
  let inFlight = 0;

  const safely = (fn: () => void) => {
    try {
      fn();
    } catch {
      // A throwing hook must not turn a delivered answer into a crash.
    }
  };

  const reportHookError = (error: unknown, request: Request) => {
    safely(() => logger.error('enclave: a hook failed', error));
    safely(() => options.onError?.({ error, request }));
  };

  /** A user's key (`userKey`, `sessions.owner`); one that cannot be had is the host's error: a bare 500, logged. */
  const keyOf = (hook: (ctx: EnclaveRequestContext<N, U>) => string, ctx: EnclaveRequestContext<N, U>): string => {
    try {
      return hook(ctx);
    } catch (err) {
      reportHookError(err, ctx.request);
      throw new EnclaveHttpError(500, 'An internal error occurred.', { code: 'INTERNAL_ERROR' });
    }
  };

  async function scopeOf(ctx: EnclaveRequestContext<N, U>): Promise<RunScope> {
    if (options.createContext) return checkedScope(await options.createContext(ctx, ctx.native));
    if (typeof options.tools === 'function') return { tools: checkedTools(new OptionChecker('tools(ctx)'), 'its result', await options.tools(ctx)) };
    return options.tools ? { tools: options.tools } : {};
  }

  /**
   * The `authenticate` hook's answer. A refusal it throws in its framework's own way (http-errors,
   * Nest's ForbiddenException, Hono's HTTPException: a `status` or `statusCode` of 401 or 403) is that
   * status, with a message of ours: only an EnclaveHttpError's own message is meant for the client.
   * Anything else it throws is a failure of the hook (500, onError).
   */
  async function authenticated(authenticate: NonNullable<typeof options.authenticate>, base: EnclaveRequestContext<N, undefined>): Promise<unknown> {
    try {
      return await authenticate(base);
    } catch (err) {
      const status = err instanceof EnclaveHttpError ? undefined : refusalStatus(err);
      if (status === undefined) throw err;
      throw new EnclaveHttpError(status, status === 401 ? 'Authentication required.' : 'Forbidden.', { cause: err });
    }
  }

  /** Who is asking, and whether their rate limit lets them: every route of the handler goes through it first. */
  async function admit(request: Request, native: N): Promise<EnclaveRequestContext<N, U>> {
    const base = { request, native, signal: request.signal, user: undefined };
    let user = undefined as U;
    if (options.authenticate) {
      const who = await authenticated(options.authenticate, base);
      if (who === null || who === undefined || who === false) throw new EnclaveHttpError(401, 'Authentication required.');
      user = who as U;
    }
    const ctx: EnclaveRequestContext<N, U> = { ...base, user };
    const limitKey = rateLimit?.key(ctx);
    if (rateLimit && limitKey !== undefined) {
      // Tool names have no control characters, so these keys never meet a tool's in a shared store.
      let hit;
      try {
        hit = await rateLimit.store.hit(`\u0000http\u0000${limitKey}`, rateLimit.windowMs);
      } catch {
        // Fail closed: a limit that cannot be checked is not a limit that holds.
        throw unavailable('The rate limit cannot be checked right now; retry later.');
      }
      if (hit.count > rateLimit.max) {
        throw new EnclaveHttpError(429, 'Too many requests; retry later.', { headers: { 'retry-after': String(Math.max(1, Math.ceil(hit.resetInMs / 1000))) } });
      }
    }
    return ctx;
  }

  /** The JSON body's text, within `maxBodySize` and `bodyTimeoutMs`; throws EnclaveHttpError (413, 415, 408, or 400 for bad UTF-8). */
  async function readJsonText(request: Request): Promise<string> {
    const type = request.headers.get('content-type');
    if (!isJsonContentType(type)) throw new EnclaveHttpError(415, contentTypeRefusal(type, 'the request'));
    return readBodyText(request, maxBodySize, { timeoutMs: bodyTimeoutMs });
  }

  /** The run request in the body, checked; throws EnclaveHttpError (400, 413, 415). */
  async function readRun(request: Request): Promise<RunRequestBody> {
    return parseRunRequest(await readJsonText(request));
  }

  /** `POST {path}/check`: what `enclave.check()` finds, with this user's tools and globals; nothing runs. */
  async function checkRoute(request: Request, ctx: EnclaveRequestContext<N, U>): Promise<Response> {
    const body: CheckRequestBody = parseCheckRequest(await readJsonText(request));
    const scope = await scopeOf(ctx);
    const checkOptions: Parameters<Enclave['check']>[1] = {};
    if (scope.tools !== undefined) checkOptions.tools = scope.tools;
    if (scope.toolHandler !== undefined) checkOptions.toolHandler = scope.toolHandler;
    if (scope.globals !== undefined) checkOptions.globals = scope.globals;
    return json(statuses.SUCCESS, enclave.check(body.code, checkOptions));
  }

  function runOptionsFor(scope: RunScope, body: RunRequestBody, signal: AbortSignal, request: Request): RunOptions {
    // The request's trace context (W3C traceparent) is the parent of the run's span.
    const runOptions: RunOptions = { ...body.limits, signal, traceContext: extractTraceContext(request.headers) };
    if (scope.tools !== undefined) runOptions.tools = scope.tools;
    if (scope.toolHandler !== undefined) runOptions.toolHandler = scope.toolHandler;
    if (body.input !== undefined) runOptions.input = body.input;
    if (scope.globals !== undefined) runOptions.globals = scope.globals;
    if (scope.context !== undefined) runOptions.context = scope.context;
    return runOptions;
  }

  /**
   * The status of a finished run, the headers that go with it, and the result as the client may see it.
   * `direct`: the request's signal was the run's only one (a JSON answer), so an `ABORTED` run whose
   * request is still open was stopped by the server (its Enclave disposed: a shutdown), not by a client
   * that went away: 503 with `Retry-After`, never 499 to a client that is there to read it.
   */
  function answerFor(result: ExecutionResult, request: Request, direct = false): { status: number; headers: Record<string, string>; result: ExecutionResult } {
    if (result.success) return { status: statuses.SUCCESS, headers: {}, result };
    const { error, stats } = result;
    let status = statuses[error.code];
    let headers: Record<string, string> = {};
    if (error.code === 'TOOL_ERROR') {
      // A public ToolError's status (400-599) travels in the result's data.
      const carried = error.data?.status;
      if (typeof carried === 'number' && Number.isInteger(carried) && carried >= 400 && carried <= 599) status = carried;
      // A tool's rate limit (or a public ToolError) that says when to come back: the client's
      // Retry-After, in whole seconds, at least 1 and at most the longest delay a timer keeps.
      const after = error.data?.retryAfterMs;
      if (typeof after === 'number' && Number.isFinite(after) && after >= 0) headers = { 'retry-after': String(Math.min(Math.max(1, Math.ceil(after / 1000)), Math.floor(MAX_DELAY_MS / 1000))) };
    } else if (error.code === 'QUEUE_FULL' || error.code === 'RUNTIME_UNAVAILABLE') {
      headers = { 'retry-after': retryAfter };
    } else if (error.code === 'ABORTED' && direct && !request.signal.aborted) {
      status = statuses.SERVICE_UNAVAILABLE;
      headers = { 'retry-after': retryAfter };
      safely(() => logger.info(`enclave: the server stopped the run (its Enclave was disposed) after ${Math.round(stats.duration)} ms (${status})`));
    } else if (error.code === 'ABORTED') {
      safely(() => logger.info(`enclave: client closed the request; run aborted after ${Math.round(stats.duration)} ms (${status})`));
    } else if (error.code === 'INTERNAL_ERROR') {
      safely(() => logger.error('enclave: the engine reported an internal error'));
      safely(() => options.onError?.({ error, request }));
      return { status, headers, result: internalFailure(stats) };
    }
    return { status, headers, result };
  }

  /** Runs through the concurrency cap; `null` when it is full. */
  function slot(): (() => void) | null {
    if (options.maxConcurrentRuns !== undefined && inFlight >= options.maxConcurrentRuns) return null;
    inFlight++;
    let freed = false;
    return () => {
      if (!freed) inFlight--;
      freed = true;
    };
  }

  const busy = (started: number) => requestError('QUEUE_FULL', 'The server is busy; retry later.', started, { 'retry-after': retryAfter });
  const unavailable = (message: string) => new EnclaveHttpError(503, message, { code: 'SERVICE_UNAVAILABLE', headers: { 'retry-after': String(STORE_RETRY_AFTER_S) } });
  const tooMany = (message: string) => new EnclaveHttpError(429, message, { code: 'RATE_LIMITED', headers: { 'retry-after': String(BUSY_RETRY_AFTER_S) } });

  /**
   * A lease on one of the user's `maxRunsPerUser` slots for a run (none without the option): held while
   * the run lasts, so the cap holds across instances and a crashed one gives its slots back.
   */
  async function runLease(ctx: EnclaveRequestContext<N, U>): Promise<{ release(): Promise<void> } | undefined> {
    if (options.maxRunsPerUser === undefined) return undefined;
    const max = options.maxRunsPerUser;
    // Outside the store's try: a user without a key is the host's error (500), not the store's (503).
    const key = `\u0000runs\u0000${keyOf(userKey, ctx)}`;
    let lease;
    try {
      lease = await holdLease(leases, key, max, LIVENESS_MS);
    } catch {
      throw unavailable('The per-user run limit cannot be checked right now; retry later.');
    }
    if (lease === null) throw tooMany(`At most ${max} runs may be in flight per user; wait for one to end.`);
    return lease;
  }

  /** A run for a route of `routes`: the run route's cap, hooks, scope and status table, answered to the route. */
  async function routeRun(ctx: EnclaveRequestContext<N, U>, body: RunRequestBody, scope: () => Promise<RunScope>): Promise<{ result: ExecutionResult; status: number }> {
    const free = slot();
    if (free === null) throw new EnclaveHttpError(503, 'The server is busy; retry later.', { code: 'QUEUE_FULL', headers: { 'retry-after': retryAfter } });
    let result: ExecutionResult;
    let lease: { release(): Promise<void> } | undefined;
    try {
      lease = await runLease(ctx);
      const s = await scope();
      await options.onRunStart?.({ ctx, body });
      result = await enclave.run(body.code, runOptionsFor(s, body, ctx.request.signal, ctx.request));
    } finally {
      free();
      void lease?.release();
    }
    const answer = answerFor(result, ctx.request, true);
    safely(() => options.onRunEnd?.({ ctx, result: answer.result, status: answer.status }));
    return { result: answer.result, status: answer.status };
  }

  /** What a route of `routes` may call: failures other than `EnclaveHttpError` are reported and become a bare 500, so no hook's error text reaches the route's answer. */
  function routeContext(ctx: EnclaveRequestContext<N, U>, rest: string): EnclaveRouteContext<N, U> {
    const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof EnclaveHttpError) throw err;
        reportHookError(err, ctx.request);
        throw new EnclaveHttpError(500, 'An internal error occurred.', { code: 'INTERNAL_ERROR', cause: err });
      }
    };
    let built: Promise<RunScope> | undefined;
    const scope = () => (built ??= guarded(() => scopeOf(ctx)));
    return { ctx, rest, enclave, maxBodySize, bodyTimeoutMs, scope, run: (body) => guarded(() => routeRun(ctx, body, scope)) };
  }

  /** `POST {path}`: the run, answered as JSON, or streamed as its events when the client asks for a stream. */
  async function runRoute(request: Request, ctx: EnclaveRequestContext<N, U>, started: number): Promise<Response> {
    const body = await readRun(request);
    const freeSlot = slot();
    if (freeSlot === null) return busy(started);
    let lease;
    try {
      lease = await runLease(ctx);
    } catch (err) {
      freeSlot();
      throw err;
    }
    const free = () => {
      freeSlot();
      void lease?.release();
    };
    const format = streamFormat(request.headers.get('accept'));
    let scope: RunScope;
    try {
      scope = await scopeOf(ctx);
      await options.onRunStart?.({ ctx, body });
    } catch (err) {
      free();
      throw err;
    }
    if (format === null) {
      const runOptions = runOptionsFor(scope, body, request.signal, request);
      let result: ExecutionResult;
      try {
        result = await enclave.run(body.code, runOptions);
      } finally {
        free();
      }
      const answer = answerFor(result, request, true);
      safely(() => options.onRunEnd?.({ ctx, result: answer.result, status: answer.status }));
      return json(answer.status, answer.result, answer.headers);
    }
    // A stream: its status is 200 from the first byte; the result's own status is the final event's business.
    // The reader going away aborts the run, as a closed JSON request does, and so does a reader that
    // reads nothing for sendTimeoutMs (a server that writes with backpressure stops reading the stream).
    const stop = new AbortController();
    const runOptions = runOptionsFor(scope, body, AbortSignal.any([request.signal, stop.signal]), request);
    const events = pushStream(format, () => stop.abort(), options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS);
    void enclave
      .run(body.code, { ...runOptions, heartbeatMs, onEvent: (event) => events.push(forClient(event, request)) })
      .then((result) => {
        free();
        const answer = answerFor(result, request);
        safely(() => options.onRunEnd?.({ ctx, result: answer.result, status: answer.status }));
        events.close();
      });
    return new Response(events.stream, { status: statuses.SUCCESS, headers: streamHeaders(format) });
  }

  /** An internal error's details never reach the client, in a stream either. */
  function forClient(event: EnclaveEvent, request: Request): EnclaveEvent {
    if (event.type !== 'final' || event.payload.success || event.payload.error.code !== 'INTERNAL_ERROR') return event;
    return { ...event, payload: answerFor(event.payload, request).result };
  }

  function sessionOwner(ctx: EnclaveRequestContext<N, U>): string {
    return keyOf((sessions as NonNullable<typeof sessions>).owner, ctx);
  }

  /** The session if it exists and belongs to the caller; anyone else learns nothing about it (404). */
  async function ownSession(id: string, ctx: EnclaveRequestContext<N, U>): Promise<SessionRecord> {
    const record = isSessionId(id) ? await (sessions as NonNullable<typeof sessions>).store.get(id) : undefined;
    if (record === undefined || record.owner !== sessionOwner(ctx)) throw new EnclaveHttpError(404, 'No such session.');
    return endIfWaitEnded(id, record);
  }

  /**
   * A session read after its wait for a decision ran out ends then, as the sweep would end it (which
   * comes every `livenessMs / 2`): no read shows a pending approval that can only be refused (410), and
   * a stream opened on it gets its `final` at once. Left to the sweep if the store fails here.
   */
  async function endIfWaitEnded(id: string, record: SessionRecord): Promise<SessionRecord> {
    const { store, durable } = sessions as NonNullable<typeof sessions>;
    const pending = record.state === 'waiting_for_approval' ? record.pendingApproval : undefined;
    const now = Date.now();
    if (durable === undefined || pending === undefined || pending.expiresAt > now) return record;
    try {
      await endExpiredWait(id, record, now);
      return (await store.get(id)) ?? record;
    } catch {
      return record;
    }
  }

  /**
   * Ends a session whose wait for a decision ran out by `now` as `APPROVAL_EXPIRED`, with the stats of
   * its run up to the pause (the sweep, a read, a decision that came too late); a session a decision set
   * running again meanwhile, or that paused again, is left as it is (the store's `waitEndsBy`).
   */
  async function endExpiredWait(id: string, record: SessionRecord | undefined, now: number): Promise<void> {
    const { durable } = sessions as NonNullable<typeof sessions>;
    if (durable === undefined) return;
    await endWaiting(id, record, 'failed', durable.expiredResult(), now);
  }

  /**
   * Ends a session that waits for a decision as `ended` (cancelled, or its wait ran out by `waitEndsBy`),
   * with the stats of its run up to the pause it ends: read back from its paused state (checked as any
   * state from the store), and `ended` as it is (nothing counted) when the state cannot be had or read.
   * The store ends it only if it still waits on the call of that state: a decision may have set it
   * running since, and the run may have paused again on a later call, whose stats those are not.
   * `true` if this call ended it.
   */
  async function endWaiting(sessionId: string, record: SessionRecord | undefined, state: FinalSessionState, ended: ExecutionFailure, waitEndsBy: number): Promise<boolean> {
    const { store, ttlMs, durable: d } = sessions as NonNullable<typeof sessions>;
    let callId = record?.pendingApproval?.callId;
    let result = ended;
    try {
      const text = d === undefined || record === undefined ? undefined : await d.pausedState(sessionId);
      const opened = d === undefined || record === undefined || text === undefined || text.length > d.maxStateChars ? undefined : await d.open(sessionId, record.owner, text);
      const paused = opened === undefined ? undefined : readPausedState(opened);
      if (paused !== undefined) {
        callId = paused.approval.callId;
        if (paused.stats !== undefined) result = { ...ended, stats: paused.stats };
      }
    } catch {
      result = ended;
    }
    return store.finish(sessionId, state, result, ttlMs, callId === undefined ? { waitEndsBy } : { waitEndsBy, callId });
  }

  /**
   * The user's slots for a session's run (the concurrency cap, `maxRunsPerUser`, `sessions.maxPerUser`):
   * the returned function gives them back. Throws like the routes (503, 429).
   */
  async function sessionSlots(ctx: EnclaveRequestContext<N, U>, started: number): Promise<(() => void) | Response> {
    const { maxPerUser, livenessMs } = sessions as NonNullable<typeof sessions>;
    const freeSlot = slot();
    if (freeSlot === null) return busy(started);
    const held: { release(): Promise<void> }[] = [];
    const free = () => {
      freeSlot();
      for (const lease of held) void lease.release();
    };
    try {
      const runs = await runLease(ctx);
      if (runs) held.push(runs);
      const key = `\u0000sessions\u0000${sessionOwner(ctx)}`;
      let sessionLease;
      try {
        sessionLease = await holdLease(leases, key, maxPerUser, livenessMs);
      } catch {
        throw unavailable('Sessions are unavailable right now; retry later.');
      }
      if (sessionLease === null) throw tooMany(`At most ${maxPerUser} sessions may run at once; wait for one to end.`);
      held.push(sessionLease);
    } catch (err) {
      free();
      throw err;
    }
    return free;
  }

  /**
   * One of the owner's `maxFollowersPerUser` session streams on this instance, taken before the request
   * starts or resumes anything; throws 429 when all are open. The stream it answers with owns it.
   */
  function takeFollower(ctx: EnclaveRequestContext<N, U>): Follower {
    const { maxFollowersPerUser } = sessions as NonNullable<typeof sessions>;
    const owner = sessionOwner(ctx);
    const open = followers.get(owner) ?? 0;
    if (open >= maxFollowersPerUser) throw tooMany(`At most ${maxFollowersPerUser} session streams may be open at once per user; close one first.`);
    followers.set(owner, open + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (followers.get(owner) ?? 1) - 1;
      if (left > 0) followers.set(owner, left);
      else followers.delete(owner);
    };
    return { release, handed: false };
  }

  /** `POST {path}/sessions`: a run not tied to this connection. */
  async function startSession(request: Request, ctx: EnclaveRequestContext<N, U>, base: string, started: number, follower: Follower | undefined): Promise<Response> {
    const { store, livenessMs } = sessions as NonNullable<typeof sessions>;
    const body = await readRun(request);
    const free = await sessionSlots(ctx, started);
    if (free instanceof Response) return free;
    const owner = sessionOwner(ctx);
    const sessionId = newSessionId();
    let scope: RunScope;
    try {
      scope = await scopeOf(ctx);
      await options.onRunStart?.({ ctx, body });
      let created: boolean;
      try {
        created = await store.create({ sessionId, owner, createdAt: Date.now() });
        await store.keepAlive(sessionId, livenessMs);
      } catch {
        throw unavailable('Sessions are unavailable right now; retry later.');
      }
      if (!created) throw new Error('session id collision');
    } catch (err) {
      free();
      throw err;
    }
    runSession({ sessionId, ctx, request, body, scope, free });
    const format = streamFormat(request.headers.get('accept'));
    if (format !== null) return streamResponse(format, store, sessionId, 0, follower, { 'x-session-id': sessionId });
    const url = `${base}/sessions/${sessionId}`;
    // X-Session-Id as the streamed start sends it: a client reads the id from the same place either way.
    return json(201, { sessionId, statusUrl: url, eventsUrl: `${url}/events`, cancelUrl: url }, { location: url, 'x-session-id': sessionId });
  }

  /**
   * A session's run on this instance, started or resumed after a decision: its events go to the store
   * (a resumed run's after the seq it paused at, without a second `session_init`), and it ends with
   * `final`, or pauses again with `approval_required` and its journal, written in one step by the store.
   */
  function runSession(run: { sessionId: string; ctx: EnclaveRequestContext<N, U>; request: Request; body: RunRequestBody; scope: RunScope; free: () => void; resume?: { journal: unknown; decision: ApprovalDecision; lastSeq: number; stats?: ExecutionStats | undefined } }): void {
    const { sessionId, ctx, request, body, scope, free, resume } = run;
    const { store, ttlMs, livenessMs, durable } = sessions as NonNullable<typeof sessions>;
    const owner = sessionOwner(ctx);
    /** Until when the place this run holds among its owner's waiting sessions lasts: the end of its wait if it pauses. */
    let waitUntil: number | undefined;
    const holdWait = durable?.holdWait;
    const mayPause =
      durable === undefined || holdWait === undefined
        ? undefined
        : async ({ tool }: { tool: string }): Promise<string | undefined> => {
            const until = Date.now() + durable.maxPauseDuration;
            if (!(await holdWait(owner, sessionId, durable.maxWaitingPerUser, until))) {
              return `Tool "${tool}" needs a person's approval, but this run cannot wait for one: ${durable.maxWaitingPerUser} of your sessions already wait for one (the most allowed), or the server holds as many waiting sessions as it may. Decide or cancel a waiting session first.`;
            }
            waitUntil = until;
            return undefined;
          };
    const abort = new AbortController();
    localSessions.set(sessionId, abort);
    const stopListening = store.onCancel(sessionId, () => abort.abort());
    // While the run lasts this instance says it is alive; if it dies, any instance ends the session.
    // Once the store says the session is not running (another instance's sweep ended it as RUN_LOST:
    // this one's word ran out in a partition, a store outage, a stalled loop), the run stops: a session
    // said lost must not go on calling tools, or a client that retries what it was told did not finish
    // has it done twice. A resumed run asks at once: its decision may have waited on hooks meanwhile.
    let lost = false;
    const renew = () => {
      store.keepAlive(sessionId, livenessMs).then(
        (running) => {
          if (running !== false || lost) return;
          lost = true;
          abort.abort();
        },
        () => {},
      );
    };
    if (resume !== undefined) renew();
    const alive = setInterval(renew, Math.max(10, Math.floor(livenessMs / 3)));
    alive.unref();
    const appender = orderedAppender(store, sessionId);
    const offset = resume === undefined ? 0 : resume.lastSeq - 1;
    // The seq the store gives the pause's approval_required event (the run's seqs go on from the session's).
    let pauseSeq: number | undefined;
    void (async () => {
      let result: ExecutionResult;
      try {
        // `final` and `approval_required` are written by finish() and pause(), with the state, in one step.
        const onEvent = (event: EnclaveEvent) => {
          if (event.type === 'approval_required') pauseSeq = event.seq + offset;
          if (event.type === 'final' || event.type === 'approval_required' || (resume !== undefined && event.type === 'session_init')) return;
          appender.push(forClient(offset === 0 ? event : { ...event, seq: event.seq + offset }, request));
        };
        const runOptions: RunOptions = { ...runOptionsFor(scope, body, abort.signal, request), sessionId, heartbeatMs, onEvent };
        if (durable !== undefined) {
          runOptions.durable = resume === undefined ? { ...durable.limits } : { ...durable.limits, resume: { journal: resume.journal, decision: resume.decision } };
          if (mayPause !== undefined) runOptions.durable.mayPause = mayPause;
        }
        // A cancel asked between the decision and this run's listener ends it before the approved call:
        // the listener's own check of the store may answer after that call has run.
        if (resume !== undefined && store.cancelAsked !== undefined && (await store.cancelAsked(sessionId).catch(() => false))) abort.abort();
        result = await enclave.run(body.code, runOptions);
        if (lost && !result.success && result.error.code === 'ABORTED') result = failure('RUN_LOST', 'RunLostError', 'The session store ended this session while this app instance still ran it (it did not hear from the instance within sessions.livenessMs): the run stopped there. A call in flight then may have happened; the run is not retried.', result.stats);
      } catch {
        result = internalFailure();
      }
      // The session's result counts every part of its run.
      result = withEarlierParts(result, resume?.stats);
      let paused: PausedRun | undefined;
      if (!result.success && result.paused !== undefined) {
        // The journal stays on the server: hooks and clients see the pause, not what it holds.
        const { paused: journal, ...rest } = result;
        paused = journal;
        result = rest;
      }
      let answer = answerFor(result, request);
      let waiting = false;
      try {
        await appender.drained(DRAIN_WAIT_MS);
        if (paused !== undefined && durable !== undefined) {
          // The wait began when the run asked (and took its place among the owner's waiting sessions).
          const digest = await approvalDigest(paused.approval);
          const approval = { ...paused.approval, expiresAt: waitUntil ?? Date.now() + durable.maxPauseDuration, ...(digest !== undefined && { digest }) };
          const state = await durable.seal(sessionId, owner, JSON.stringify({ v: 1, ...(pauseSeq !== undefined && { seq: pauseSeq }), body, journal: paused.journal, approval: paused.approval, stats: result.stats, tools: scopeToolNames(scope) } satisfies PausedState));
          waiting = await persistently(() => durable.pause(sessionId, { approval, state }, ttlMs), DRAIN_WAIT_MS);
          // Not paused: ended meanwhile (a cancel; then this finds it ended and does nothing), or the store
          // had no room for the paused run (MemorySessionStore's maxWaitingBytes). Nobody runs it now, so
          // it ends here rather than read as running until a sweep calls it lost.
          if (!waiting) {
            const refused = failure('JOURNAL_LIMIT_EXCEEDED', 'JournalLimitError', `The run needed a person's approval of "${paused.approval.tool}", but the session store could not keep the paused run (it holds as much as it may of runs waiting for approval). Nothing more ran.`, result.stats);
            if (await persistently(() => store.finish(sessionId, 'failed', refused, ttlMs), DRAIN_WAIT_MS)) answer = answerFor(refused, request);
          }
        } else await persistently(() => store.finish(sessionId, stateOf(answer.result), answer.result, ttlMs), DRAIN_WAIT_MS);
        // A place taken for a pause that did not happen (the run ended otherwise, or was cancelled meanwhile).
        if (waitUntil !== undefined && !waiting) await durable?.releaseWait(owner, sessionId);
      } catch (err) {
        // The store stays down: this instance stops saying it runs the session, and once the store is
        // back any instance's sweep ends it as RUN_LOST.
        safely(() => logger.error('enclave: the session store failed to record the end of a session', err));
      } finally {
        clearInterval(alive);
        stopListening();
        localSessions.delete(sessionId);
        free();
      }
      safely(() => options.onRunEnd?.({ ctx, result: answer.result, status: answer.status }));
    })();
  }

  /**
   * `POST {path}/sessions/{id}/approvals/{callId}` with `{ approved: true }` or `{ approved: false,
   * reason? }`: the owner's decision on the call a paused session waits on, through any instance. The
   * store hands the paused run to exactly one request; this instance runs it again against its journal.
   */
  async function decide(request: Request, ctx: EnclaveRequestContext<N, U>, route: SessionRoute & { id: string; approval: string }, started: number, follower: Follower | undefined): Promise<Response> {
    const { store, livenessMs, durable } = sessions as NonNullable<typeof sessions>;
    if (request.method.toUpperCase() !== 'POST') return requestError('METHOD_NOT_ALLOWED', 'Use POST to approve or deny a call.', started, { allow: 'POST' });
    const record = await ownSession(route.id, ctx);
    if (durable === undefined) throw new EnclaveHttpError(404, 'No such approval: this server’s session store cannot pause runs.');
    // A path that names no call is no approval, whatever the session's state or the body (README: 404).
    const callId = /^[1-9]\d{0,8}$/.test(route.approval) ? Number(route.approval) : undefined;
    if (callId === undefined) {
      const waits = record.state === 'waiting_for_approval' && record.pendingApproval !== undefined ? `; the session waits on call ${record.pendingApproval.callId}` : '';
      throw new EnclaveHttpError(404, `No such approval: a call id is a positive integer${waits}.`);
    }
    const type = request.headers.get('content-type');
    if (!isJsonContentType(type)) throw new EnclaveHttpError(415, contentTypeRefusal(type, 'the decision'));
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readBodyText(request, Math.min(maxBodySize, MAX_DECISION_BYTES), { timeoutMs: bodyTimeoutMs }));
    } catch (err) {
      if (err instanceof EnclaveHttpError) throw err;
      throw new EnclaveHttpError(400, 'The request body is not valid JSON.');
    }
    // The digest of the approval the person was shown, if the client sends it back: optional, checked when there.
    let shownDigest: unknown;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && Object.hasOwn(parsed, 'digest')) ({ digest: shownDigest, ...parsed } = parsed as Record<string, unknown>);
    const decision = readDecision(parsed);
    if (decision === undefined || (shownDigest !== undefined && (typeof shownDigest !== 'string' || !DIGEST.test(shownDigest)))) {
      throw new EnclaveHttpError(400, `The body must be { "approved": true } or { "approved": false, "reason"?: string of at most ${MAX_REASON} characters }, with the approval's "digest"?: string as it was shown.`);
    }
    if (record.state !== 'waiting_for_approval') throw notDecided(record);
    // A call decided already (the run has paused again since), or one it never waited on: as the contract's "not waiting on it" row.
    if (record.pendingApproval?.callId !== callId) throw new EnclaveHttpError(409, `The session does not wait on call ${callId} (any more): it waits on call ${record.pendingApproval?.callId ?? '?'}.`, { code: 'CONFLICT' });
    // Bound to what the person saw: the call waiting now must be that call, tool and arguments. The
    // resume then checks the paused run against this same record, so the call that runs is the one shown.
    if (shownDigest !== undefined && shownDigest !== (await approvalDigest(record.pendingApproval))) {
      throw new EnclaveHttpError(409, 'The call this session waits on is not the one shown with this digest; nothing ran. Read the session again before deciding.', { code: 'CONFLICT' });
    }
    // Too late already: no slot is taken for it and nothing runs (the store's resume checks again, atomically).
    if (record.pendingApproval.expiresAt <= Date.now()) throw await tooLate(route.id, record);
    const free = await sessionSlots(ctx, started);
    if (free instanceof Response) return free;
    let resumed: { state: string; lastSeq: number } | undefined;
    let paused: PausedState | string;
    let scope: RunScope;
    /** The run's stats up to its pause, once its state is read: a run refused now ends with them. */
    let before: ExecutionStats | undefined;
    try {
      scope = await scopeOf(ctx);
      try {
        resumed = await durable.resume(route.id, callId, livenessMs);
      } catch {
        throw unavailable('Sessions are unavailable right now; retry later.');
      }
      if (resumed === undefined) throw await notResumed(route.id, record);
      // Decided: its place among the owner's waiting sessions is free again (before the run may take one anew).
      await durable.releaseWait(record.owner, route.id).catch(() => {});
      paused = await pausedStateOf(route.id, record, resumed);
      if (typeof paused !== 'string') {
        before = paused.stats;
        scope = withinTools(scope, paused.tools);
        await options.onRunStart?.({ ctx, body: paused.body });
      }
    } catch (err) {
      free();
      // Refused by a hook after the store handed the run over: it ends rather than wait for nobody.
      if (resumed !== undefined) await endResumed(route.id, err instanceof EnclaveHttpError ? err.message : 'The run could not be resumed.', undefined, before);
      throw err;
    }
    if (typeof paused === 'string') {
      free();
      safely(() => logger.error('enclave: a paused session’s state from the store was refused; it ends as STATE_REJECTED'));
      await endResumed(route.id, undefined, failure('STATE_REJECTED', 'StateRejectedError', `${paused} Nothing more ran.`));
      return json(statuses.SUCCESS, sessionView((await store.get(route.id)) ?? record));
    }
    runSession({ sessionId: route.id, ctx, request, body: paused.body, scope, free, resume: { journal: paused.journal, decision, lastSeq: resumed.lastSeq, stats: paused.stats } });
    const format = streamFormat(request.headers.get('accept'));
    if (format !== null) return streamResponse(format, store, route.id, resumed.lastSeq, follower, { 'x-session-id': route.id });
    const url = `${route.base}/sessions/${route.id}`;
    return json(202, { sessionId: route.id, state: 'running', callId, approved: decision.approved, statusUrl: url, eventsUrl: `${url}/events?fromSeq=${resumed.lastSeq}` });
  }

  /**
   * The paused run the store handed over, or why it is refused. Whatever the store holds is input: the
   * state must be no longer than this app writes, signed by it (`stateKey`), read as a paused run, and
   * wait on the very call, tool and arguments the store showed the person (the session's pending
   * approval and its `approval_required` event), so a decision never runs a call other than the one shown.
   */
  async function pausedStateOf(sessionId: string, record: SessionRecord, resumed: { state: string; lastSeq: number }): Promise<PausedState | string> {
    const { store, durable } = sessions as NonNullable<typeof sessions>;
    const d = durable as NonNullable<typeof durable>;
    if (resumed.state.length > d.maxStateChars) return `The paused run's state in the session store is larger than this app writes (${d.maxStateChars} characters at most).`;
    const opened = await d.open(sessionId, record.owner, resumed.state);
    if (opened === undefined) return "The paused run's state in the session store is not signed by this app (sessions.stateKey).";
    const paused = readPausedState(opened);
    if (paused === undefined) return "The paused run's state in the session store does not read as one this app wrote.";
    // Signed for this session, but for a pause it has left: its record was put back after the decision.
    if (paused.seq !== undefined && paused.seq !== resumed.lastSeq) return "The paused run's state in the session store is of an earlier pause of this session, decided already.";
    const shown = shownApproval(paused.approval);
    let event: EnclaveEvent | undefined;
    try {
      [event] = await store.read(sessionId, resumed.lastSeq - 1, 1);
    } catch {
      event = undefined;
    }
    const eventShown = event?.type === 'approval_required' ? shownApproval(event.payload as PausedRun['approval']) : shown;
    if (shownApproval(record.pendingApproval) !== shown || eventShown !== shown) return 'The approval the session store showed is not the call the paused run waits on.';
    return paused;
  }

  /** The answer to a decision on a session that does not wait (any more): 410 if its wait ran out, 409 otherwise. */
  function notDecided(record: SessionRecord): EnclaveHttpError {
    if (endedExpired(record)) return expiredError();
    return new EnclaveHttpError(409, `The session is not waiting for an approval (it is ${record.state}).`, { code: 'CONFLICT' });
  }

  function expiredError(): EnclaveHttpError {
    const { durable } = sessions as NonNullable<typeof sessions>;
    return new EnclaveHttpError(410, `The wait for this approval ended (sessions.maxPauseDuration, ${durable?.maxPauseDuration} ms): the session ended as APPROVAL_EXPIRED and nothing more ran.`, { code: 'APPROVAL_EXPIRED' });
  }

  /** A decision after the wait ended: the session ends as the sweep would end it (unless something else ended it first), and the request gets 410. */
  async function tooLate(sessionId: string, record: SessionRecord): Promise<EnclaveHttpError> {
    const { store } = sessions as NonNullable<typeof sessions>;
    await endExpiredWait(sessionId, record, Date.now());
    const now = (await store.get(sessionId)) ?? record;
    return now.state === 'waiting_for_approval' ? expiredError() : notDecided(now);
  }

  /** Why the store did not hand the paused run to this request: its wait ran out (410), or another decision came first (409). */
  async function notResumed(sessionId: string, before: SessionRecord): Promise<EnclaveHttpError> {
    const now = (await (sessions as NonNullable<typeof sessions>).store.get(sessionId)) ?? before;
    const pending = now.state === 'waiting_for_approval' ? now.pendingApproval : undefined;
    if (pending !== undefined && pending.callId === before.pendingApproval?.callId && pending.expiresAt <= Date.now()) return tooLate(sessionId, now);
    // Ended meanwhile (cancelled, expired, lost): said as such, not as another decision.
    if (now.result !== undefined) return notDecided(now);
    return new EnclaveHttpError(409, 'This call was decided by another request first.', { code: 'CONFLICT' });
  }

  /** A resumed session that cannot run: ended, so nobody waits on it. */
  async function endResumed(sessionId: string, message: string | undefined, ended?: ExecutionResult, before?: ExecutionStats): Promise<void> {
    const { store, ttlMs } = sessions as NonNullable<typeof sessions>;
    const result = ended ?? (message === undefined ? internalFailure(before) : failure('ABORTED', 'AbortError', message, before));
    try {
      await persistently(() => store.finish(sessionId, stateOf(result), result, ttlMs), DRAIN_WAIT_MS);
    } catch (err) {
      safely(() => logger.error('enclave: the session store failed to record the end of a session', err));
    }
  }

  /** A session's stream; it owns `follower` from here, and gives it back when it ends (or its reader goes away). */
  function streamResponse(format: StreamFormat, store: SessionStore, sessionId: string, afterSeq: number, follower: Follower | undefined, headers: Record<string, string> = {}): Response {
    const { livenessMs } = sessions as NonNullable<typeof sessions>;
    if (follower !== undefined) follower.handed = true;
    // A session missing from the store may come back within its instance's liveness (the store lost it).
    return new Response(storeStream(store, sessionId, afterSeq, format, livenessMs, follower?.release), { status: statuses.SUCCESS, headers: streamHeaders(format, headers) });
  }

  /** `{path}/sessions...`: a store that does not answer is a 503 with `Retry-After`, never a crash or a hang. */
  async function sessionRoute(request: Request, ctx: EnclaveRequestContext<N, U>, route: SessionRoute, started: number): Promise<Response> {
    try {
      return await sessionRequest(request, ctx, route, started);
    } catch (err) {
      if (err instanceof EnclaveHttpError) throw err;
      safely(() => logger.error('enclave: the session store failed', err));
      throw unavailable('Sessions are unavailable right now; retry later.');
    }
  }

  /** A request that may answer with a session's stream takes one of the user's follower places first; the stream keeps it, any other answer gives it back. */
  async function sessionRequest(request: Request, ctx: EnclaveRequestContext<N, U>, route: SessionRoute, started: number): Promise<Response> {
    const method = request.method.toUpperCase();
    const startsOrDecides = route.id === undefined || route.approval !== undefined;
    const streams = method === 'GET' ? route.events : method === 'POST' && startsOrDecides && streamFormat(request.headers.get('accept')) !== null;
    const follower = streams ? takeFollower(ctx) : undefined;
    try {
      return await sessionAnswer(request, ctx, route, started, follower);
    } finally {
      if (follower !== undefined && !follower.handed) follower.release();
    }
  }

  async function sessionAnswer(request: Request, ctx: EnclaveRequestContext<N, U>, route: SessionRoute, started: number, follower: Follower | undefined): Promise<Response> {
    const { store } = sessions as NonNullable<typeof sessions>;
    const method = request.method.toUpperCase();
    if (route.id === undefined) {
      if (method !== 'POST') return requestError('METHOD_NOT_ALLOWED', 'Use POST to start a session.', started, { allow: 'POST' });
      return startSession(request, ctx, route.base, started, follower);
    }
    if (route.approval !== undefined) return decide(request, ctx, { ...route, id: route.id, approval: route.approval }, started, follower);
    if (route.events) {
      if (method !== 'GET') return requestError('METHOD_NOT_ALLOWED', 'Use GET to read a session’s events.', started, { allow: 'GET, HEAD' });
      await ownSession(route.id, ctx);
      const afterSeq = resumePoint(request);
      return streamResponse(eventsFormat(request.headers.get('accept')), store, route.id, afterSeq, follower);
    }
    if (method === 'GET') {
      const record = await ownSession(route.id, ctx);
      return json(statuses.SUCCESS, sessionView(record));
    }
    if (method === 'DELETE') {
      let record = await ownSession(route.id, ctx);
      const giveUpAt = Date.now() + CANCEL_WAIT_MS;
      while (Date.now() < giveUpAt) {
        if (record.state === 'waiting_for_approval') {
          // Nobody runs a paused session: it ends here, if it still waits on the call read (a decision may
          // have set it running since, and the run may have paused again: then it is read again).
          if (await endWaiting(route.id, record, 'cancelled', failure('ABORTED', 'AbortError', 'The session was cancelled while it waited for an approval.'), Infinity)) {
            await sessions?.durable?.releaseWait(record.owner, route.id).catch(() => {});
            return json(statuses.SUCCESS, sessionView((await store.get(route.id)) ?? record));
          }
          record = await ownSession(route.id, ctx);
          continue;
        }
        if (record.state !== 'running') break;
        await store.requestCancel(route.id);
        const ended = await untilFinished(store, route.id, Math.max(0, giveUpAt - Date.now()));
        if (ended === undefined) return json(202, { sessionId: route.id, state: 'running' });
        // A run that was pausing when the cancel came (it had ended; the pause was being written) waits
        // now: the cancel ends the wait too, or a later approval would run what the owner cancelled.
        record = ended;
      }
      // Still waiting: decided and paused again on every read within the wait; not ended (yet).
      return json(record.state === 'waiting_for_approval' || record.state === 'running' ? 202 : statuses.SUCCESS, sessionView(record));
    }
    return requestError('METHOD_NOT_ALLOWED', 'Use GET for a session’s state or DELETE to cancel it.', started, { allow: 'GET, HEAD, DELETE' });
  }

  async function serve(request: Request, native: N, started: number, given: string | undefined): Promise<Response> {
    const subPath = given ?? '';
    // A sub-path as an adapter matched it on the raw path: its dot segments name another route than the URL's.
    if (hasDotSegment(subPath)) throw new EnclaveHttpError(400, DOT_SEGMENT_MESSAGE);
    // Before any route, `routes` too: without authenticate, the name the server was reached by is its
    // guard; with it, only where the host lists names (an authenticate that admits anyone guards nothing).
    if ((options.authenticate === undefined || options.allowedHosts !== undefined) && !hostAllowed(request, options.allowedHosts, options.allowedOrigins)) {
      throw new EnclaveHttpError(403, 'This server answers no request under this Host name (see the allowedHosts option).');
    }
    const target = subPath === '' ? undefined : routeAt(routes, subPath);
    if (target) return target.route.serve(routeContext(await admit(request, native), target.rest));
    const method = request.method.toUpperCase();
    const page = playground ? playgroundPath(subPath) : undefined;
    // The page itself is static and public; what it (or any page) asks of the routes below is checked.
    if (page === undefined && !originAllowed(request, options.allowedOrigins)) {
      throw new EnclaveHttpError(403, 'This Origin may not call the route (see the allowedOrigins option).');
    }
    if (page !== undefined) {
      if (method !== 'GET' && method !== 'HEAD') return requestError('METHOD_NOT_ALLOWED', 'Use GET for the playground.', started, { allow: 'GET, HEAD' });
      // Loaded on the first request for it: a server that never serves the page never loads it.
      const { servePlayground } = await import('./playground.js');
      return servePlayground(request, page);
    }
    // HEAD is GET without its body (RFC 9110), wherever GET answers: the catalog, a session's state and events.
    if (method === 'HEAD') return withoutBody(await serve(new Request(request, { method: 'GET' }), native, started, given));
    if (checkRouteOn && subPath.replace(/\/+$/, '') === CHECK_PATH) {
      if (method !== 'POST') return requestError('METHOD_NOT_ALLOWED', 'Use POST to check a script.', started, { allow: 'POST' });
      return checkRoute(request, await admit(request, native));
    }
    const route = sessions ? sessionRouteOf(request.url, given) : undefined;
    if (subPath !== '' && route === undefined) throw new EnclaveHttpError(404, 'No route at this path.');
    // Before anything is looked up: an id no store could hold is the client's mistake, said as such.
    if (route?.id !== undefined && !isSessionId(route.id)) throw new EnclaveHttpError(400, `The path does not name a session: ${SESSION_ID_RULE}.`);
    if (route === undefined && method !== 'POST' && !(method === 'GET' && catalog)) {
      const allow = catalog ? 'GET, HEAD, POST' : 'POST';
      return requestError('METHOD_NOT_ALLOWED', `Use POST${catalog ? ' (or GET for the catalog)' : ''}.`, started, { allow });
    }
    const ctx = await admit(request, native);
    if (route !== undefined) return sessionRoute(request, ctx, route, started);
    if (method === 'GET') return json(statuses.SUCCESS, describeCatalog(enclave, await scopeOf(ctx)));
    return runRoute(request, ctx, started);
  }

  /** The answer's status and headers alone, its body (a stream too) let go. */
  async function withoutBody(response: Response): Promise<Response> {
    await response.body?.cancel().catch(() => {});
    return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  async function handle(request: Request, native: N, given: string | undefined, started: number): Promise<Response> {
    const subPath = given ?? '';
    try {
      return await serve(request, native, started, given);
    } catch (err) {
      if (err instanceof EnclaveHttpError) return refuse(err, subPath, started);
      if (request.signal.aborted) {
        safely(() => logger.info('enclave: client closed the request before the run started (499)'));
        return refuse(new EnclaveHttpError(499, 'The client closed the request.', { code: 'ABORTED' }), subPath, started);
      }
      reportHookError(err, request);
      if (subPath !== '' && routeAt(routes, subPath)) return refuse(new EnclaveHttpError(500, 'An internal error occurred.', { code: 'INTERNAL_ERROR' }), subPath, started);
      return json(statuses.INTERNAL_ERROR, internalFailure(noStats(Math.round(performance.now() - started))));
    }
  }
  return {
    handle,
    dispose() {
      clearInterval(sweeper);
      for (const abort of localSessions.values()) abort.abort();
      if (ownsStore) sessions?.store.dispose?.();
    },
  };
}
