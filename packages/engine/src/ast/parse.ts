import { parseSync } from 'oxc-parser';
import type { Issue } from '../source.js';
import { LineIndex, LruCache } from '../source.js';

/**
 * AgentScript is a function body: top-level `await` and `return` are allowed. oxc-parser has no
 * "return outside function" switch, so the code is parsed inside an async function whose header sits
 * on its own line. Offsets in the tree are shifted by `WRAP_PREFIX.length`; lines by one.
 */
export const WRAP_PREFIX = 'async function __ek_main__() {\n';
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
}

const cache = new LruCache<string, ParsedSource>(500);

/** Converts an offset in the wrapped text to a 1-based line/column in the user's code. */
export function userLocation(parsed: ParsedSource, wrappedOffset: number): { line: number; column: number } {
  const off = Math.min(Math.max(wrappedOffset - WRAP_PREFIX.length, 0), parsed.code.length);
  return parsed.lines.locate(off);
}

/** Parses AgentScript once per distinct source (LRU-cached: parsing is not free on Node 20). */
export function parseAgentScript(code: string): ParsedSource {
  const hit = cache.get(code);
  if (hit) return hit;
  const wrapped = WRAP_PREFIX + code + WRAP_SUFFIX;
  const result = parseSync('agentscript.js', wrapped, { sourceType: 'module', lang: 'js', preserveParens: false });
  const lines = new LineIndex(code);
  const program = result.program as unknown as { body: Node[] };
  const main = program.body[0] as Node | undefined;
  const parsed: ParsedSource = {
    code,
    wrapped,
    body: [],
    main: main ?? { type: 'Empty', start: 0, end: 0 },
    lines,
    syntaxErrors: [],
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
    (program.body.length !== 1 || !main || main.type !== 'FunctionDeclaration' || main.end !== wrapped.length)
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
