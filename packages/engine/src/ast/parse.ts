import { whenIdle } from '../idle.js';
import { AsyncResource } from '../node-types.js';
import type { Issue } from '../source.js';
import { LineIndex, LruCache, textSize } from '../source.js';
import type { DepthRefusal } from './depth.js';
import { MAX_PARSE_DEPTH, parseDepthRefusal, unescaped } from './depth.js';
import type { OxcParse } from './oxc.js';
import { oxcModule, oxcParse } from './oxc.js';
import { parseRawTransfer } from './raw-tree.js';

/**
 * AgentScript is a function body: top-level `await` and `return` are allowed. oxc-parser has no
 * "return outside function" switch, so the code is parsed inside an async function whose header sits
 * on its own line. Offsets in the tree are shifted by `WRAP_PREFIX.length`; lines by one.
 *
 * The parse must read the text exactly as V8 runs it: a classic script (the realm compiles a
 * `vm.Script`), strict (the rewritten factory says so). A module parse differs in one place that
 * matters: in a script, `<!--` starts a line comment and so does `-->` at the start of a line (Annex B),
 * while a module reads them as operators. Code that one reader sees as a comment and the other runs
 * would pass every check unseen, so the wrapper is a strict script, not a module.
 */
export const WRAP_PREFIX = "'use strict'; async function __ek_main__() {\n";
export const WRAP_SUFFIX = '\n}';

/** ESTree-shaped node as oxc-parser emits it (acorn-compatible with `preserveParens: false`). */
export interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

export interface ParsedSource {
  /** The user's code, exactly as given. */
  code: string;
  /** The wrapped text the offsets of `body` refer to. */
  wrapped: string;
  /** Statements of the user's code (the body of the wrapper function). */
  body: Node[];
  /** The wrapper function node. */
  main: Node;
  /** Line index over the user's code. */
  lines: LineIndex;
  /** Syntax errors, located in the user's code. Empty when the code parsed. */
  syntaxErrors: Issue[];
  /**
   * The comments, in order, as offsets into `wrapped`: `[start, end, line]`, `line` 1 for a comment that
   * runs to the end of its line (`//`, `<!--`, `-->`), whose text therefore also takes in whatever is
   * written at `end`.
   */
  comments: readonly (readonly [number, number, 0 | 1])[];
}

/**
 * Small on purpose: the tree is looked up again right after a check (the scoring gate, the scorer), never
 * much later, and LLM traffic rarely sends a text twice. A tree is many times its source's size; five
 * hundred of them kept the heap large and made every collection dearer.
 */
const cache = new LruCache<string, ParsedSource>(16, 1024 * 1024, textSize);

const OPTIONS = { sourceType: 'script', lang: 'js', preserveParens: false } as const;
/**
 * oxc-parser's raw transfer: the tree is read out of the parser's own buffer instead of crossing as
 * JSON, several times faster on an agent script, the same tree. oxc offers it from Node 22; on Node 20
 * ast/raw-tree.ts sets it up. It reserves a large virtual buffer, which a process with a low
 * address-space limit cannot get: the first failure turns it off and the JSON path answers.
 */
let rawTransfer: 'oxc' | 'own' | false | undefined;
/** Whether this process parsed once: the first parse takes the JSON path (see parseWrapped). */
let parsedOnce = false;

type Parse = OxcParse;
const parseJson = (wrapped: string): Parse => oxcParse('agentscript.js', wrapped, OPTIONS);

/**
 * The async context this module was loaded in, where raw-transfer parses run. Their buffers are let go
 * by idle timers that a parse sets (oxc's, on Node 22 and later, 10 s after the last parse; ours in
 * raw-tree.ts, once a 10 s tick has seen no parse), and a timer keeps the async context it was set in:
 * set by a run's check, it kept that request's AsyncLocalStorage store, and whatever the store held,
 * alive for 10 s after the last parse, or for as long as parses kept coming.
 */
const home = new AsyncResource('enclave.parse');

function parseWrapped(wrapped: string): Parse {
  // The first parse of a process takes the JSON path: loading the raw-transfer code and reserving its
  // buffer would fall on the cold start (import + first run), which it lengthened by about 10 ms.
  if (!parsedOnce) {
    parsedOnce = true;
    setUpLater();
    return parseJson(wrapped);
  }
  return home.runInAsyncScope(parseRaw, undefined, wrapped);
}

/**
 * The raw path is set up (oxc's reader loaded and compiled, its buffer reserved, on Node 20 our probe)
 * once the first run is over, in a turn with no run in flight, instead of in the second run's check,
 * which it made 20-30 ms longer. Set for the next timer turn, as it was, it landed inside the first run
 * whenever that run spanned turns: on Node 22 and 24 it did, and took the first run from about 21 ms
 * to 32 ms (and the collection its 6 GiB reservation triggers came with it).
 */
function setUpLater(): void {
  whenIdle(() => {
    if (rawTransfer !== false) home.runInAsyncScope(parseRaw, undefined, `${WRAP_PREFIX}return 1${WRAP_SUFFIX}`);
  });
}

/** A parse through raw transfer, or through the JSON path once raw transfer has failed. */
function parseRaw(wrapped: string): Parse {
  rawTransfer ??= rawTransferPath();
  if (rawTransfer === 'oxc') {
    try {
      return oxcModule().parseSync('agentscript.js', wrapped, { ...OPTIONS, experimentalRawTransfer: true } as typeof OPTIONS);
    } catch {
      rawTransfer = false;
    }
  } else if (rawTransfer === 'own') {
    const parsed = parseRawTransfer('agentscript.js', wrapped, OPTIONS, parseJson);
    if (parsed !== null) return parsed as Parse;
    rawTransfer = false;
  }
  return parseJson(wrapped);
}

/**
 * oxc's raw transfer where it offers it (Node 22 and later, 64-bit little-endian), which loads the rest
 * of oxc-parser (see ast/oxc.ts); on Node 20 ast/raw-tree.ts sets it up; false when neither can.
 */
function rawTransferPath(): 'oxc' | 'own' | false {
  if (Number(process.versions.node.split('.')[0]) < 22) return 'own';
  try {
    return oxcModule().rawTransferSupported() ? 'oxc' : 'own';
  } catch {
    return false;
  }
}

/** Tests only: which path trees take after the first parse ('oxc' or 'own' raw transfer, or JSON). */
export function treeTransfer(): 'oxc' | 'own' | 'json' | undefined {
  return rawTransfer === false ? 'json' : rawTransfer;
}

/**
 * Why the code is refused before it is parsed (see ast/depth.ts), one rule each: the nesting itself, or
 * what would let the estimate read the text otherwise than the parser does.
 */
const DEPTH_REFUSALS: Record<DepthRefusal, (code: string, offset: number) => Pick<Issue, 'ruleId' | 'message' | 'hint'>> = {
  depth: () => ({
    ruleId: 'prescan/depth',
    message: `The code nests more than ${MAX_PARSE_DEPTH} levels deep without brackets (a chain such as \`a = b = c = ...\`, \`a ? b : c ? ...\`, \`x => y => ...\` or \`if (a) if (b) ...\`).`,
    hint: 'Break the chain into separate statements.',
  }),
  'ambiguous-slash': (code, offset) => ({
    ruleId: 'prescan/ambiguous-slash',
    message: `This \`/\` comes right after ${slashContext(code, offset)}, where it may start a regular expression or be a division, and the code is read before it is parsed: it cannot be read one way for sure.`,
    hint: 'Put the regular expression or the division in parentheses: `of (/x/g)`, `(a) / b`, or `;` before a line that starts with a regular expression.',
  }),
  'escaped-keyword': (code, offset) => {
    const word = escapedWord(code, offset);
    return {
      ruleId: 'prescan/escaped-keyword',
      message: `\`${word}\` is the keyword \`${unescaped(word)}\` written with unicode escapes, which JavaScript does not allow (except for a property name after \`.\`).`,
      hint: 'Write the keyword in plain letters.',
    };
  },
  hashbang: () => ({
    ruleId: 'prescan/hashbang',
    message: 'The code starts with `#!`: a script\'s first line cannot be a hashbang here (the code is the body of a function).',
    hint: 'Remove the `#!` line.',
  }),
};

/** The token before the `/` at `offset`, as a message names it. */
function slashContext(code: string, offset: number): string {
  const before = code.slice(Math.max(0, offset - 200), offset).trimEnd();
  if (before.endsWith('}')) return 'a `}` that ends a block';
  if (before.endsWith(')')) return 'the head of a `for await (...)`';
  const word = /[\p{ID_Continue}$\\]+$/u.exec(before)?.[0] ?? '';
  return word === '' ? 'a keyword' : `\`${word}\``;
}

/** The escaped word that starts at `offset`, as written. */
function escapedWord(code: string, offset: number): string {
  return /^[\p{ID_Continue}$\\{}]{1,60}/u.exec(code.slice(offset, offset + 60))?.[0] ?? '';
}

/** What parseAgentScript answers, without parsing, for code it refuses to parse (see DEPTH_REFUSALS). */
function tooDeep(code: string, wrapped: string, lines: LineIndex, offset: number, reason: DepthRefusal): ParsedSource {
  return {
    code,
    wrapped,
    body: [],
    main: { type: 'Empty', start: 0, end: 0 },
    lines,
    syntaxErrors: [{ ...DEPTH_REFUSALS[reason](code, offset), ...lines.locate(offset) }],
    comments: [],
  };
}

/** Converts an offset in the wrapped text to a 1-based line/column in the user's code. */
export function userLocation(parsed: ParsedSource, wrappedOffset: number): { line: number; column: number } {
  const off = Math.min(Math.max(wrappedOffset - WRAP_PREFIX.length, 0), parsed.code.length);
  return parsed.lines.locate(off);
}

/**
 * The column of the first problem oxc's semantic checks find on `line` of the user's code (redeclared
 * names, labels, parameters: the early errors V8 reports that oxc's parse alone does not), or undefined.
 * For a syntax error V8 reported on a line too long for Node to show its column (see syntaxPosition):
 * asked only then, so the checks cost a script that compiles nothing.
 */
export function semanticErrorColumn(code: string, line: number): number | undefined {
  let errors: OxcParse['errors'];
  try {
    errors = oxcParse('agentscript.js', WRAP_PREFIX + code + WRAP_SUFFIX, { ...OPTIONS, showSemanticErrors: true }).errors;
  } catch {
    return undefined;
  }
  const lines = new LineIndex(code);
  for (const err of errors) {
    // The last of its labels on the line: a name declared twice is labelled at both declarations, and V8
    // reports the second.
    let column: number | undefined;
    for (const label of err.labels ?? []) {
      const at = lines.locate(Math.min(Math.max(label.start - WRAP_PREFIX.length, 0), code.length));
      if (at.line === line) column = at.column;
    }
    if (column !== undefined) return column;
  }
  return undefined;
}

/**
 * Where in the user's source V8's compile found a syntax error (see syntaxPosition in sandbox/compile.ts): its line and column
 * mapped through the rewriter's anchors (see the fallback below where Node showed no column), and 1:1 where
 * V8's position is unknown or lies in the rewriter's header.
 */
export function syntaxLocation(
  at: readonly [line: number, column: number] | undefined,
  mapPosition: (line: number, column: number) => { line: number; column: number } | undefined,
  userCode: string | undefined,
): { line: number; column: number } {
  const mapped = at === undefined ? undefined : mapPosition(at[0], at[1] === 0 ? 1 : at[1]);
  if (mapped === undefined) return { line: 1, column: 1 };
  // No column shown (a line over about a thousand characters): oxc's semantic checks, where they find
  // a problem on that line, else its start.
  const column = at?.[1] === 0 && userCode !== undefined ? semanticErrorColumn(userCode, mapped.line) : undefined;
  return column === undefined ? mapped : { line: mapped.line, column };
}

/** Parses AgentScript; the last few trees are cached for the stages that ask again right away. */
export function parseAgentScript(code: string): ParsedSource {
  const hit = cache.get(code);
  if (hit) return hit;
  const wrapped = WRAP_PREFIX + code + WRAP_SUFFIX;
  const lines = new LineIndex(code);
  // oxc would recurse this deep with no stack check: refused here, for every caller (see ast/depth.ts).
  const deep = parseDepthRefusal(code);
  if (deep.at >= 0) return tooDeep(code, wrapped, lines, deep.at, deep.reason);
  const result = parseWrapped(wrapped);
  const program = result.program as unknown as { body: Node[] };
  // The first statement is the wrapper's 'use strict' directive.
  const main = program.body[1] as Node | undefined;
  const parsed: ParsedSource = {
    code,
    wrapped,
    body: [],
    main: main ?? { type: 'Empty', start: 0, end: 0 },
    lines,
    syntaxErrors: [],
    comments: (result.comments as readonly { type: string; start: number; end: number }[]).map((c) => [c.start, c.end, c.type === 'Line' ? 1 : 0] as const),
  };
  for (const err of result.errors) {
    const label = err.labels?.[0];
    const loc = userLocation(parsed, label ? label.start : WRAP_PREFIX.length);
    parsed.syntaxErrors.push({
      ruleId: 'syntax',
      message: `Syntax error: ${err.message}`,
      hint: err.helpMessage ?? 'Fix the syntax error; the code must be the body of an async function.',
      ...loc,
    });
  }
  // Code that closes the wrapper early (`}; evil(); function x() {`) yields more than one top-level
  // statement, or a wrapper that does not span the whole text.
  if (
    parsed.syntaxErrors.length === 0 &&
    (program.body.length !== 2 || !main || main.type !== 'FunctionDeclaration' || main.end !== wrapped.length)
  ) {
    parsed.syntaxErrors.push({
      ruleId: 'syntax',
      message: 'Syntax error: unbalanced braces close the script body early.',
      hint: 'Balance every `{` with a `}` inside your code.',
      line: 1,
      column: 1,
    });
  }
  if (parsed.syntaxErrors.length === 0 && main) {
    parsed.body = ((main.body as Node).body as Node[]) ?? [];
  }
  cache.set(code, parsed);
  return parsed;
}
