/**
 * The contract between the three parties of a run: the rewriter (which writes the guard calls into the
 * script), the host's run driver (which starts runs, answers tool calls and reads the outcome) and the
 * realm runtime (which executes them inside the locked realm). Every name and every shape that crosses
 * between them is declared here, once; all three import it. ES only: the realm runtime bundles this file.
 */
import { RESERVED_PREFIX } from '../levels.js';

/** The rewriter's refusals and the runtime's key check share these with the levels' rules. */
export { BLOCKED_PROPERTIES, RESERVED_PREFIX } from '../levels.js';

/**
 * Names whose write, define or delete, even a failing one, turns off one of V8's protectors for the whole
 * isolate on some receivers: `constructor` on an array, a RegExp or a promise, `next` on an iterator,
 * `valueOf` on a String object, `then` on a promise or Object.prototype. The rewriter guards static
 * writes of them (whatever `transform` says) and the runtime refuses them where the receiver is one of
 * those (see protectorHolder in the runtime). Symbols of the same kind only come as computed keys.
 */
export const PROTECTED_NAMES = ['constructor', 'next', 'valueOf', 'then'] as const;

/** The file name V8 gives the user's frames; stack traces keep only frames of this file. */
export const SCRIPT_FILENAME = 'agentscript.js';

/**
 * Script-scope bindings the runtime declares in every realm. The rewritten script hands its factory to
 * `register`; the host's start and pump scripts call `start` and `pump`.
 */
export const REALM_ENTRIES = {
  register: `${RESERVED_PREFIX}_register`,
  start: `${RESERVED_PREFIX}_start`,
  pump: `${RESERVED_PREFIX}_pump`,
} as const;


/**
 * The guard object the runtime hands each run's factory as its first parameter. The rewritten script
 * copies its fields into closure-local constants once (see GUARD_LOCALS), so a guard costs a local read.
 *
 * Two sets of guards exist. The host-protection guards are written into every script, whatever
 * `transform` says: checkpoints at loops and function entries (memory, run state), string growth, bulk
 * spreads, catch blocks that rethrow a budget error, and the handling of async functions. Without them
 * a script could exhaust a worker's heap in one step that V8 cannot survive, or leave a promise the host
 * process hears about. The budget guards (iteration and call-depth limits, computed-key checks) are
 * written only with `transform: true`; `bind` tells the runtime which set the script has.
 */
export interface Guards {
  /** First iteration count at which `f()` must be called (lowered to -1 once the run is over). */
  readonly L: number;
  /** Largest synchronous call depth. */
  readonly D: number;
  /** Checkpoint: budgets, call depth, memory, run state; moves `L` to the next checkpoint. */
  f(): void;
  /**
   * A light loop's turn past what it was charged for (see LOOP_FREE): `turn` is its turns so far in this
   * visit, `through` the turn it was charged through (LOOP_FREE before its first call, when none of its
   * turns is charged yet). Charges what it owes, runs a checkpoint when one is due (as `f` does), and
   * returns the turn the loop is now charged through: turns charged ahead, which the loop counts in
   * block-scoped locals (registers, where `n` is a closure slot: a context load and store each turn,
   * most of what a guard cost an interpreted loop).
   */
  g(turn: number, through: number): number;
  /**
   * A call every STEP_SITES operators that may read a whole string (see the rewriter's `stepSite`): V8
   * honours the deadline only at a call or a loop's budget check, and straight-line code has neither.
   * The call is what counts (behind a proxy, so that V8 never inlines it); the body only ends a run that
   * is already over.
   */
  y(): void;
  /** The end of a loop that called `g`, however it ends: the turns charged ahead and not taken are given back. */
  r(unused: number): void;
  /**
   * Start of a `catch` or `finally` block: rethrows a pending budget error, and rewrites a V8 message
   * that quotes the rewritten code (`o[__ek_mc(...)] is not a function`) into the user's own text.
   */
  c(caught?: unknown): void;
  /** A computed member key, converted once and refused if it is blocked. */
  m(key: unknown): PropertyKey;
  /**
   * `m` for a key on the callee path of a call (`o[k]()`): V8 quotes that path in "is not a function"
   * messages, so the key's source text is remembered to put back into them.
   */
  mc(key: unknown, text: string): PropertyKey;
  /** A spread argument or element: bounded in the number of elements it can produce; `text` names it in errors. */
  sp(value: unknown, text: string): unknown;
  /**
   * An object spread source, or the source of an object pattern with a rest element (then `text`, which
   * names it in errors: '' for a value the rewriter cannot name): the indices of a long string, String
   * object or array are charged, and refused past 2^18 (see copiedIndices in builtins.ts), and before an
   * object's properties are copied the heap is checked if it was not for a millisecond (see budgets.ts,
   * copied).
   */
  os(value: unknown, text?: string): unknown;
  /**
   * An assignment target that destructures through `sp`: `{ set v(x) { set(x); } }`, so that an array
   * pattern with a rest element, inside a larger pattern or where the assignment's value is used, gets
   * its value counted where it is assigned (`__ek_dt((v) => ([a, ...r] = __ek_sp(v, ''))).v`).
   */
  dt(set: (value: unknown) => void): { v: unknown };
  /**
   * `o.length = value`, written as `ls(o, value)`: a growth of an array's length is charged first (V8
   * preallocates up to 2^25 elements for it, in one step), then the assignment is made as the script's
   * own would be, and `value` is its value.
   */
  ls(object: unknown, value: unknown): unknown;
  /**
   * The base of an assignment target that is not `o.length = v` (a computed key, a compound assignment
   * to `length`, `(o.length) = v`, a target in a pattern or a `for-in`/`for-of` head), written as `lt(o, t = key)[t]` (or
   * `lt(o, 'length').length`), whatever `transform` says: `o`, or a proxy of it through which a growth of
   * an array's `length` is charged before it is set (see ls), and, with the budget guards, a key is
   * refused as `m` refuses it (so `m` is not written there too).
   */
  lt(object: unknown, key: unknown): unknown;
  /**
   * The object of a write to `.constructor`, `.next` or `.valueOf` (`o.next = v`, a pattern or `for`
   * target), written as `ct(o, 'next').next`: `o`, or a TypeError when the write, even a failing one,
   * would turn off one of V8's protectors for the whole isolate (an array or a RegExp for `constructor`,
   * an iterator for `next`, a String object for `valueOf`: see protectorHolder in the runtime). A class
   * with a heritage checks its instance the same way before its fields with such names are defined.
   */
  ct(object: unknown, key: string): unknown;
  /**
   * The computed key of an instance field in a class with a heritage (`[k] = v`), written as `[fk(k)]`:
   * the key as `m` gives it, or a TypeError for a key that V8 guards with a protector on some receivers
   * (`next`, `valueOf`, `Symbol.iterator`...; see protectorHolder), since the instance may be such a
   * receiver and the key is known before the instance is.
   */
  fk(key: unknown): PropertyKey;
  /**
   * The value of a `throw` statement, written as `throw th(value, line, column)` whatever `transform`
   * says, with the statement's place in the user's source: a thrown string, number or plain object has
   * no stack of its own, so an uncaught one is located where it was last thrown. Returns `value`.
   */
  th(value: unknown, line: number, column: number): unknown;
  /**
   * The last argument of a `callTool(...)` call the rewriter wrote as `callTool(a, cs(line, column, b))`,
   * with the call's place in the user's source: only where every `callTool` of the text is the callee of
   * a call (so the call is the factory's own `callTool`, which reads the place as it starts, and nothing
   * else runs between the two). The call's failure, left unhandled, is located there without capturing
   * the stack at the call (see errors.ts: callSite). Returns `value`. A call that cannot start after
   * it (the stack exhausted at the call itself) leaves its place to the run's next `callTool` that gives
   * none (`callTool()`, a spread last): that call's failure would be located there, a wrong line and no
   * more.
   */
  cs(line: number, column: number, value: unknown): unknown;
  /**
   * The object of a `for-in`, whatever `transform` says: V8 lists every index of a string or an array
   * (on its prototype chain too) as a string, in one step that cannot be interrupted, before the first
   * turn; that many are charged first, and more than Object.keys may list are refused.
   */
  fi(object: unknown): unknown;
  /** A string longer than BIG_STRING characters (the inline check's slow path): charged, then returned. */
  big(value: string): string;
  /**
   * The BigInt a `*`, `**` or `<<` made (the inline check's slow path): one of more than BIG_STRING
   * bytes makes the heap checked now, since one such operation can allocate 128 MB and no builtin sees it.
   */
  bn(value: bigint): bigint;
  /** The promise of a user `async` function, marked handled at birth. */
  am(promise: unknown): unknown;
  /**
   * The error an async function's body threw, on its way out after one microtask (so that the promise
   * is rejected on a short stack, never inside a deep synchronous call chain): marks the promise handled
   * again (in case marking it at birth ran out of stack), cleans the message, and returns the error.
   */
  ar(promise: unknown, caught: unknown): unknown;
  /**
   * Gives the runtime access to the factory's counters: iterations, the checkpoint, call depth; and says
   * whether the budget guards were written (1) or only the host-protection ones (0).
   */
  bind(getN: () => number, setL: (limit: number) => void, getD: () => number, budgets: 0 | 1): void;
}

/** The closure-local names the rewriter binds in the factory, one per guard or counter. */
export const GUARD_LOCALS = {
  /** The guard object itself (the factory's first parameter). */
  rt: `${RESERVED_PREFIX}_rt`,
  /** Iterations counted by this factory's loops and functions. */
  n: `${RESERVED_PREFIX}_n`,
  /** Synchronous call depth. */
  d: `${RESERVED_PREFIX}_d`,
  /**
   * A light loop's turns left before its next call to `g`, counted down, and the turn it is charged
   * through (block-scoped locals of each loop; see GRANT_GUARD in transform).
   */
  k: `${RESERVED_PREFIX}_k`,
  q: `${RESERVED_PREFIX}_q`,
  /** The value an inline check is testing, inside a light loop's block: the loop's own `t`. */
  u: `${RESERVED_PREFIX}_u`,
  g: `${RESERVED_PREFIX}_g`,
  r: `${RESERVED_PREFIX}_r`,
  /** Work done by heavy loop and function bodies since the last checkpoint they forced. */
  w: `${RESERVED_PREFIX}_w`,
  L: `${RESERVED_PREFIX}_L`,
  D: `${RESERVED_PREFIX}_D`,
  f: `${RESERVED_PREFIX}_f`,
  c: `${RESERVED_PREFIX}_c`,
  m: `${RESERVED_PREFIX}_m`,
  mc: `${RESERVED_PREFIX}_mc`,
  sp: `${RESERVED_PREFIX}_sp`,
  os: `${RESERVED_PREFIX}_os`,
  dt: `${RESERVED_PREFIX}_dt`,
  ls: `${RESERVED_PREFIX}_ls`,
  lt: `${RESERVED_PREFIX}_lt`,
  fi: `${RESERVED_PREFIX}_fi`,
  /** The value an assignment target made by `dt` receives. */
  v: `${RESERVED_PREFIX}_v`,
  /** `rt.bn`, the slow path of the inline BigInt growth check. */
  bn: `${RESERVED_PREFIX}_bn`,
  am: `${RESERVED_PREFIX}_am`,
  ar: `${RESERVED_PREFIX}_ar`,
  th: `${RESERVED_PREFIX}_th`,
  cs: `${RESERVED_PREFIX}_cs`,
  /** `rt.big`, the slow path of the inline string growth check. */
  s: `${RESERVED_PREFIX}_s`,
  /** The value of the string expression the inline growth check is testing. */
  t: `${RESERVED_PREFIX}_t`,
  /** The promise of an async function's body, inside its wrapper. */
  p: `${RESERVED_PREFIX}_p`,
  /** What an async function's body threw, in the wrapper's catch. */
  x: `${RESERVED_PREFIX}_x`,
  /** What a `catch` with a destructuring pattern caught, before the pattern reads it. */
  e: `${RESERVED_PREFIX}_e`,
  /** `rt.y`, the call between slow native steps. */
  y: `${RESERVED_PREFIX}_y`,
} as const;

/**
 * Light loops (few allocating expressions a turn, no `await` or `yield`: they run each visit to its end
 * in one stretch) count their turns in locals of their own. The first LOOP_FREE turns of a visit are
 * charged to the factory's counter when the loop ends, with no call; past them the loop calls `g`, which
 * charges ahead up to as many turns as the visit has taken, at most LOOP_GRANT, and gives back what was
 * not taken when the loop ends. So a loop calls the runtime about once per LOOP_GRANT turns, and the
 * counts reported are exact. What the iteration limit and the checkpoints see during a visit is not: the
 * free turns of the loops running now come late (at most LOOP_FREE per running loop), and turns charged
 * ahead come early (at most as many as each running loop has taken, and LOOP_GRANT); a forced checkpoint
 * (fast heap growth) comes at most LOOP_GRANT turns late. A visit that starts within LOOP_FREE turns of
 * the next checkpoint has no free turns (see PACED_FROM).
 */
export const LOOP_FREE = 16;
export const LOOP_GRANT = 256;
/**
 * The turn a light loop's visit is charged through when it calls `g` from its first turn (a checkpoint is
 * due within LOOP_FREE turns: see GRANT_OPEN in transform). Its turns are numbered from here, so `q`
 * never reads LOOP_FREE (which marks a visit that never called `g`) however long it runs, and `g` reads
 * the visit's age as `turn - PACED_FROM`. Positive and a small integer: numbered from -2^52 instead, a
 * never-seen 100k-turn loop ran most of its turns in V8's baseline code (27.1 M instructions a run
 * against 19.8 M, callgrind, Node 20), as from any large negative start (-2^28 too). A visit that never
 * called `g` and runs past 2^28 turns is read as younger than it is: it is charged ahead less for a
 * while (more calls of `g`), nothing else.
 */
export const PACED_FROM = 2 ** 28;

/** Strings longer than this are charged against the memory budget by the growth check and the bulk builtins. */
export const BIG_STRING = 65_536;

/**
 * The most characters one string in a realm may have, whatever the memory limit. V8 reads a whole string in one
 * step that ignores termination wherever it meets one: it flattens a concatenation on first use, and it
 * searches (`indexOf`, `split`, `replace`, a RegExp of plain characters), trims, compares, hashes it as a
 * key and converts it to a number without an interrupt check. Each such step grows with the string: at
 * PERMISSIVE's former limit (memoryLimit / 2, 1.34e8 characters) one took 0.6 to 1.8 s on a busy 2-core VM
 * (`BigInt(s)` 2.2 s, and the deadline waited for it). At 2^24 characters the slowest of them, a search
 * for a two-character needle or a first flatten, took 115 to 220 ms there. SECURE's limit already was this.
 * The realm refuses to build a longer string, and the host refuses to copy one in (a tool's result, input,
 * globals: see EncodeOptions.maxStringChars).
 */
export const MAX_STRING_CHARS = 1 << 24;

/** Longest tool name a script may call; a worker or a runtime node that reports a longer one is lying. */
export const MAX_TOOL_NAME = 256;

/** What a heap check found (see HostBridge.heap). */
export type HeapState = 0 | 1 | 2 | 3;

/**
 * Heap growth, in bytes, that a run may reach between two heap checks before its checks come closer
 * together: the realm checks each time the bulk builtins have charged this much more, and the loop
 * checkpoints come at every turn again once a check finds the heap grew by more than this.
 */
export function heapStep(memoryLimit: number): number {
  return memoryLimit / 8;
}

/** The limits the realm enforces itself (the host enforces the deadline and the rest). */
export interface RealmLimits {
  maxIterations: number;
  maxCallDepth: number;
  maxToolCalls: number;
  memoryLimit: number;
  maxOutputBytes: number;
  maxToolArgsBytes: number;
  maxLogBytes: number;
  maxLogEntries: number;
}

/**
 * Text that is JSON already (codec text, a tool's error reply) crosses the bridge after a JSON head and
 * a newline, never as a string inside the head: there JSON.stringify would escape every quote it holds
 * and the realm's JSON.parse unescape it again (for a 265 KB tool result, about two thirds of what
 * moving it cost). The head gives each text's length; the texts follow one after another. A head never
 * holds a raw newline (JSON.stringify writes none).
 */
export const FRAMED = '\n';

/** What `bridge.begin()` returns: the JSON of one run's configuration, a newline, then its input's and globals' codec texts. */
export interface RunConfig {
  /** The host's id of the run: every later bridge call names it. */
  id: number;
  /** The realm's id of the registered factory to run. */
  factory: number;
  limits: RealmLimits;
  /** Length of the codec text of `input` after the newline (first), or -1 for none. */
  input: number;
  /** Length of the codec text of the data globals after the newline (after the input's), or -1 for none. */
  globals: number;
  /** The factory's global parameters, in order. */
  names: readonly string[];
  /** Those of `names` that are host functions: each becomes an async stub calling the tool bridge. */
  fnNames: readonly string[];
  /** Whether the run gets a console (false when the script cannot name one: see IsolatedJob.console). */
  console: boolean;
  /**
   * A durable run (one that may pause for an approval and be replayed): `Date.now()`, `new Date()`,
   * `Date()` and `Math.random()` take their values from the host (`bridge.nd`), which records them and
   * gives the same ones back on replay.
   */
  durable: boolean;
  /**
   * Four unsigned 32-bit integers from the thread's CSPRNG: the seed of this run's own `Math.random()`
   * (outside a durable run). A realm serves many runs, and V8's generator is one per realm, so a run that
   * recovered its state from the values it drew could compute the values the runs before it drew.
   */
  seed: readonly number[];
}

/** A non-deterministic source: `'r'` is `Math.random()`, `'t'` the current time (`Date.now()`, `new Date()`, `Date()`). */
export type NdKind = 'r' | 't';

/** One value a durable run took from a non-deterministic source, in the order it took them. */
export type NdValue = [kind: NdKind, value: number];

/** Outcome codes the realm decides itself. */
export type RealmFailureCode = 'MAX_ITERATIONS' | 'MAX_TOOL_CALLS' | 'MEMORY_LIMIT_EXCEEDED' | 'OUTPUT_LIMIT_EXCEEDED' | 'RUNTIME_ERROR';

/** A tool error the script did not handle: its public parts. */
export interface ReportedToolError {
  /** The tool's own code (e.g. `NOT_FOUND`), as the host made it (the script saw it in `err.code`, and may have changed it since). */
  code: string;
  /** The tool that failed, when known. */
  tool: string | null;
  /** JSON of the error's public data (status, retry delay, schema issues), as the host sent it. */
  data: string | null;
}

/**
 * How a run ended, as the realm reports it through `bridge.done(id, JSON of this, value)`. The value of a
 * successful run travels beside it as codec text, so it is never escaped into a second JSON string.
 * `location` is in the rewritten script's coordinates (V8's, with the header line offset); the host maps
 * it to the user's source.
 */
export type DoneReport =
  | { kind: 'ok'; iterations: number; toolCalls: number }
  | { kind: 'limit'; code: RealmFailureCode; name: string; message: string; iterations: number; toolCalls: number }
  | {
      kind: 'threw';
      name: string;
      message: string;
      location: [line: number, column: number] | null;
      /**
       * Where the value was last thrown by a `throw` statement, in the user's own source (see Guards.th):
       * for a value with no frames of its own (`location` null).
       */
      thrownAt?: [line: number, column: number];
      tool: ReportedToolError | null;
      iterations: number;
      toolCalls: number;
    };

/**
 * One tool reply as the host keeps it for the pump: `[callId, 1, codec text of the value]` or
 * `[callId, 0, JSON of ToolErrorReply]`.
 */
export type PumpItem = [callId: number, ok: 0 | 1, payload: string];

/** One tool reply in the head of what `bridge.take()` returns: its payload is that many characters after the newline. */
export type PumpHead = [callId: number, ok: 0 | 1, length: number];

/** A failed tool call as the realm receives it: becomes a catchable ToolError in the script. */
export type ToolErrorReply = [name: string, message: string, code: string, data?: Record<string, unknown>];

/** What a tool call returns to the realm: `[1, codec text]` or `[0, JSON of ToolErrorReply]`. */
export type ToolReply = [ok: 0 | 1, payload: string];

/**
 * A failed tool call's reply: the script sees a catchable ToolError named `name` with `code`; `data`
 * holds public details (`status`, `retryAfterMs`, `issues`).
 */
export function toolErrorReply(name: string, message: string, code: string, data?: Record<string, unknown>): ToolReply {
  const error: ToolErrorReply = data === undefined ? [name, message, code] : [name, message, code, data];
  return [0, JSON.stringify(error)];
}

export type LogLevel = 'log' | 'info' | 'warn' | 'error' | 'debug';

/**
 * The host's side of the bridge. Plain host functions that take and return primitives only and swallow
 * their own errors: the realm calls them through a wrapper that never binds what one throws.
 */
export interface HostBridge {
  /** The RunConfig of the run that is starting, framed (see FRAMED and RunConfig), or undefined. */
  begin(): string | undefined;
  /** A tool call; 1 if the host accepted it. */
  tool(id: number, callId: number, name: string, argsText: string): 0 | 1;
  /** The replies waiting for the run, or '': the JSON of their PumpHead[], a newline, their payloads. */
  take(id: number): string;
  /** The run's outcome (the first report counts); `value` is codec text for `ok`, '' otherwise. */
  done(id: number, report: string, value: string): void;
  log(id: number, level: LogLevel, line: string): void;
  /**
   * 1 if the run is over its memory budget, 2 if the heap of its thread is as full as runs may make it,
   * 3 if the run's heap grew by more than a heap step (see heapStep) since its previous check, else 0.
   * `iterations` is what the run has counted so far: a worker's host reads the last one when the run
   * ends without a report of its own while the worker is busy (a deadline in a loop that never yields).
   */
  heap(id: number, iterations: number): HeapState;
  /** The value of a non-deterministic source for a durable run (NaN if the host has none). */
  nd(id: number, kind: NdKind): number;
  /**
   * What maps the run's stack frames to the user's source (see positions.ts), asked for when the script
   * first formats a stack: where the user's text starts in the original, its length and the rewriter's
   * anchors, separated by commas, a newline, the user's text and then the rewritten script's. '' when
   * the host has none (final for the run), undefined when it could not answer (the stack ran out on the
   * host's side: the realm asks again with its next stack).
   */
  positions(id: number): string | undefined;
}

/** What the host passes at install, as JSON. */
export interface InstallOptions {
  /** Keep the Intl global (only the PERMISSIVE dialect has it). */
  intl: boolean;
  /** Keep the Proxy global, refusing array targets (only the PERMISSIVE dialect has it). */
  proxy: boolean;
}

/** What the host may ask of a realm between runs (never while script code runs). */
export interface RealmControl {
  /** Ends the current run: its detached work stops at its next guard. */
  end(): void;
  /** Whether the realm is as it was after lockdown (no global was added). */
  clean(): boolean;
  /** Drops a registered factory. */
  forget(factoryId: number): void;
  /**
   * The iterations the current run has counted so far (see Guards.g: a light loop's turns are counted
   * when it asks for a grant or ends), or -1 between runs: for a run that ends without a report of its
   * own (a deadline, an abort), whose stats still say how far it got.
   */
  iterations(): number;
  /**
   * Marks handled the promise a builtin had just rejected inside a call when the entry was cut off,
   * before the runtime could mark it (see `inflight` in realm-runtime/promises.ts): called after every
   * entry that did not return, before Node looks at the rejections it was told about. Runs no script code.
   */
  quiet(): void;
}

/** The completion value of the runtime's source: called once per realm with the bridge. */
export type InstallRealm = (bridge: HostBridge, options: string) => RealmControl;
