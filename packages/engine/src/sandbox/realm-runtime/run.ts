/**
 * One run inside the realm: the factory's arguments (guards, `callTool`, `console`, `input`, globals),
 * tool calls and their replies, console capture, and the outcome report. The host starts a run by
 * entering the realm through `start()` and delivers tool replies through `pump()`; the microtask
 * checkpoint at the end of each entry runs the script's continuations, inside the entry's deadline.
 */
import type { DoneReport, Guards, LogLevel, PumpHead, ReportedToolError, RunConfig, ToolErrorReply } from '../realm-abi.js';
import { BIG_STRING, BLOCKED_PROPERTIES, FRAMED, LOOP_FREE, LOOP_GRANT, MAX_TOOL_NAME, PACED_FROM } from '../realm-abi.js';
import type { PendingCall, Run } from './budgets.js';
import { chargeChars, chargeElements, chargeWork, checkAlive, checkMemory, copied, current, fatal, iterations, newRun, setCurrent } from './budgets.js';
import { NAMED_COPY_MOST, copiedIndices, counted, elementWrite, forgetJoins, forInIndices, indexCount, inheritedKeys, lengthGrowth, listedIndices, namedKeys, plainArray, propertyKey, protectedKey, protectedName, refuseProtected } from './builtins.js';
import type { Codec } from './codec.js';
import { CYCLE, TOO_LARGE, UNREADABLE } from './codec.js';
import { FOREIGN_NAME, FOREIGN_MESSAGE, callSite, cleanError, foreign, locationOf, placeOf, readErrorField, readMessage, refuseForeign, safeString, withSite } from './errors.js';
import { hostBegin, hostCall, hostDone, hostLog, hostTake } from './host.js';
import {
  BigIntCtor,
  ErrorCtor,
  MapCtor,
  ObjectPrototype,
  SetCtor,
  StringCtor,
  TypeErrorCtor,
  WeakMapCtor,
  apply,
  arrayIncludes,
  arrayJoin,
  arrayPush,
  arrayShift,
  ProxyCtor,
  defineProperty,
  create,
  dateNow,
  freeze,
  gpo,
  isArray,
  jsonParse,
  jsonStringify,
  mapDelete,
  mapGet,
  mapSet,
  promiseThen,
  reflectDelete,
  regexpExec,
  setHas,
  stringIndexOf,
  stringSlice,
  symbolIterator,
  weakMapGet,
  weakMapSet,
} from './primordials.js';
import { adopt, handledCapability, markHandled, rejected } from './promises.js';
import { asBuiltin } from './sources.js';

/** Why a script's value could not be copied out (encodeJSON's UNREADABLE). */
const UNREADABLE_WHY = 'it is a revoked Proxy, or a Proxy whose trap threw.';

/**
 * Most iterations between checkpoints: one compare per loop turn in between. A run's checkpoints start
 * at every turn and spread out to this as heap checks find its heap growing slowly (see Run.spacing):
 * a loop that allocates what no builtin charges (a BigInt, `new Array(n)`, an object's keys) is caught
 * within a few turns of its growth becoming fast, instead of after 16,384 turns of it.
 */
const CHECK_EVERY = 16_384;
/**
 * Longest time, in ms, a run's loops should go between two calls into the runtime. V8 honours the
 * deadline's termination only where the script calls a function or where its own interrupt budget for
 * the code runs out (about 66 KB of bytecode executed; for a function of more than 60 KB of bytecode,
 * about 2^30), never inside a native step. A turn that reads a long string (`s == 1` over 7.2e6
 * characters: 2-7 ms) is one bytecode, so counting turns bounds nothing in time: a light loop called
 * the runtime once per LOOP_GRANT turns, and its run ended 52-959 ms past the deadline; a heavy loop
 * once per CHECK_EVERY. A stretch that took longer than this shortens the next one in proportion.
 */
const PACE_MS = 5;
/** Matched against the empty string when a run ends (see `end`): never handed to a script. */
const EMPTY_MATCH = /(?:)/;
const BLOCKED_KEYS = new SetCtor<string>(BLOCKED_PROPERTIES);
/**
 * BigInts past this magnitude (BIG_STRING bytes) make the heap checked when an operation makes one; with
 * its negative. Made at the first BigInt a guarded operation returns: they are 64 KB each, which every
 * realm held (a sixth of an idle realm's heap) for scripts that mostly never use a BigInt. The negative
 * is kept too: `x < -bound` made a new 64 KB BigInt at every guarded operation (20,000 `*` in a loop
 * took 170-260 ms instead of 8, and their garbage read as the run's growth against its memory budget).
 */
let bigBound: bigint | undefined;
let bigBoundNegative: bigint | undefined;

/** Whether `x` is past BIG_STRING bytes in magnitude (see bigBound). */
function bigBigInt(x: bigint): boolean {
  if (bigBound === undefined || bigBoundNegative === undefined) {
    const bound = BigIntCtor(1) << BigIntCtor(BIG_STRING * 8);
    bigBoundNegative = -bound;
    bigBound = bound;
  }
  return x > bigBound || x < bigBoundNegative;
}

/**
 * Errors the runtime made for failed tool calls, with what the host said of each: only these report a
 * tool code in the outcome, and they report it as the host said it (name, message, code, tool and public
 * data), whatever the script wrote on the error before it rethrew it. The script's text reaching the
 * result as a tool's own (`TOOL_ERROR`, `data.toolErrorCode`, `data.tool`) would put its words in the
 * host's mouth: in the HTTP body, the logs, the CLI's "tool:" line.
 */
const toolErrors = new WeakMapCtor<object, { name: string; message: string; tool: ReportedToolError }>();

function makeToolError(name: string, message: string, code: string, tool?: string, data?: Record<string, unknown>): Error {
  const e = new ErrorCtor(message);
  defineProperty(e, 'name', { value: name, writable: true, enumerable: false, configurable: true });
  defineProperty(e, 'code', { value: code, writable: true, enumerable: true, configurable: true });
  if (tool !== undefined) defineProperty(e, 'tool', { value: tool, writable: true, enumerable: true, configurable: true });
  const hasData = data !== null && typeof data === 'object';
  if (hasData) defineProperty(e, 'data', { value: data, writable: true, enumerable: true, configurable: true });
  apply(weakMapSet, toolErrors, [e, { name, message, tool: { code, tool: tool ?? null, data: hasData ? jsonStringify(data) : null } }]);
  return e;
}

function report(run: Run, r: DoneReport, value = ''): void {
  hostDone(run.id, jsonStringify(r), value);
}

function quote(s: string): string {
  return jsonStringify(s.length > 2000 ? `${apply(stringSlice, s, [0, 2000]) as string}...` : s) as string;
}

/** How deep a result is copied out; deeper is OUTPUT_LIMIT_EXCEEDED. */
const RESULT_MAX_DEPTH = 256;

const iterationMessage = (max: number) => `Iteration limit of ${max} exceeded (loops and function calls count).`;

/** Ends the run once: encodes the value, or describes what was thrown without running any of its code. */
function finish(run: Run, codec: Codec, kind: 'ok' | 'error', value: unknown): void {
  if (run.finished) return;
  run.finished = true;
  run.over = true;
  if (run.setL !== null) run.setL(-1);
  const stats = { iterations: iterations(run), toolCalls: run.toolCalls };
  // Light loops charge their first turns when they end (see LOOP_FREE): a run whose last loops took it
  // past the limit, with no checkpoint after them, ends as if a checkpoint had come.
  if (run.fatal === null && run.budgets && stats.iterations > run.limits.maxIterations) {
    report(run, { kind: 'limit', code: 'MAX_ITERATIONS', name: 'IterationLimitError', message: iterationMessage(run.limits.maxIterations), ...stats });
    return;
  }
  if (run.fatal !== null) {
    report(run, { kind: 'limit', code: run.fatal.code, name: run.fatal.name, message: run.fatal.message, ...stats });
    return;
  }
  // Not read at all: its getters are another realm's code (see refuseForeign).
  if (kind === 'error' && foreign(value)) {
    report(run, { kind: 'limit', code: 'RUNTIME_ERROR', name: FOREIGN_NAME, message: FOREIGN_MESSAGE, ...stats });
    return;
  }
  if (kind === 'ok') {
    // The result is JSON data by contract: whatever the host does next (JSON.stringify, an HTTP body) works.
    const text = codec.encodeJSON(value, { maxBytes: run.limits.maxOutputBytes, maxDepth: RESULT_MAX_DEPTH, cycles: 'fail' });
    if (typeof text === 'string') report(run, { kind: 'ok', ...stats }, text);
    else if (text.code === TOO_LARGE) report(run, { kind: 'limit', code: 'OUTPUT_LIMIT_EXCEEDED', name: 'OutputLimitError', message: `The result is larger than ${run.limits.maxOutputBytes} bytes as JSON (shared values count each time they appear).`, ...stats });
    else if (text.code === CYCLE) report(run, { kind: 'limit', code: 'OUTPUT_LIMIT_EXCEEDED', name: 'OutputLimitError', message: `The result contains a cycle (at value${text.path}), which JSON cannot represent.`, ...stats });
    // The script's own value threw while it was read: its error, not a cap's.
    else if (text.code === UNREADABLE) report(run, { kind: 'limit', code: 'RUNTIME_ERROR', name: 'TypeError', message: `The result could not be read (at value${text.path}): ${UNREADABLE_WHY}`, ...stats });
    // Deeper than the copy-out walks: a result that cannot be returned whole (DESIGN.md's OUTPUT_LIMIT_EXCEEDED), not a script error.
    else report(run, { kind: 'limit', code: 'OUTPUT_LIMIT_EXCEEDED', name: 'OutputLimitError', message: `The result is nested more than ${RESULT_MAX_DEPTH} levels deep, deeper than a result is copied out.`, ...stats });
    return;
  }
  let name: string | undefined;
  let message: string | undefined;
  let tool: ReportedToolError | null = null;
  let location: [number, number] | null = null;
  // A failed tool call the rewriter placed (see Guards.cs): located there, as its captured frames would be.
  let placed: [number, number] | null = null;
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const made = apply(weakMapGet, toolErrors, [value]) as { name: string; message: string; tool: ReportedToolError } | undefined;
    if (made === undefined) {
      name = readErrorField(value, 'name');
      message = readMessage(value);
    } else {
      ({ name, message, tool } = made);
    }
    placed = placeOf(value);
    if (placed === null) location = locationOf(value);
    if (name === undefined && message === undefined) {
      const t = codec.encodeJSON(value, { maxBytes: 400, maxDepth: 4, cycles: 'mark' });
      message = typeof t === 'string' && t !== '' ? `Uncaught ${t}` : 'Uncaught non-error value';
      name = 'Error';
    }
  } else {
    name = 'Error';
    message = `Uncaught ${typeof value === 'string' ? quote(value) : safeString(value)}`;
  }
  const thrown = run.thrown;
  // The same value (NaN is a value like any other), thrown by the script's last `throw` statement.
  const thrownAt = placed ?? (location === null && run.thrownAt !== null && (thrown === value || (thrown !== thrown && value !== value)) ? run.thrownAt : null);
  const described = { kind: 'threw', name: StringCtor(name ?? 'Error'), message: StringCtor(message ?? ''), location, tool, ...stats } as const;
  report(run, thrownAt === null ? described : { ...described, thrownAt });
}

function makeCallTool(run: Run, codec: Codec) {
  return function callTool(name: unknown, args: unknown): Promise<unknown> {
    // The place the rewriter gave this call (see Guards.cs), taken before anything can return or throw.
    const line = run.siteLine;
    run.siteLine = -1;
    checkAlive(run);
    if (typeof name !== 'string') return rejected(makeToolError('ToolError', `callTool(name, args): name must be a string, got ${typeof name}.`, 'INVALID_TOOL_CALL'));
    if (name.length > MAX_TOOL_NAME) return rejected(makeToolError('ToolError', `callTool(name, args): a tool name is at most ${MAX_TOOL_NAME} characters.`, 'INVALID_TOOL_CALL'));
    run.toolCalls++;
    if (run.toolCalls > run.limits.maxToolCalls) fatal(run, 'MAX_TOOL_CALLS', 'ToolCallLimitError', `Tool-call limit of ${run.limits.maxToolCalls} exceeded.`);
    // What a tool receives is JSON data (see codec.encodeJSON).
    const listed = { count: 0 };
    const argsText = codec.encodeJSON(args === undefined ? {} : args, { maxBytes: run.limits.maxToolArgsBytes, maxDepth: 64, cycles: 'fail', listed });
    chargeListed(listed);
    if (typeof argsText !== 'string') {
      const why =
        argsText.code === TOO_LARGE
          ? `are larger than ${run.limits.maxToolArgsBytes} bytes as JSON.`
          : argsText.code === CYCLE
            ? `contain a cycle (at args${argsText.path}), which JSON cannot represent.`
            : argsText.code === UNREADABLE
              ? `could not be read (at args${argsText.path}): ${UNREADABLE_WHY}`
              : 'are nested too deeply.';
      return rejected(makeToolError('ToolError', `Arguments of "${name}" ${why}`, 'INVALID_ARGUMENTS', name));
    }
    const id = ++run.nextCallId;
    const { promise: p, resolve, reject } = handledCapability(undefined);
    apply(mapSet, run.pending, [id, line < 0 ? { resolve, reject, name, site: callSite(), place: null } : { resolve, reject, name, site: null, place: [line, run.siteColumn] }]);
    if (hostCall(run.id, id, name, argsText) !== 1) {
      apply(mapDelete, run.pending, [id]);
      checkAlive(run);
      return rejected(makeToolError('ToolError', `Tool call "${name}" could not be started.`, 'TOOL_ERROR', name));
    }
    return p;
  };
}

const CONSOLE_METHODS: readonly (readonly [string, LogLevel])[] = [
  ['log', 'log'], ['info', 'info'], ['warn', 'warn'], ['error', 'error'], ['debug', 'debug'], ['trace', 'debug'], ['table', 'log'], ['dir', 'log'],
];

/**
 * The keys a copy out of the realm listed (a log line's values, tool arguments), charged as the script's
 * own Object.keys is: V8 lists an object's keys in one step whatever the cap the copy then meets, and
 * uncharged, each `console.log(o)` of an object of 9e5 keys took 0.8 s of the host, counted as no
 * iteration, before it logged '[value too large]', as often as the log cap's 1,000 lines allow.
 */
function chargeListed(listed: { count: number }): void {
  chargeWork(listed.count);
}

/** Ends the run: its console output is over its cap of entries or bytes. */
function logLimit(run: Run): never {
  return fatal(run, 'OUTPUT_LIMIT_EXCEEDED', 'LogLimitError', `Console output exceeded its cap of ${run.limits.maxLogEntries} entries or ${run.limits.maxLogBytes} bytes.`);
}

function makeConsole(run: Run, codec: Codec): object {
  const out: Record<string, (...args: unknown[]) => void> = {};
  for (let m = 0; m < CONSOLE_METHODS.length; m++) {
    const pair = CONSOLE_METHODS[m] as readonly [string, LogLevel];
    const method = pair[0];
    const level = pair[1];
    out[method] = function (...args: unknown[]) {
      checkAlive(run);
      const parts: string[] = [];
      // What is left of the run's log bytes. Each part is counted as it is made, and a line that cannot
      // fit ends the run before the next part is made or the line is joined: one call of 3,000 arguments
      // of 1 MB each (within STANDARD's cap one by one) held 3 GB of encoded parts in a vm host, and 30
      // strings of 16 MB a joined line of 480 MB and its JSON copy, all before the cap was checked.
      let room = run.limits.maxLogBytes - run.logBytes;
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        let part: string;
        if (typeof a === 'string') part = a;
        else if (a === null || (typeof a !== 'object' && typeof a !== 'function')) part = safeString(a);
        else {
          const listed = { count: 0 };
          const t = codec.encodeJSON(a, { maxBytes: run.limits.maxLogBytes, maxDepth: 16, cycles: 'mark', listed });
          chargeListed(listed);
          part = typeof t !== 'string' ? (t.code === UNREADABLE ? '[unreadable value]' : '[value too large]') : t === '' ? 'undefined' : t;
        }
        // At least its characters and a separator (the JSON of the line has more): past the room, the line is over the cap.
        room -= part.length + 1;
        if (room < 0) logLimit(run);
        apply(arrayPush, parts, [part]);
      }
      const line = apply(arrayJoin, parts, [' ']) as string;
      // Counted as the host will write it: a JSON string, escapes included.
      run.logBytes += (jsonStringify(line) as string).length;
      run.logEntries++;
      if (run.logBytes > run.limits.maxLogBytes || run.logEntries > run.limits.maxLogEntries) logLimit(run);
      hostLog(run.id, level, line);
    };
    asBuiltin(out[method], method);
  }
  const error = out.error as (...args: unknown[]) => void;
  out.assert = function (condition: unknown, ...args: unknown[]) {
    checkAlive(run);
    if (condition) return;
    const parts: unknown[] = [`Assertion failed${args.length > 0 ? ':' : ''}`];
    for (let i = 0; i < args.length; i++) parts[i + 1] = args[i];
    apply(error, undefined, parts);
  };
  asBuiltin(out.assert, 'assert');
  return freeze(out);
}

/** The most indices a `for-in` may list (as Object.keys, see KEY_LISTINGS in builtins.ts). */
const FOR_IN_MOST = 1 << 20;

/** Key texts remembered for messages (see Guards.mc): the longest callee path V8 quotes in full. */
const MAX_CALLEE_TEXTS = 8;

/** A computed key: numbers and symbols pass; anything else is converted once and checked. */
function memberKey(k: unknown): PropertyKey {
  if (typeof k === 'number' || typeof k === 'symbol') return k;
  const key = propertyKey(k);
  if (typeof key === 'symbol') return key;
  if (apply(setHas, BLOCKED_KEYS, [key])) throw new TypeErrorCtor(`Access to the property "${key as string}" is not allowed in AgentScript. Use a Map for arbitrary keys.`);
  return key;
}

/**
 * The base an assignment target `o[k]` is written through (see Guards.lt): `o` itself, or, where the set
 * may be the `length` of a real array, or where the key is an object that only the native converts
 * (its `toString` may answer one key to a check and another to the native), a proxy of `o` that sees the
 * key as the native converted it. Its traps act on `o` itself, as the script's own get and set would
 * (the script never holds the proxy): a length's growth is charged first, and with the budget guards a
 * blocked key is refused, as `m` refuses it.
 */
function targetBase(o: unknown, key: unknown): unknown {
  if (typeof key === 'number') {
    // Only a store this far out can be far past the end of a long array (see elementWrite).
    if (key > BIG_STRING) elementWrite(o, key, false);
    return o;
  }
  if (typeof key === 'symbol') {
    refuseProtected('An assignment', o, key);
    return o;
  }
  if (typeof key === 'string') {
    checkTargetKey(key);
    // Named first: `o[k] = v` is a hot write, and refuseProtected's receiver checks cost more than the name's.
    if (protectedName(key)) refuseProtected('An assignment', o, key);
    elementWrite(o, key, false);
    if (key !== 'length' || !isArray(o)) return o;
  } else if (key === null || (typeof key !== 'object' && typeof key !== 'function')) return o;
  else if (o === null || (typeof o !== 'object' && typeof o !== 'function')) {
    // A primitive base (setting on it throws): the key is checked as `m` checks it.
    if (current === null || current.budgets) memberKey(key);
    return o;
  }
  return new ProxyCtor(o as Record<PropertyKey, unknown>, TARGET_TRAPS);
}

/** With the budget guards (or once no run is current), a key the native converted is checked as `m` checks it. */
function checkTargetKey(k: PropertyKey): void {
  if ((current === null || current.budgets) && typeof k === 'string') memberKey(k);
}

/** The traps of targetBase's proxy: they act on the script's own object. */
const TARGET_TRAPS: ProxyHandler<Record<PropertyKey, unknown>> = freeze({
  get(o: Record<PropertyKey, unknown>, k: PropertyKey) {
    checkTargetKey(k);
    return o[k];
  },
  set(o: Record<PropertyKey, unknown>, k: PropertyKey, v: unknown) {
    checkTargetKey(k);
    refuseProtected('An assignment', o, k);
    elementWrite(o, k, false);
    o[k] = k === 'length' ? lengthGrowth(o, v) : v;
    return true;
  },
  deleteProperty(o: Record<PropertyKey, unknown>, k: PropertyKey) {
    checkTargetKey(k);
    refuseProtected('A delete', o, k);
    return reflectDelete(o, k);
  },
});

/**
 * V8's TypeError for a spread or destructuring source that is not iterable: named by its source text, or
 * (text '', a value the rewriter cannot name, inside a pattern) described by its value as V8 describes it.
 */
function notIterable(text: string, x: unknown): TypeError {
  if (text !== '') return new TypeErrorCtor(`${text} is not iterable`);
  const t = typeof x;
  const what = x === null || x === undefined ? `${x}` : t === 'object' || t === 'function' ? t : `${t} ${StringCtor(x)}`;
  return new TypeErrorCtor(`${what} is not iterable (cannot read property Symbol(Symbol.iterator))`);
}

/**
 * A checkpoint (Guards.f and Guards.g): the run is alive, within its iteration budget and call depth, and
 * its heap is checked; then the next checkpoint of each counter is placed. The factory's counter (`n`:
 * function entries and what short loops charge when they end) and the runtime's (`bulk`: the turns of
 * longer loops, and builtins' callbacks) are checked each at its own threshold; each gets at most half of
 * what the budget has left, so the two together cannot pass the limit between two checkpoints.
 */
function checkpoint(run: Run): void {
  checkAlive(run);
  const { maxIterations, maxCallDepth } = run.limits;
  const n = iterations(run);
  if (run.budgets) {
    if (n > maxIterations) fatal(run, 'MAX_ITERATIONS', 'IterationLimitError', iterationMessage(maxIterations));
    if (run.getD !== null && run.getD() > maxCallDepth) fatal(run, 'RUNTIME_ERROR', 'CallDepthError', `Maximum call depth of ${maxCallDepth} exceeded.`);
  }
  if (!checkMemory(run) && run.spacing < CHECK_EVERY) run.spacing *= 2;
  pace(run, n);
  const room = maxIterations - n;
  const share = (room - (room % 2)) / 2;
  const step = run.budgets && share < run.spacing ? share : run.spacing;
  run.loopAt = run.bulk + step;
  run.setL?.((run.getN === null ? 0 : run.getN()) + step);
}

/**
 * Shortens the spacing of checkpoints when the stretch since the last one took longer than PACE_MS: to
 * the turns that fit in PACE_MS at the pace just measured, at least one. Faster stretches let the
 * spacing grow back (doubling at each calm checkpoint).
 */
function pace(run: Run, n: number): void {
  const now = dateNow();
  const took = now - run.pacedAt;
  const turns = n - run.pacedIterations;
  run.pacedAt = now;
  run.pacedIterations = n;
  if (!(took > PACE_MS)) return;
  const fit = (turns * PACE_MS) / took;
  const spacing = fit < 1 ? 1 : fit - (fit % 1);
  if (spacing < run.spacing) run.spacing = spacing;
}

/**
 * `fn` behind a proxy with no traps: V8's optimising compiler calls it but never inlines it. What the
 * guards call in the script's hot code is otherwise inlined there with all it calls: `checkpoint` direct
 * took `checkAlive`, `iterations`, `checkMemory`, `hostHeap` and `heapStep` into every loop V8 compiled on
 * the stack (OSR), a graph ten times the loop's own. A never-seen 100k-turn loop spent 14-28 ms of a
 * compiler thread on it (1-2 ms without) and finished in slower code before that was ready.
 */
function notInlined<F extends (...args: never[]) => unknown>(fn: F): F {
  return new ProxyCtor(fn, freeze(create(null) as ProxyHandler<F>));
}

/** `checkpoint` as `f` and `g` call it: once per checkpoint, not per turn. */
const coldCheckpoint = notInlined(checkpoint);

function makeGuards(run: Run): Guards {
  const { maxIterations, maxCallDepth } = run.limits;
  const texts = run.calleeTexts;
  const guards: Guards = {
    L: maxIterations < run.spacing ? maxIterations : run.spacing,
    D: maxCallDepth,
    f() {
      coldCheckpoint(run);
    },
    // Not inlined either (see notInlined): a loop calls it once in LOOP_GRANT turns, and without it the
    // loop V8 compiles on the stack is the script's own code (a never-seen 100k-turn loop took 7-13% less
    // CPU time, with the proxy calls).
    g: notInlined((turn: number, through: number) => {
      const owed = through === LOOP_FREE ? turn : turn - through;
      const total = run.bulk + owed;
      run.bulk = total;
      // Also when the stretch took long (see PACE_MS): the checkpoint then shortens the next grants.
      if (total > run.loopAt || run.fatal !== null || run.over || dateNow() - run.pacedAt > PACE_MS) coldCheckpoint(run);
      const left = run.loopAt - total;
      // Ahead at most as many turns as the visit has taken (numbered from PACED_FROM when it called `g` from its first).
      const taken = through >= PACED_FROM ? turn - PACED_FROM : turn;
      let ahead = taken < LOOP_GRANT ? taken : LOOP_GRANT;
      if (left < ahead) ahead = left;
      run.bulk = total + ahead;
      return turn + ahead;
    }),
    // Not inlined (see notInlined): the call itself is what lets V8's termination land, and an inlined
    // body has no stack check in optimised code (a plain closure let 400 such steps run 1 s past the
    // deadline in a function V8 had optimised; through the proxy it ended 4 ms past it).
    y: notInlined(() => {
      if (run.over) checkAlive(run);
    }),
    r(unused: number) {
      if (unused > 0) run.bulk -= unused;
    },
    c(caught?: unknown) {
      refuseForeign(caught);
      cleanError(caught);
      checkAlive(run);
    },
    m: memberKey,
    lt: targetBase,
    ct(o: unknown, key: string) {
      // `node.next = v` on an ordinary object is a hot write, mostly run by V8's interpreter: one call
      // less for it (neither an iterator nor an iterator's prototype has Object.prototype as prototype).
      if (key === 'next' && o !== null && typeof o === 'object' && gpo(o) === ObjectPrototype) return o;
      refuseProtected('An assignment', o, key);
      // A derived class's field that may be an element far past the end of the array its base returned.
      elementWrite(o, key, false);
      return o;
    },
    fk(k: unknown) {
      const key = memberKey(k);
      if (protectedKey(key)) throw new TypeErrorCtor(`A computed class field named ${typeof key === 'symbol' ? StringCtor(key) : `"${key}"`} is not available in AgentScript in a class that extends another (its instance may be an iterator or a String object).`);
      return key;
    },
    fi(o: unknown) {
      // Listed as Object.keys lists them (see KEY_LISTINGS).
      listedIndices('for-in', forInIndices(o), 5, FOR_IN_MOST);
      inheritedKeys(o, NAMED_COPY_MOST);
      return o;
    },
    mc(key: unknown, text: string) {
      if (texts.length >= MAX_CALLEE_TEXTS) apply(arrayShift, texts, []);
      texts[texts.length] = text;
      return memberKey(key);
    },
    sp(x: unknown, text: string) {
      if (plainArray(x) || typeof x === 'string') {
        chargeElements(x.length);
        chargeWork(x.length);
        return x;
      }
      // V8 would name the guard here: "__ek_sp is not a function or its return value is not iterable".
      if (x === null || x === undefined || typeof (x as { [symbolIterator]?: unknown })[symbolIterator] !== 'function') throw notIterable(text, x);
      return counted(x as Iterable<unknown>);
    },
    dt(set: (value: unknown) => void) {
      return {
        set v(value: unknown) {
          set(value);
        },
      };
    },
    big(value: string) {
      chargeChars(value.length);
      return value;
    },
    am: adopt,
    th(value: unknown, line: number, column: number) {
      run.thrown = value;
      run.thrownAt = [line, column];
      return value;
    },
    cs(line: number, column: number, value: unknown) {
      run.siteLine = line;
      run.siteColumn = column;
      return value;
    },
    ar(promise: unknown, caught: unknown) {
      markHandled(promise);
      refuseForeign(caught);
      cleanError(caught);
      return caught;
    },
    ls(o: unknown, value: unknown) {
      (o as { length: unknown }).length = lengthGrowth(o, value);
      return value;
    },
    bn(x: bigint) {
      if (bigBigInt(x)) {
        checkAlive(run);
        checkMemory(run);
      }
      return x;
    },
    os(x: unknown, text?: string) {
      if (typeof x === 'string') copiedIndices('An object spread or rest', x.length);
      else if (x !== null && (typeof x === 'object' || typeof x === 'function')) {
        copiedIndices('An object spread or rest', indexCount(x));
        copied(run);
        namedKeys('An object spread or rest', x, NAMED_COPY_MOST);
      }
      else if (text !== undefined && (x === null || x === undefined)) throw new TypeErrorCtor(`Cannot destructure '${text === '' ? `${x}` : text}' as it is ${x}.`);
      return x;
    },
    bind(getN, setL, getD, budgets) {
      run.getN = getN;
      run.setL = setL;
      run.getD = getD;
      run.budgets = budgets === 1;
    },
  };
  return freeze(guards);
}

type Factory = (...args: unknown[]) => () => unknown;

/** The realm's side of runs: registration of compiled factories, start and pump. */
export function createRunner(codec: Codec) {
  const factories = new MapCtor<number, Factory>();
  let factorySeq = 0;

  function register(factory: unknown): number {
    if (typeof factory !== 'function') return -1;
    const id = ++factorySeq;
    apply(mapSet, factories, [id, factory]);
    return id;
  }

  function start(): void {
    if (current !== null) return;
    const cfgText = hostBegin();
    if (typeof cfgText !== 'string') return;
    const nl = apply(stringIndexOf, cfgText, [FRAMED]) as number;
    if (nl < 0) return;
    const cfg = jsonParse(apply(stringSlice, cfgText, [0, nl]) as string) as RunConfig;
    const inputAt = nl + 1;
    const globalsAt = inputAt + (cfg.input < 0 ? 0 : cfg.input);
    const factory = apply(mapGet, factories, [cfg.factory]) as Factory | undefined;
    if (typeof factory !== 'function') return;
    const run = newRun(cfg.id, cfg.limits, cfg.durable === true, cfg.seed);
    setCurrent(run);
    let main: () => unknown;
    try {
      const callTool = makeCallTool(run, codec);
      asBuiltin(callTool);
      const input = cfg.input < 0 ? undefined : codec.decode(apply(stringSlice, cfgText, [inputAt, globalsAt]) as string);
      // A script that cannot name `console` gets none built (see IsolatedJob.console).
      const args: unknown[] = [makeGuards(run), callTool, cfg.console ? makeConsole(run, codec) : undefined, input];
      const globals = (cfg.globals < 0 ? {} : codec.decode(apply(stringSlice, cfgText, [globalsAt, globalsAt + cfg.globals]) as string)) as Record<string, unknown>;
      for (let i = 0; i < cfg.names.length; i++) {
        const name = cfg.names[i] as string;
        let value = globals[name];
        if (apply(arrayIncludes, cfg.fnNames, [name])) {
          value = { [name]: (...fnArgs: unknown[]) => callTool(name, fnArgs) }[name];
          asBuiltin(value);
        }
        apply(arrayPush, args, [value]);
      }
      main = apply(factory, undefined, args) as () => unknown;
      if (typeof run.getN !== 'function') throw new TypeErrorCtor('runtime not bound');
    } catch (e) {
      finish(run, codec, 'error', e);
      return;
    }
    let p: unknown;
    try {
      p = main();
    } catch (e) {
      finish(run, codec, 'error', e);
      return;
    }
    apply(promiseThen, p, [(v: unknown) => finish(run, codec, 'ok', v), (e: unknown) => finish(run, codec, 'error', e)]);
  }

  function pump(): void {
    const run = current;
    if (run === null) return;
    // The wait for the replies is no stretch of the script's (see PACE_MS).
    run.pacedAt = dateNow();
    const text = hostTake(run.id);
    if (typeof text !== 'string' || text === '') return;
    const nl = apply(stringIndexOf, text, [FRAMED]) as number;
    if (nl < 0) return;
    const batch = jsonParse(apply(stringSlice, text, [0, nl]) as string) as PumpHead[];
    let at = nl + 1;
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i] as PumpHead;
      const callId = item[0];
      const payload = apply(stringSlice, text, [at, at + item[2]]) as string;
      at += item[2];
      const entry = apply(mapGet, run.pending, [callId]) as PendingCall | undefined;
      if (entry === undefined) continue;
      apply(mapDelete, run.pending, [callId]);
      if (item[1] === 1) {
        let v: unknown;
        try {
          v = codec.decode(payload);
        } catch {
          entry.reject(withSite(makeToolError('ToolError', `Tool "${entry.name}" returned a value that could not be copied.`, 'TOOL_ERROR', entry.name), entry.site, entry.place));
          continue;
        }
        entry.resolve(v);
      } else {
        const e = jsonParse(payload) as ToolErrorReply;
        entry.reject(withSite(makeToolError(e[0], e[1], e[2], entry.name, e[3]), entry.site, entry.place));
      }
    }
  }

  /**
   * Ends the current run between entries (deadline, abort, fatal): its detached work stops. V8 keeps the
   * subject of the realm's last successful RegExp match (for the legacy statics, which lockdown removes)
   * for as long as the realm lives: a run's `/j$/.test(s)` on a 50 MB string left those 50 MB held by
   * the realm through every later run that matched nothing, in each pooled realm. A match of the empty
   * string replaces it.
   */
  function end(): void {
    const run = current;
    if (run !== null) {
      run.over = true;
      if (run.setL !== null) run.setL(-1);
    }
    setCurrent(null);
    apply(regexpExec, EMPTY_MATCH, ['']);
    // A join the run left without its `finally` (a stack overflow inside it) would keep the run's array.
    forgetJoins();
  }

  function forget(id: number): void {
    apply(mapDelete, factories, [id]);
  }

  function iterationsSoFar(): number {
    const run = current;
    return run === null ? -1 : iterations(run);
  }

  return { register, start, pump, end, forget, iterations: iterationsSoFar };
}
