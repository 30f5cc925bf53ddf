import vm from 'node:vm';
import v8flags from 'node:v8';
import { isJsSpace, isLineTerminator } from '../ast/unicode.js';
import { LruCache, textSize } from '../source.js';
import { RESERVED_PREFIX, SCRIPT_FILENAME } from './realm-abi.js';
import { lastAtOrBefore, lineStarts } from '../positions.js';

/**
 * Compiled scripts of this thread: their code is a few times their text, and bounded by it. A text is
 * kept from its second compile on: never-seen texts, most of LLM traffic, are dropped young instead of
 * filling the old generation (9-11% fewer instructions per never-seen agent run, see LruCache).
 */
const scripts = new LruCache<string, vm.Script>(500, 8 * 1024 * 1024, textSize, { admitOnSecondSight: true });

/**
 * Whether this process chose V8's laziness itself (`node --no-lazy`, `--lazy`): then its choice stands.
 * V8 options reach a process through its command line only (NODE_OPTIONS refuses them).
 */
const hostChoseLaziness = process.execArgv.some((a) => /^--(no-?|no_)?lazy(=|$)/.test(a));

/** Whether this process chose V8's compilation cache itself (`node --no-compilation-cache`): then it is left alone. */
const hostChoseCache = process.execArgv.some((a) => /^--(no-?|no_)?compilation[-_]cache(=|$)/.test(a));

/**
 * How many compiles of ours, on any thread of the process, are under way with V8's compilation cache off
 * (one Int32). Each worker of the pool gets the host's (WorkerInit.compiles, see `shareCompileState`).
 *
 * V8 keeps every script a thread compiles in that thread's isolate-wide compilation cache, keyed by its
 * text, and never lets go of it: 1,500 never-seen agent runs left 26 MB more on a `vm` host's heap after
 * a full collection, and each further 1,500 as much again (17.5 KB a run, without bound; 1.3 KB for a
 * bare `new vm.Script` of one line). LLM traffic is new text nearly every time, so the cache only ever
 * grows, and the text seen again is served by our own bounded cache of compiled scripts (`scripts`
 * above). So our compiles are kept out of it: V8 reads the flag when it looks a text up and when it
 * adds one, so the cache is off only while one of ours runs.
 *
 * The flag is process-wide and threads compile at the same time: the first compile to start turns the
 * cache off and the last to end turns it on again. A compile that starts between another's last
 * decrement and its `setFlagsFromString` may still enter the cache: one entry, in a window of
 * microseconds, not the whole compile. There is no lock to hold, so a worker terminated mid-compile
 * cannot stop the others; it can only leave the cache off, which loses nothing of ours.
 */
let compiles = new Int32Array(new SharedArrayBuffer(4));

/** The counter this thread's compiles share with the host's (a worker's init passes the host's). */
export function shareCompileState(buffer?: SharedArrayBuffer): SharedArrayBuffer {
  if (buffer !== undefined) compiles = new Int32Array(buffer);
  return compiles.buffer as SharedArrayBuffer;
}

/**
 * The longest rewritten text compiled eagerly. Agent scripts are a few KiB; a script of a megabyte
 * (PERMISSIVE allows one) is mostly functions a run may never call, and compiling them all up front
 * took twice as long as a lazy compile (240-310 ms against 120 ms for 4.4 MB of rewritten functions),
 * outside any deadline.
 */
const EAGER_MOST = 64 * 1024;

/**
 * Runs `compile` (a `new vm.Script` of ours) out of V8's compilation cache (see `compiles`) and, when
 * `eager`, with V8's lazy compilation off; both are turned back after it, whatever happens. The flags
 * change in one `setFlagsFromString` each way.
 */
function compileWith<T>(eager: boolean, compile: () => T): T {
  const lazyOff = eager && !hostChoseLaziness;
  const cacheOff = !hostChoseCache && Atomics.add(compiles, 0, 1) === 0;
  const off = `${lazyOff ? '--no-lazy ' : ''}${cacheOff ? '--no-compilation-cache' : ''}`.trim();
  if (off !== '') v8flags.setFlagsFromString(off);
  try {
    return compile();
  } finally {
    const cacheOn = !hostChoseCache && Atomics.sub(compiles, 0, 1) === 1;
    const on = `${lazyOff ? '--lazy ' : ''}${cacheOn ? '--compilation-cache' : ''}`.trim();
    if (on !== '') v8flags.setFlagsFromString(on);
  }
}

/**
 * Runs `compile` with V8's lazy compilation off, and turns it back on after, whatever happens; texts
 * longer than `most` characters compile lazily (the realm runtime, ours and called almost whole by a
 * realm's install, passes no limit). Either way the text stays out of V8's compilation cache.
 *
 * V8 compiles a script's top level when it compiles the script, and each function inside it only when it
 * is first called: it pre-parses the function then and parses it again, with the scopes around it
 * rebuilt, at the first call. A script of ours is new text nearly every time (LLM traffic), and its
 * functions are the callbacks the script passes to `map`, `filter` and `reduce`, which run at once; the
 * guards the rewriter adds make each one larger. Compiling them with the script does that work once:
 * never-seen runs cost 6-9% less in `vm` mode and 1-7% less in `worker_threads` mode (bench/ab.mjs
 * against the lazy build, same process), and a raw fresh context's run of the agent script 11-21% less
 * on Node 20, 22 and 24.
 *
 * The flag is process-wide, but nothing else compiles while this runs on this thread, and a compile on
 * another thread (a worker's realm, the host's own lazy functions) that reads it meanwhile only
 * compiles eagerly: the same code, sooner. Each thread compiles only outside its realm entries (see
 * RealmRun.start), so no deadline can stop this between the two calls.
 */
export function eagerly<T>(source: string, compile: () => T, most = EAGER_MOST): T {
  return compileWith(source.length <= most, compile);
}

/** Runs `compile` (a `new vm.Script` of ours) out of V8's compilation cache, with V8's laziness as it is. */
export function lazily<T>(compile: () => T): T {
  return compileWith(false, compile);
}

/**
 * The rewritten script compiled for this thread (each thread compiles what it runs: a worker never gets
 * a host `vm.Script`). Compiling runs no code of the script. Throws V8's SyntaxError for the rare early
 * error the parser does not report, and a SyntaxError of ours for text that may call `import(...)`.
 */
export function compileScript(source: string): vm.Script {
  return compiled(source).script;
}

/**
 * The fewest functions of its own (`=>` and `function` in the user's part of a rewritten text) for which
 * a script is compiled eagerly. Turning V8's laziness off and on again is two `setFlagsFromString`
 * calls, and each makes V8 re-derive every flag implication: about 93 K instructions a pair on Node 20
 * (callgrind; 0.33 M under `--single-threaded`), 23-42 µs on this VM under load. The eager compile pays
 * that back only in the functions it spares a second parse at their first call (the callbacks a script
 * hands to `map`, `filter` and `reduce`); a text with none of its own has only the header's arrows to
 * compile. Never-seen `return 1 + 1` runs in `vm` mode, instructions per run outside collection and the
 * optimising compiler (callgrind, Node 20, all threads, N runs minus N/2): 1.34 M eager, 1.22 M lazy.
 * For texts with a few functions the figures did not agree on a winner (the 20 scripts of
 * bench/agents.mjs, 0 to 4 functions each: 5.13 M eager against 4.87 M lazy under `--single-threaded`,
 * 4.94 M against 5.04 M with all threads), so those are compiled eagerly, as before. (Those figures
 * are from before every compile of ours changed flags anyway, to stay out of V8's compilation cache:
 * the laziness now rides on that same call, so part of the lazy texts' margin is gone.)
 */
const EAGER_FEWEST = 1;

/**
 * How many functions the user's part of a rewritten text may hold, counted up to `enough`: the
 * occurrences of `=>` and `function` past its first line (the rewriter's header: the factory and body it
 * wraps the script in, which are parenthesized and so compiled eagerly anyway, and its own arrows). It
 * reads characters, not tokens (a `=>` inside a string counts): this only chooses how V8 compiles, never
 * what the text may do.
 */
export function functionsIn(source: string, enough: number): number {
  const from = source.indexOf('\n');
  if (from < 0) return 0;
  let n = 0;
  for (let at = source.indexOf('=>', from); at >= 0 && n < enough; at = source.indexOf('=>', at + 2)) n++;
  for (let at = source.indexOf('function', from); at >= 0 && n < enough; at = source.indexOf('function', at + 8)) n++;
  return n;
}

/** `compileScript`, and whether this thread had the same text compiled already: a text seen again. */
export function compiled(source: string): { script: vm.Script; seen: boolean } {
  let script = scripts.get(source);
  if (script) return { script, seen: true };
  refuseImport(source);
  const compile = () => new vm.Script(source, { filename: SCRIPT_FILENAME, lineOffset: -1 });
  script = functionsIn(source, EAGER_FEWEST) >= EAGER_FEWEST ? eagerly(source, compile) : compileWith(false, compile);
  // A text kept now is one this thread compiled before (the cache admits a text at its second sight).
  return { script, seen: scripts.set(source, script) };
}

/**
 * Whether `vm.compileFunction` keeps its text out of V8's compilation cache by itself, so that a syntax
 * check needs no flag flips (see `compiles`): V8 11 (Node 20) caches scripts but not compiled
 * functions; V8 12 (Node 22) and later cache both. 20,000 never-seen texts of 2 KB, heap after a full
 * collection: Node 20 `vm.Script` 55.9 MB, `vm.Script` with the flags flipped 0.1 MB,
 * `vm.compileFunction` 0.3 MB; Node 22 and 24 `vm.compileFunction` 54 MB. The two flips were about a
 * third of the check's V8 verdict (`setFlagsFromString` re-derives every flag's implications each
 * time). The text is the same function declaration either way, so V8 pre-parses the same body in the
 * same kind of scope and reports the same errors, which Node decorates alike (compile.test.ts).
 */
const COMPILE_FUNCTION_UNCACHED = process.versions.node.startsWith('20.');

/** Names the uncalled function `checkSyntax` wraps a script in: reserved, so no script can declare it. */
const SYNTAX_WRAPPER = `${RESERVED_PREFIX}_syntax`;

/**
 * V8's verdict on a rewritten script's syntax, without compiling it to run. The text becomes the body of
 * a function that is never called, so V8 only pre-parses it: the rewritten script asks for an eager
 * compile (its functions are parenthesized, see transform/index.ts), which a run needs and a check does
 * not, at about twice the cost. V8 reports every early error while pre-parsing (it must, since the
 * functions it pre-parses may never be compiled), with the same message; compile.test.ts holds
 * the two forms to that. `source` is the rewriter's output, one balanced expression statement (the parser
 * checked that the user's code closes nothing early), so it cannot end the wrapper. Throws V8's SyntaxError,
 * or ours for text a run's compile would refuse to hand V8 (see mayImport).
 *
 * `skip`, `[start, end)` of `source`, is left out of what V8 reads: the rewriter's prologue (see
 * `TransformOutput.prologue`), the same declarations of the guards' locals in every text, which no early
 * error can depend on: the user's code runs in a function nested in the factory that declares them, where
 * any name of an outer scope may be declared again (and the rewriter refuses the reserved prefix of
 * those names anyway, whatever `validate` says). The factory's parameters (the globals' names) stay. It is about 40% of the agent script's
 * rewritten text; pre-parsing it cost about 72 K instructions a check (callgrind).
 */
export function checkSyntax(source: string, skip: readonly [number, number] = [0, 0]): void {
  // What a run's compile refuses before V8 reads the text, the check refuses too (and in the same place).
  refuseImport(source);
  const text = skip[1] > skip[0] ? source.slice(0, skip[0]) + source.slice(skip[1]) : source;
  // The wrapper and the prologue sit on the header's line: every later line keeps its number (with the
  // run's offset) and its columns, so syntaxPosition reads the same place a run's compile would report.
  const wrapped = `function ${SYNTAX_WRAPPER}() {${text}\n}`;
  const options = { filename: SCRIPT_FILENAME, lineOffset: -1 };
  // Only the errors matter: what is compiled is dropped.
  if (COMPILE_FUNCTION_UNCACHED) vm.compileFunction(wrapped, [], options);
  else compileWith(false, () => new vm.Script(wrapped, options));
}

/**
 * Where V8 found the syntax error `e` that one of our compiles threw: its line, as V8 numbers it with the
 * compile's offset, and its 1-based column in UTF-16 units, 0 when unknown. V8 gives a compile error no
 * position of its own, but Node writes V8's above the error's stack: `agentscript.js:<line>`, the
 * line's text, and a row of white space (a tab under each tab) ending in `^` under the error, cut at
 * about a thousand characters (no `^` then). Our own refusal of `import(` (see mayImport) carries its
 * place; any other error Node did not mark so has none (undefined). Read only when a compile failed: a
 * run that compiles pays nothing for it.
 */
export function syntaxPosition(e: unknown): [line: number, column: number] | undefined {
  if (e instanceof ImportRefusal) return e.at;
  let stack: unknown;
  try {
    stack = e instanceof SyntaxError ? e.stack : undefined;
  } catch {
    return undefined;
  }
  if (typeof stack !== 'string' || !stack.startsWith(`${SCRIPT_FILENAME}:`)) return undefined;
  const from = SCRIPT_FILENAME.length + 1;
  const numberEnd = stack.indexOf('\n', from);
  const line = /^-?\d{1,9}$/.test(stack.slice(from, numberEnd)) ? Number(stack.slice(from, numberEnd)) : NaN;
  if (numberEnd < 0 || !Number.isSafeInteger(line)) return undefined;
  const textEnd = stack.indexOf('\n', numberEnd + 1);
  const mark = textEnd < 0 ? null : /^([ \t]*)\^/.exec(stack.slice(textEnd + 1, textEnd + 1 + 2048));
  return [line, mark === null ? 0 : (mark[1] as string).length + 1];
}

export const IMPORT_REFUSED = 'import() is not available to scripts.';

/**
 * Whether a text may name a private member (`#x`, `#\u0078`): a `#` followed by what may start a name
 * (an ASCII letter, `$`, `_`, a backslash, or any non-ASCII character).
 *
 * A class whose base constructor returns another object adds its private fields, methods and accessors to
 * that object, and V8 adds them to frozen objects too: `class B extends A { #x = big; }` with
 * `A`'s constructor returning `Object.prototype` hangs `big` on the realm's intrinsic, where nothing of
 * the script can reach it again but where it outlives the run. In a realm reused by the next runs, 27
 * such PERMISSIVE runs (validated) held 530 MB of a 512 MB host: every later tenant ended with
 * MEMORY_LIMIT_EXCEEDED, and the host's own next allocation ended the process. A private name needs
 * this text (strings never compile to code in a realm), so a run whose text may hold one gets a realm
 * that is retired after it (see Realm.spent). This reads characters, not tokens, like `mayImport`: it
 * errs towards retiring, e.g. for `'#fff'` inside a string literal. It is the thread's answer when the
 * host sends none; the host reads the script's tree instead where validation or the guards are on
 * (namesPrivately in pipeline.ts).
 */
export function mayNamePrivately(text: string): boolean {
  for (let at = text.indexOf('#'); at >= 0; at = text.indexOf('#', at + 1)) {
    const c = text.charCodeAt(at + 1);
    // What may start a name: anything that may continue one, less the digits.
    if (c >= 128 || (isAsciiIdPart(c) && !(c >= 0x30 && c <= 0x39))) return true;
  }
  return false;
}

function isAsciiIdPart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x24 || c === 0x5f || c === 0x5c;
}

function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) if (isLineTerminator(text.charCodeAt(i))) return i;
  return text.length;
}

/** Past the white space and comments (every form V8 may read as one) that start at `from`. */
function skipTrivia(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (isJsSpace(c)) i++;
    else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (text.startsWith('//', i) || text.startsWith('<!--', i) || text.startsWith('-->', i)) i = lineEnd(text, i);
    else break;
  }
  return i;
}

/** Past the name that starts at `from`: ASCII name characters, escapes (`\u{73}`) and anything not ASCII but space. */
function skipName(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 128 ? isAsciiIdPart(c) || c === 0x7b || c === 0x7d : !isJsSpace(c)) i++;
    else break;
  }
  return i;
}

/**
 * Whether a text may call `import(...)`: the word `import`, not part of a longer name, followed by `(`
 * past any white space and comments, or by `.`, a name and `(` (the phase imports: Node 24's V8 compiles
 * `import.source('x')` in a classic script and answers it with the same host error as `import('x')`;
 * `import.defer('x')` is the next), and not a property name (`a.import(...)`). (`import.meta` needs no
 * check: a classic script that holds it does not compile.)
 *
 * In a classic `vm.Script`, Node answers `import()` with a rejection whose reason is an error of the host
 * realm (no dynamic-import callback without --experimental-vm-modules), and a host error is a
 * `constructor.constructor` away from the host's `Function`. No option of `vm.Script` on Node 20 keeps
 * that error in the realm, so such text is never compiled, whatever the checks upstream concluded (they
 * may be off, or may have misread the text). This reads characters, not tokens, so that no tokenizer of
 * ours can be tricked: it errs towards refusing, e.g. `"import (x)"` inside a string literal.
 */
export function mayImport(text: string): boolean {
  return importAt(text) >= 0;
}

/** Where the first `import` that `mayImport` refuses starts in `text`, or -1. */
function importAt(text: string): number {
  for (let at = text.indexOf('import'); at >= 0; at = text.indexOf('import', at + 6)) {
    const before = at > 0 ? text.charCodeAt(at - 1) : -1;
    // Part of a longer ASCII name (`reimport`, `$import`, `\u0061import`). Non-ASCII before it may be white
    // space, so it is not taken as part of a name.
    if (before >= 0 && before < 128 && isAsciiIdPart(before)) continue;
    const after = text.charCodeAt(at + 6);
    if (after < 128 && isAsciiIdPart(after)) continue; // `imports`, `important`
    let next = skipTrivia(text, at + 6);
    // `import.source(`, `import . defer (`: any name, so that a phase V8 adds later is refused too.
    if (text.charCodeAt(next) === 0x2e) {
      const name = skipTrivia(text, next + 1);
      const end = skipName(text, name);
      if (end === name) continue;
      next = skipTrivia(text, end);
    }
    if (text.charCodeAt(next) !== 0x28) continue;
    // `a.import(...)` and `a?.import(...)` call a property; `...import(x)` spreads a real import.
    if (before === 0x2e && !(text.charCodeAt(at - 2) === 0x2e && text.charCodeAt(at - 3) === 0x2e)) continue;
    return at;
  }
  return -1;
}

/**
 * The refusal of a text that may call `import(...)` (see mayImport), at the `import` it found: V8's line
 * (with a compile's offset of -1) and 1-based column, as syntaxPosition reads them off V8's own errors.
 */
class ImportRefusal extends SyntaxError {
  // Private: the error is V8's kind of SyntaxError with V8's kind of message, and no more.
  readonly #at: [line: number, column: number];

  constructor(text: string, offset: number) {
    super(IMPORT_REFUSED);
    const starts = lineStarts(text, codeAt);
    const line = lastAtOrBefore(starts, offset);
    this.#at = [line, offset - (starts[line] as number) + 1];
  }

  get at(): [line: number, column: number] {
    return this.#at;
  }
}

const codeAt = (text: string, index: number): number => text.charCodeAt(index);

/** Throws ImportRefusal if `source` may call `import(...)`. */
function refuseImport(source: string): void {
  const at = importAt(source);
  if (at >= 0) throw new ImportRefusal(source, at);
}
