import MagicString from 'magic-string';
import type { Node, ParsedSource } from '../ast/parse.js';
import { WRAP_PREFIX, WRAP_SUFFIX, userLocation } from '../ast/parse.js';
import { isNode } from '../ast/nodes.js';
import { walk } from '../ast/walk.js';
import { BIG_STRING, BLOCKED_PROPERTIES, GUARD_LOCALS, REALM_ENTRIES, RESERVED_PREFIX } from '../sandbox/realm-abi.js';
import type { Guards } from '../sandbox/realm-abi.js';
import type { Issue } from '../source.js';

/**
 * Layer 2: rewrites validated AgentScript into the script the sandbox runs.
 *
 * The output is one expression statement, `__ek_register(function (rt, callTool, console, input, ...globals)
 * { ... return async function () { <user code> } })`, whose first line holds the whole header, so that
 * compiling it with `lineOffset: -1` makes V8 report the user's own line numbers. Evaluating it runs no
 * user code: it hands the factory to the realm, which keeps it for later runs of the same code (the same
 * closure across runs keeps V8's feedback and optimised code warm).
 *
 * What is inserted, and why it stays cheap:
 * - loops and every user function start with `if (++n > L) f()`: one increment and one compare on
 *   closure-local numbers. `L` is lowered by the runtime to the next checkpoint (memory, run state) and
 *   to -1 once the run is over or a budget is spent, so the same compare also stops detached work;
 * - synchronous functions also count call depth in a `try/finally`;
 * - `catch` and `finally` blocks start with `c()`, which rethrows a pending budget error, so budget
 *   errors cannot be caught and swallowed;
 * - computed member keys go through `m(key)`, which lets numbers through at once and refuses keys that
 *   lead to constructors or prototypes (converting the key once, so `toString` cannot change it later);
 * - `a + b`, `a += b` and template literals go through `s(v)`: numbers fall through a single `typeof`
 *   test; strings over 64K characters are checked against the per-string cap and trigger a heap check
 *   (V8 builds them as cheap ropes, but any search flattens them, so many of them add up fast);
 * - spread arguments go through `sp(x)`, which bounds the number of elements a spread can produce.
 *
 * Structural refusals that do not depend on `validate`: dynamic `import()` (its rejection carries a host
 * error object), `import.meta`, and identifiers with the runtime's reserved prefix.
 */

const { n: N, L, d: D, D: DMAX, f: F, c: C, m: M, s: S, sp: SP, os: OS, am: AM, rt: RT } = GUARD_LOCALS;
/** A field of the guard object, by name: a renamed field in the ABI breaks this file's compile. */
const guard = (field: keyof Guards) => `${RT}.${field}`;

const LOOP_GUARD = `if (++${N} > ${L}) ${F}();`;
const SYNC_ENTER = `if (++${N} > ${L} || ++${D} > ${DMAX}) ${F}(); try {`;
const SYNC_EXIT = `} finally { ${D}--; }`;

export interface TransformOutput {
  /** The script to compile with `lineOffset: -1` and filename `agentscript.js`. */
  code: string;
  /** Maps a position of the output (1-based line as V8 reports it after the offset, 1-based column) to the user's source. */
  mapPosition(line: number, column: number): { line: number; column: number } | undefined;
}

export interface TransformResult {
  output?: TransformOutput;
  issues: Issue[];
}

/** Names bound by the wrapper: the per-run tool function, console, input and the user's globals. */
function wrapperParams(globalNames: readonly string[]): string[] {
  return [RT, 'callTool', 'console', 'input', ...globalNames];
}

function isFunction(n: Node): boolean {
  return n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression';
}

function isLoop(n: Node): boolean {
  return (
    n.type === 'ForStatement' ||
    n.type === 'ForInStatement' ||
    n.type === 'ForOfStatement' ||
    n.type === 'WhileStatement' ||
    n.type === 'DoWhileStatement'
  );
}

/** A key that needs no run-time check: a number literal. String literal keys are checked statically. */
function isSafeStaticKey(key: Node): boolean {
  if (key.type !== 'Literal') return false;
  const v = key.value;
  if (typeof v === 'number') return true;
  return typeof v === 'string' && !BLOCKED_KEYS.has(v);
}

const BLOCKED_KEYS = new Set(BLOCKED_PROPERTIES);

function isNumericLiteral(n: Node): boolean {
  return n.type === 'Literal' && typeof n.value === 'number';
}

/** Finds the offset just after the `=>` of an arrow function whose body starts at `bodyStart`. */
function arrowBodyInsertion(text: string, fnStart: number, bodyStart: number): number {
  let i = bodyStart - 1;
  while (i > fnStart) {
    const ch = text[i];
    if (ch === '>' && text[i - 1] === '=') return i + 1;
    i--;
  }
  return bodyStart;
}

export interface TransformOptions {
  /** Insert the run-time guards. Without them only the wrapper and the structural refusals remain. */
  guards: boolean;
}

/** Offset of the `async` keyword in `text[from, to)`, ignoring comments; -1 if there is none. */
function findAsyncKeyword(text: string, from: number, to: number): number {
  const slice = text.slice(from, to).replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (c) => ' '.repeat(c.length));
  const m = /\basync\b/.exec(slice);
  return m ? from + m.index : -1;
}

export function transformAgentScript(parsed: ParsedSource, globalNames: readonly string[], options: TransformOptions = { guards: true }): TransformResult {
  const issues: Issue[] = [];
  const text = parsed.wrapped;
  const ms = new MagicString(text);

  const issue = (node: Node, ruleId: string, message: string, hint: string) => {
    issues.push({ ruleId, message, hint, ...userLocation(parsed, node.start) });
  };

  /** Async method functions, with the offset of their `async` keyword (it precedes the key). */
  const methodFunctions = new Map<Node, number>();
  // The validator's walker: an explicit stack (user code can nest deeply) and source order.
  const root: Node = { type: 'AgentScript', body: parsed.body, start: WRAP_PREFIX.length, end: text.length - WRAP_SUFFIX.length };
  walk(root, { enter(node, _parent, field) {
    switch (node.type) {
      case 'ImportExpression':
        issue(node, 'no-dynamic-import', 'Dynamic import() is not available in AgentScript.', 'Use callTool(...) to reach host functionality.');
        return false;
      case 'MetaProperty':
        issue(node, 'no-meta-property', '`import.meta` and `new.target` are not available in AgentScript.', 'Remove it.');
        return false;
      case 'Identifier':
      case 'PrivateIdentifier': {
        const name = node.name as string;
        if (name.startsWith(RESERVED_PREFIX)) {
          issue(node, 'reserved-prefix', `Identifiers starting with "${RESERVED_PREFIX}" are reserved for the runtime: "${name}".`, 'Rename the identifier.');
        }
        return false;
      }
      default:
        break;
    }

    // Node reports a realm promise rejected without a handler to the host, which with
    // --unhandled-rejections=strict crashes before any listener runs. So an async function becomes a
    // plain function returning the (handled-marked) promise of an inner async arrow that holds the
    // original body: name, parameters, `this`, `arguments` and hoisting stay as they were. This is a
    // host protection, applied with or without guards. Async methods lose their keyword at the
    // property; plain functions and arrows at their own start.
    if (isFunction(node) && node.async === true && node.generator !== true) {
      const kw = methodFunctions.has(node) ? (methodFunctions.get(node) as number) : node.start;
      if (kw >= 0 && text.startsWith('async', kw)) ms.remove(kw, kw + 5);
      const body = node.body as Node;
      if (body.type === 'BlockStatement') {
        ms.appendLeft(body.start, `{ return ${AM}((async () => `);
        ms.prependRight(body.end, ')()); }');
      } else {
        const at = arrowBodyInsertion(text, node.start, body.start);
        ms.appendLeft(at, ` ${AM}((async () =>`);
        ms.prependRight(node.end, ')())');
      }
    } else if (((node.type === 'Property' && node.method === true) || node.type === 'MethodDefinition') && isNode(node.value) && (node.value as Node).async === true) {
      const key = node.key as Node;
      methodFunctions.set(node.value as Node, findAsyncKeyword(text, node.start, key.start));
    }

    if (!options.guards) {
      // Only the structural refusals and the async marking above apply.
    } else if (isLoop(node)) {
      const body = node.body as Node;
      if (body.type === 'BlockStatement') ms.appendLeft(body.start + 1, LOOP_GUARD);
      else {
        ms.appendLeft(body.start, `{ ${LOOP_GUARD} `);
        ms.prependRight(body.end, ' }');
      }
    } else if (isFunction(node)) {
      const body = node.body as Node;
      const isAsync = node.async === true;
      const isGen = node.generator === true;
      const sync = !isAsync && !isGen;
      if (body.type === 'BlockStatement') {
        if (sync) {
          ms.appendLeft(body.start + 1, SYNC_ENTER);
          ms.prependRight(body.end - 1, SYNC_EXIT);
        } else ms.appendLeft(body.start + 1, LOOP_GUARD);
      } else {
        // Expression body: `x => expr` becomes `x => { guard; return (expr); }`. The parenthesis keeps
        // `return` from being cut off by automatic semicolon insertion when `expr` starts on a new line.
        const at = arrowBodyInsertion(text, node.start, body.start);
        if (sync) {
          ms.appendLeft(at, ` { ${SYNC_ENTER} return (`);
          ms.prependRight(node.end, `); ${SYNC_EXIT} }`);
        } else {
          ms.appendLeft(at, ` { ${LOOP_GUARD} return (`);
          ms.prependRight(node.end, '); }');
        }
      }
    } else if (node.type === 'CatchClause') {
      ms.appendLeft((node.body as Node).start + 1, `${C}();`);
    } else if (node.type === 'TryStatement' && node.finalizer) {
      ms.appendLeft((node.finalizer as Node).start + 1, `${C}();`);
    } else if (node.type === 'MemberExpression' && node.computed === true) {
      const key = node.property as Node;
      if (!isSafeStaticKey(key)) {
        ms.appendLeft(key.start, `${M}(`);
        ms.prependRight(key.end, ')');
      }
    } else if (node.type === 'ObjectPattern') {
      // Destructuring reads keys: `const { [k]: v } = obj` is a computed read like `obj[k]`.
      for (const prop of node.properties as Node[]) {
        const key = prop.key as Node | undefined;
        if (prop.computed === true && key && !isSafeStaticKey(key)) {
          ms.appendLeft(key.start, `${M}(`);
          ms.prependRight(key.end, ')');
        }
      }
    } else if (node.type === 'BinaryExpression' && node.operator === '+') {
      if (!(isNumericLiteral(node.left as Node) && isNumericLiteral(node.right as Node))) {
        ms.appendLeft(node.start, `${S}(`);
        ms.prependRight(node.end, ')');
      }
    } else if (node.type === 'AssignmentExpression' && node.operator === '+=') {
      ms.appendLeft(node.start, `${S}(`);
      ms.prependRight(node.end, ')');
    } else if (node.type === 'TemplateLiteral' && field !== 'quasi' && (node.expressions as Node[]).length > 0) {
      // (A tagged template's quasi is not a string of its own: the tag receives the parts.)
      ms.appendLeft(node.start, `${S}(`);
      ms.prependRight(node.end, ')');
    } else if (node.type === 'ObjectExpression') {
      // `{ ...str }` copies every character of a string as a property: bounded like Object.assign.
      for (const prop of node.properties as Node[]) {
        if (prop.type === 'SpreadElement') {
          const arg = prop.argument as Node;
          ms.appendLeft(arg.start, `${OS}(`);
          ms.prependRight(arg.end, ')');
        }
      }
    } else if (node.type === 'ArrayExpression' || node.type === 'CallExpression' || node.type === 'NewExpression') {
      // Array and argument spreads iterate, so they can produce more elements than their source
      // holds (an iterator over a huge sparse array); object spreads are bounded above instead.
      const items = (node.type === 'ArrayExpression' ? node.elements : node.arguments) as (Node | null)[];
      for (const item of items) {
        if (item && item.type === 'SpreadElement') {
          const arg = item.argument as Node;
          ms.appendLeft(arg.start, `${SP}(`);
          ms.prependRight(arg.end, ')');
        }
      }
    }
    return true;
  } });

  if (issues.length > 0) return { issues };

  // A trailing expression statement is the script's value, as in a REPL.
  const last = parsed.body[parsed.body.length - 1];
  if (last && last.type === 'ExpressionStatement' && !(last as { directive?: unknown }).directive) {
    ms.appendLeft(last.start, 'return ');
  }

  const params = wrapperParams(globalNames).join(', ');
  const header =
    `${REALM_ENTRIES.register}(function (${params}) { 'use strict'; ` +
    `let ${N} = 0, ${L} = ${guard('L')}, ${D} = 0; const ${DMAX} = ${guard('D')}, ${F} = ${guard('f')}, ${C} = ${guard('c')}, ${M} = ${guard('m')}, ` +
    `${SP} = ${guard('sp')}, ${OS} = ${guard('os')}, ${AM} = ${guard('am')}; ` +
    `const ${S} = (v) => (typeof v === 'string' && v.length > ${BIG_STRING} ? ${guard('big')}(v.length, v) : v); ` +
    `${guard('bind')}(() => ${N}, (v) => { ${L} = v; }, () => ${D}); ` +
    `return async function () {`;
  // The wrapped text is `<prefix line>\n<user code>\n}`: replace the prefix line (keeping its newline)
  // and the closing brace, so user line k is output line k + 1.
  ms.overwrite(0, WRAP_PREFIX.length - 1, header);
  ms.overwrite(text.length - 1, text.length, '}; });');

  const code = ms.toString();
  let decoded: ReturnType<MagicString['generateDecodedMap']> | undefined;
  const mapPosition = (line: number, column: number) => {
    decoded ??= ms.generateDecodedMap({ hires: true });
    // V8 lines are already shifted by -1 (lineOffset), so output line index = line (0-based + 1).
    const segs = decoded.mappings[line];
    if (!segs || segs.length === 0) return undefined;
    const col0 = column - 1;
    let best: number[] | undefined;
    for (const seg of segs) {
      if ((seg[0] as number) <= col0) best = seg;
      else break;
    }
    best ??= segs[0];
    if (!best || best.length < 4) return undefined;
    const wrappedLine = best[2] as number;
    const origCol = (best[3] as number) + Math.max(0, col0 - (best[0] as number));
    // Wrapped line 1 (index 1) is the user's line 1.
    if (wrappedLine < 1) return { line: 1, column: 1 };
    return { line: wrappedLine, column: origCol + 1 };
  };
  return { output: { code, mapPosition }, issues };
}
