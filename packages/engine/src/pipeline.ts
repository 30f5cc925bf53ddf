import type { SecurityLevel } from './levels.js';
import { LEVEL_CONFIGS, SECURITY_LEVELS } from './levels.js';
import { OptionChecker } from './options.js';
import { treeFacts } from './ast/facts.js';
import type { ParsedSource } from './ast/parse.js';
import { WRAP_PREFIX, parseAgentScript, syntaxLocation } from './ast/parse.js';
import { prescan } from './scan/index.js';
import type { Issue } from './source.js';
import { cacheKey } from './source.js';
import { checkSyntax, mayNamePrivately, syntaxPosition } from './sandbox/compile.js';
import type { ScriptPositions } from './sandbox/isolation.js';
import { transformAgentScript } from './transform/index.js';
import { validateAst } from './validate/index.js';

/**
 * A script that passed every check, compiled and ready to run. Opaque: what the engine keeps with it
 * (the rewritten source, the position map) is not part of the API.
 */
export interface CompiledScript {
  /** Content key of the rewritten script: the same key means the same compiled code. */
  readonly key: string;
}

/** What the engine keeps with a checked script. */
export interface PreparedScript extends CompiledScript {
  /** The rewritten source: each thread that runs it compiles it once (see sandbox/compile.ts). */
  readonly source: string;
  /** Maps V8's (line, column) in the rewritten script to the user's source. */
  readonly mapPosition: (line: number, column: number) => { line: number; column: number } | undefined;
  /** What a realm needs to map the frames of the stack traces a script reads (see IsolatedJob.positions). */
  readonly positions: () => ScriptPositions;
  /** Where the rewriter's prologue sits in `source` (see TransformOutput.prologue), which V8's syntax check skips. */
  readonly prologue: readonly [number, number];
  /** Whether the script names a private member, read from its tree (see IsolatedJob.privateNames). */
  readonly privateNames: boolean | undefined;
  /** Whether the script may name `console` (see namesConsole): a run builds one only then. */
  readonly console: boolean;
}

export type CheckResult = { ok: true; compiled: CompiledScript } | { ok: false; issues: Issue[] };

/** One problem `enclave.check()` found: an `error` makes `run()` refuse the script; a `warning` would fail while it runs. */
export interface CheckIssue extends Issue {
  severity: 'error' | 'warning';
}

/** What `enclave.check()` reports: `ok` when `run()` would accept the script (warnings allowed). */
export interface CheckReport {
  ok: boolean;
  issues: CheckIssue[];
}

/**
 * `checkAgentScript` with what the engine keeps of the compiled script. A refusal says whether the
 * parser read the code: not when the pre-scan refused it, whose limits (size first) bound what any later
 * stage reads.
 */
export type PrepareResult = { ok: true; compiled: PreparedScript } | { ok: false; issues: Issue[]; parsed: boolean };

export interface CheckOptions {
  /** Default `'STANDARD'`. */
  securityLevel?: SecurityLevel;
  /** Names the host will pass as `globals`: they become readable identifiers. */
  globals?: readonly string[];
  /** Run the AST validation (default true). */
  validate?: boolean;
  /** Insert the run-time guards (default true). */
  transform?: boolean;
}

/** Names every run provides besides the level's globals (`console` comes with the dialect). */
const RUN_PROVIDED = ['callTool', 'input'] as const;
const NO_GLOBALS: readonly string[] = [];

/**
 * Layers 0 to 2 without running anything: pre-scan, parse, AST validation, rewriting, and V8's own
 * syntax check (a pre-parse). Stops at the first stage that finds problems and returns all of that
 * stage's problems, located in the user's source. `Enclave.run` uses exactly this, so code that passes
 * here is code that `run` accepts; use it to give an LLM feedback before running anything.
 *
 * @example
 * ```ts
 * const r = checkAgentScript(code, { securityLevel: 'STRICT' });
 * if (!r.ok) for (const i of r.issues) console.log(`${i.line}:${i.column} ${i.ruleId} ${i.message} (${i.hint})`);
 * ```
 */
export function checkAgentScript(code: string, options: CheckOptions | null = {}): CheckResult {
  const r = prepare(code, checkOptions(options ?? {}), true);
  return r.ok ? r : { ok: false, issues: r.issues };
}

const CHECK_OPTION_NAMES = ['securityLevel', 'globals', 'validate', 'transform'] as const;

/**
 * The options of `checkAgentScript`, checked as `new Enclave()` checks its own: an unknown or malformed
 * one throws an `EnclaveConfigError` naming it, instead of a level the engine has no table for failing
 * deep inside with a `TypeError`.
 */
function checkOptions(options: CheckOptions): CheckOptions {
  const checker = new OptionChecker('checkAgentScript(code, options)');
  const o = checker.object('options', options) ?? {};
  checker.knownKeys('', o, CHECK_OPTION_NAMES);
  checker.oneOf('securityLevel', o.securityLevel, SECURITY_LEVELS, 'STANDARD');
  checker.boolean('validate', o.validate);
  checker.boolean('transform', o.transform);
  checker.names('globals', o.globals);
  return options;
}

/**
 * Layers 0 to 2 as `checkAgentScript`, keeping what a run needs, without V8's compile: each thread
 * compiles what it runs (a worker never gets a host `vm.Script`).
 */
export function prepareAgentScript(code: string, options: CheckOptions | null = {}): PrepareResult {
  return prepare(code, options ?? {}, false);
}

/** Both: `syntax` adds V8's verdict (a pre-parse), which a run has from its own compile. */
function prepare(code: string, options: CheckOptions, syntax: boolean): PrepareResult {
  const level = options.securityLevel ?? 'STANDARD';
  const config = LEVEL_CONFIGS[level];
  // The wrapper's parameters follow the sorted global names, so the rewritten text is canonical.
  const globalNames = options.globals === undefined || options.globals.length === 0 ? NO_GLOBALS : [...new Set(options.globals)].sort();

  const scanIssues = prescan(code, config.scan, level);
  if (scanIssues.length > 0) return { ok: false, issues: scanIssues, parsed: false };
  const parsed = parseAgentScript(code);
  if (parsed.syntaxErrors.length > 0) return { ok: false, issues: parsed.syntaxErrors, parsed: true };
  if (options.validate ?? true) {
    const issues = validateAst(parsed, { dialect: config.dialect, extraGlobals: globalNames.length === 0 ? RUN_PROVIDED : [...RUN_PROVIDED, ...globalNames] });
    if (issues.length > 0) return { ok: false, issues, parsed: true };
  }
  const transformed = transformAgentScript(parsed, globalNames, { guards: options.transform ?? true });
  if (!transformed.output) return { ok: false, issues: transformed.issues, parsed: true };

  // Not cached: the compiled code is, per thread, by key (sandbox/compile.ts). Keeping this object would
  // keep the rewriter's MagicString too, about 17 KB for the agent script, for a hit that saves nothing.
  const { code: source, mapPosition, anchors, prologue, addsPrivateNames } = transformed.output;
  const userCode = parsed.code;
  const most = config.scan.maxCodeBytes * REWRITE_GROWTH;
  if (source.length > most) {
    return {
      ok: false,
      parsed: true,
      issues: [{
        ruleId: 'rewrite/size',
        message: `The script needs too many runtime checks: rewritten with them it is ${source.length} characters; the limit is ${most} (${REWRITE_GROWTH} times the largest script this level accepts).`,
        hint: 'Write fewer, larger expressions: a loop or a helper function instead of many repeated small expressions or callbacks.',
        line: 1,
        column: 1,
      }],
    };
  }
  const compiled: PreparedScript = { source, key: cacheKey(source), mapPosition, prologue, positions: () => ({ anchors: anchors(), text: userCode, prefix: WRAP_PREFIX.length }), privateNames: addsPrivateNames || namesPrivately(parsed, options), console: namesConsole(userCode) };
  const refused = syntax ? v8SyntaxIssue(compiled) : undefined;
  return refused === undefined ? { ok: true, compiled } : { ok: false, issues: [refused], parsed: true };
}

/**
 * Whether the user's code may name `console`, the factory's parameter a run fills with a console of its
 * own: nine functions recorded as builtins and a frozen object, about 2% of the CPU of 200 concurrent
 * never-seen agent runs, which never log. The parameter is reachable only by its name (the script runs
 * in a function inside the factory, with `arguments` of its own), and an identifier can spell that name
 * only as the text `console` or with a `\u` escape, so a text with neither cannot: reading characters
 * errs towards building one (a string or comment that says `console` counts).
 */
export function namesConsole(code: string): boolean {
  return code.includes('console') || code.includes('\\u');
}

/**
 * V8's verdict on a prepared script's syntax (see checkSyntax): undefined when it compiles, else the
 * problem, located where a run's compile would put it (the driver maps it the same way). Nothing of the
 * script runs, and nothing is compiled to run: V8 only pre-parses it. V8 may refuse what the parser
 * accepted (rare: an early error oxc does not report); a run reports that the same way.
 */
export function v8SyntaxIssue(compiled: PreparedScript): Issue | undefined {
  try {
    checkSyntax(compiled.source, compiled.prologue);
    return undefined;
  } catch (e) {
    const message = e instanceof SyntaxError ? e.message : 'The script could not be compiled.';
    const { line, column } = syntaxLocation(syntaxPosition(e), compiled.mapPosition, compiled.positions().text);
    return { ruleId: 'syntax', message: `Syntax error: ${message}`, hint: 'Fix the syntax error.', line, column };
  }
}

/**
 * Whether the script names a private member (`#x`), which retires the realm after its run (see
 * mayNamePrivately); the rewriter's own private names count too (TransformOutput.addsPrivateNames). The
 * character scan alone errs towards retiring, and LLM scripts often hold `#` and a letter in strings (`'#fff'`, `'#section'`, hashtags): such a run cost about 5x an ordinary one, since
 * the next run had to build a realm. Where a layer that already trusts the parser's tree is on
 * (validation or the guards), the tree answers; with both off the realm reads the text itself
 * (undefined), so the runtime holds alone there as everywhere else.
 */
function namesPrivately(parsed: ParsedSource, options: { validate?: boolean; transform?: boolean }): boolean | undefined {
  if (options.validate === false && options.transform === false) return undefined;
  return mayNamePrivately(parsed.code) && treeFacts(parsed).tree.types.includes('PrivateIdentifier');
}

/**
 * How much larger than a level's largest script (`maxCodeBytes`) its rewritten text may be. The guards
 * make ordinary scripts 1.5-2.5 times longer (the 20 scripts of bench/agents.mjs, less the fixed
 * prologue), line after line of small callbacks about 3.7 times (check.test.ts), and short statements
 * that each build a string (`x = x + k;`, inv8-host-caches) 7.5 times; but a text made of tiny guarded
 * expressions (`a+b,` repeated: 22 times, about the most a guard adds to the text it guards) grew a 250
 * KB STANDARD script to 5.6 MB, which V8 then pre-parsed for the check (0.4 s) and compiled for the run,
 * all of it on the host's thread and beyond the run's deadline. The limit halves that worst case.
 */
const REWRITE_GROWTH = 12;
