import type { ParsedSource } from '../ast/parse.js';
import { WRAP_PREFIX } from '../ast/parse.js';
import type { Node } from '../ast/nodes.js';
import { ROOT_TYPE, child, children, flag, identifierName, isFunction, isLoop, patternNames, staticKey, staticString, str } from '../ast/nodes.js';
import { walk } from '../ast/walk.js';
import type { SensitiveCategory } from './patterns.js';
import { looksLikeFieldName, sensitiveName } from './patterns.js';
import type { ToolProfile } from './tools.js';
import { nameWords, profileDynamicTool, profileTool } from './tools.js';
import type { ToolRisk } from './types.js';

/** How the script names a tool. */
export type NameForm = 'literal' | 'constant' | 'template' | 'pieces' | 'encoded' | 'dynamic';

/** A ways of hiding text from a reader (and from keyword filters). */
export type ObfuscationKind = 'char-codes' | 'decoding' | 'reversed-string' | 'string-pieces' | 'escaped-string' | 'encoded-blob';

export interface Sensitive {
  name: string;
  category: SensitiveCategory;
  at: number;
}

/** What data reaches an expression: results of tool calls, sensitive fields, literal strings. */
export interface Flow {
  /**
   * Indexes into `Features.calls` of the tool calls whose results reach here: the first MAX_FLOW_TOOLS
   * of them (see addTool).
   */
  tools: Set<number>;
  /** The result of a collection read (see ToolCall.collection) reaches here, whether or not `tools` kept its index. */
  collection: boolean;
  sensitive: Sensitive | undefined;
  /** String literals that reach here (capped). */
  strings: string[];
  obfuscated: boolean;
  /**
   * Calls whose every record (an unfiltered bulk read) reaches here without a filter, find or slice
   * in between (`for (const u of await callTool('users:list')) ...`). At most MAX_FLOW_TOOLS of them:
   * the signals ask only whether there is one.
   */
  raw: Set<number>;
}

export interface ToolCall {
  index: number;
  node: Node;
  /** The tool name when it is known before the script runs. */
  name: string | undefined;
  /** Static text of the name (the whole name, or the literal parts of a template). */
  label: string;
  form: NameForm;
  profile: ToolProfile;
  /** Inside a loop body or an iteration callback (`map`, `forEach`, ...). */
  inLoop: boolean;
  /** Inside an `if`, `?:`, `&&`/`||` or `switch` within that loop: it acts on some records, not all. */
  conditional: boolean;
  /** Data reaching the arguments after the name. */
  flow: Flow;
  /** Argument keys and values asking for many records (`limit: 100000`, `'*'`, `all: true`). */
  bulkArgs: string | undefined;
  /** A read that returns many records (`list`, `search`, `export`, ... or bulk arguments). */
  collection: boolean;
  /** A collection read with no arguments besides paging or bulk ones: every record the tool has. */
  unfiltered: boolean;
  /** `role: 'admin'` and the like in the arguments. */
  grantsPrivilege: string | undefined;
}

export interface Features {
  calls: ToolCall[];
  sensitiveNames: Sensitive[];
  /** String literals with their offsets, for value patterns (capped). */
  literals: { value: string; at: number }[];
  obfuscations: { kind: ObfuscationKind; detail: string; at: number }[];
}

/** Calls that pick some records: what comes out is no longer "everything". */
const SELECTING = new Set(['filter', 'find', 'findLast', 'slice', 'at', 'some', 'every', 'includes', 'indexOf', 'pop', 'shift']);
const CONDITIONALS = new Set(['IfStatement', 'ConditionalExpression', 'LogicalExpression', 'SwitchStatement']);
const COLLECTION_WORDS = new Set(['list', 'search', 'query', 'find', 'all', 'export', 'dump', 'scan', 'backup', 'everything']);
const ITERATION_METHODS = new Set(['map', 'forEach', 'flatMap', 'filter', 'reduce', 'reduceRight', 'some', 'every', 'find', 'findIndex', 'findLast', 'findLastIndex']);
const MUTATORS = new Set(['push', 'unshift', 'splice', 'set', 'add', 'concat', 'fill']);
const BULK_KEYS = /^(limit|pagesize|page_size|perpage|per_page|count|max|maxresults|take|top|first|size|batch|batchsize|rows)$/i;
const BULK_FLAGS = /^(all|everything|includeall|unlimited|nolimit|no_limit|dump|exportall|full)$/i;
const PAGING_KEYS = /^(page|offset|cursor|after|before|skip|sort|order|orderby|fields|select|format)$/i;
const PRIVILEGED_VALUES = /^(admin|administrator|owner|superuser|super_admin|superadmin|root|sudo|\*)$/i;
const PRIVILEGED_KEYS = /^(role|roles|permission|permissions|scope|scopes|access|accesslevel|group|groups|isadmin|admin|issuperuser)$/i;
const MAX_STRINGS = 16;
/**
 * Tool calls a flow names (`Flow.tools`, `Flow.raw`). A flow is copied into every variable it is
 * assigned to and merged into every expression that names one, so flows that name every call before
 * them made the walk quadratic in the number of calls: `x = [x, await callTool('a', { x })]` repeated
 * through 250 KB took 12 s of the host's thread before the run started. The signals ask whether a flow
 * names a call other than its own (any two indexes answer that), whether one is a collection read
 * (`Flow.collection`) and for the first few names in a message, so the first 32 are enough.
 */
const MAX_FLOW_TOOLS = 32;
const MAX_LITERALS = 400;
const MAX_SENSITIVE = 32;
const BULK_THRESHOLD = 1000;
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const emptyFlow = (): Flow => ({ tools: new Set(), collection: false, sensitive: undefined, strings: [], obfuscated: false, raw: new Set() });
const copyFlow = (f: Flow): Flow => ({ ...f, tools: new Set(f.tools), strings: [...f.strings], raw: new Set(f.raw) });

/** Adds `index` to a set of call indexes unless it holds MAX_FLOW_TOOLS already. */
function addIndex(set: Set<number>, index: number): void {
  if (set.size < MAX_FLOW_TOOLS) set.add(index);
}

/** The result of `call` reaches where `flow` is. */
function addTool(flow: Flow, call: ToolCall): void {
  addIndex(flow.tools, call.index);
  flow.collection ||= call.collection;
}

function mergeFlow(into: Flow, from: Flow): void {
  for (const t of from.tools) addIndex(into.tools, t);
  into.collection ||= from.collection;
  into.sensitive ??= from.sensitive;
  for (const s of from.strings) if (into.strings.length < MAX_STRINGS) into.strings.push(s);
  into.obfuscated ||= from.obfuscated;
  for (const r of from.raw) addIndex(into.raw, r);
}

/** The variable an expression is rooted in: `a` for `a.b[0].c`, `a.filter(...).map(...)` and `(await a).b`. */
function rootName(expr: Node | null): string | undefined {
  let n = expr;
  while (n) {
    switch (n.type) {
      case 'Identifier':
        return str(n, 'name');
      case 'MemberExpression':
        n = child(n, 'object');
        break;
      case 'CallExpression':
        n = child(n, 'callee');
        break;
      case 'AwaitExpression':
      case 'ChainExpression':
        n = child(n, n.type === 'AwaitExpression' ? 'argument' : 'expression');
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** The `callTool(...)` call an expression is rooted in, if any (`(await callTool('x')).items`). */
function rootCall(expr: Node | null): Node | undefined {
  let n = expr;
  while (n) {
    if (n.type === 'CallExpression' && identifierName(child(n, 'callee')) === 'callTool') return n;
    if (n.type === 'MemberExpression') n = child(n, 'object');
    else if (n.type === 'CallExpression') n = child(n, 'callee');
    else if (n.type === 'AwaitExpression') n = child(n, 'argument');
    else if (n.type === 'ChainExpression') n = child(n, 'expression');
    else return undefined;
  }
  return undefined;
}

/** True for `await callTool(...)`, `callTool(...)` and a member of either: the tool's own result. */
function isDirectResult(expr: Node | null): Node | undefined {
  let n = expr;
  while (n && (n.type === 'AwaitExpression' || n.type === 'MemberExpression' || n.type === 'ChainExpression')) {
    n = child(n, n.type === 'AwaitExpression' ? 'argument' : n.type === 'MemberExpression' ? 'object' : 'expression');
  }
  return n && n.type === 'CallExpression' && identifierName(child(n, 'callee')) === 'callTool' ? n : undefined;
}

function leafCount(expr: Node): number {
  let count = 0;
  const pending: Node[] = [expr];
  while (pending.length > 0) {
    const n = pending.pop() as Node;
    if (n.type === 'BinaryExpression' && n.operator === '+') {
      const l = child(n, 'left');
      const r = child(n, 'right');
      if (l) pending.push(l);
      if (r) pending.push(r);
    } else count++;
  }
  return count;
}

function memberCall(node: Node): { object: Node | null; method: string | undefined } {
  const callee = child(node, 'callee');
  if (!callee || callee.type !== 'MemberExpression') return { object: null, method: undefined };
  return { object: child(callee, 'object'), method: staticKey(callee) };
}

/** Escapes in a literal's source that spell printable ASCII (`'\x70\x61ss'`): there is no reason to write those. */
function asciiEscapes(raw: string): number {
  let count = 0;
  for (const m of raw.matchAll(/\\(?:x([0-9a-fA-F]{2})|u\{?([0-9a-fA-F]{1,6})\}?)/g)) {
    const code = parseInt((m[1] ?? m[2]) as string, 16);
    if (code >= 0x21 && code <= 0x7e) count++;
  }
  return count;
}

function looksEncoded(s: string): boolean {
  if (s.includes(BASE64_ALPHABET) || s.includes(BASE64_ALPHABET.slice(0, 26).toLowerCase() + BASE64_ALPHABET.slice(0, 26))) return true;
  return s.length >= 40 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) && /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s);
}

/**
 * The string an expression spells when it is built only from literals, including the usual ways of
 * hiding one: `'a' + 'b'`, `['a', 'b'].join('')`, `'ba'.split('').reverse().join('')` and
 * `String.fromCharCode(97, 98)`. Undefined for anything that depends on data.
 */
export function foldString(expr: Node | null, consts?: ReadonlyMap<string, string>): string | undefined {
  if (!expr) return undefined;
  const direct = staticString(expr);
  if (direct !== undefined) return direct;
  if (expr.type === 'Identifier') return consts?.get(str(expr, 'name') ?? '');
  if (expr.type === 'BinaryExpression' && expr.operator === '+') {
    const l = foldString(child(expr, 'left'), consts);
    const r = l === undefined ? undefined : foldString(child(expr, 'right'), consts);
    return l !== undefined && r !== undefined && l.length + r.length <= 256 ? l + r : undefined;
  }
  if (expr.type !== 'CallExpression') return undefined;
  const { object, method } = memberCall(expr);
  const args = children(expr, 'arguments');
  if (method === 'fromCharCode' && identifierName(object) === 'String') {
    let out = '';
    for (const a of args) {
      if (!a || a.type !== 'Literal' || typeof a.value !== 'number') return undefined;
      out += String.fromCharCode(a.value);
    }
    return out;
  }
  if (method === 'join' && object) {
    const sep = args[0] ? foldString(args[0], consts) : ',';
    if (sep === undefined) return undefined;
    const parts = foldParts(object, consts);
    return parts?.join(sep);
  }
  return undefined;
}

/** The pieces of `['a', 'b']`, `'ab'.split('')` and `x.reverse()` of those. */
function foldParts(expr: Node, consts?: ReadonlyMap<string, string>): string[] | undefined {
  if (expr.type === 'ArrayExpression') {
    const out: string[] = [];
    for (const e of children(expr, 'elements')) {
      const v = foldString(e, consts);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }
  if (expr.type !== 'CallExpression') return undefined;
  const { object, method } = memberCall(expr);
  if (!object) return undefined;
  if (method === 'reverse') return foldParts(object, consts)?.toReversed();
  if (method === 'split') {
    const text = foldString(object, consts);
    const sep = foldString(children(expr, 'arguments')[0] ?? null, consts);
    return text !== undefined && sep !== undefined ? text.split(sep) : undefined;
  }
  return undefined;
}

interface Collector {
  /** `binding`: an initializer, assigned value or iterated collection; `mutation`: `list.push(...)`'s arguments. */
  kind: 'binding' | 'mutation' | 'arguments';
  flow: Flow;
  /** A selecting call (`filter`, `find`, ...) was seen inside. */
  selects: boolean;
  /** Set when the collector belongs to a tool call's arguments. */
  call: ToolCall | undefined;
}

/**
 * One walk over the validated tree that gathers everything the signals judge: tool calls with what
 * reaches their arguments (a simple forward data flow through variables, in source order), loops and
 * iteration callbacks around them, sensitive names, string literals and obfuscation idioms.
 */
export function extractFeatures(parsed: ParsedSource, tools: Readonly<Record<string, ToolRisk>> | undefined): Features {
  const features: Features = { calls: [], sensitiveNames: [], literals: [], obfuscations: [] };
  const vars = new Map<string, Flow>();
  /**
   * The collectors open around the node being visited, outermost first. What reaches a node reaches
   * every collector around it, but only the innermost is told (`innermost`): a collector hands what it
   * gathered to the one around it when it closes (see `leave`). Telling every open collector cost the
   * depth of the stack at each name and literal, and assignment chains nest 1,000 deep without a
   * bracket: 100,000 names in one took 9.5 s of the host's thread before the run started.
   */
  const collectors: Collector[] = [];
  /** The open collectors of read tools' arguments, which a field-name literal marks (see noteSensitive); they nest only in brackets. */
  const readCollectors: Collector[] = [];
  const innermost = (): Collector | undefined => collectors[collectors.length - 1];
  // Nodes whose subtree sits in a loop body or an iteration callback.
  const loopOwners = new Set<Node>();
  let loopDepth = 0;
  let condDepth = 0;
  // condDepth at the entry of each open loop owner.
  const loopConds: number[] = [];
  const callOf = new Map<Node, ToolCall>();
  const collectorsOf = new Map<Node, Collector[]>();
  const seenSensitive = new Set<string>();
  // Constants that spell a string, however they spell it (`const t = 'em' + 'ail:send'`).
  const consts = new Map<string, string>();

  const root: Node = { type: ROOT_TYPE, body: parsed.body, start: WRAP_PREFIX.length, end: WRAP_PREFIX.length + parsed.code.length };

  // Field reads mark the data they are part of; a literal only marks what a read tool is asked for.
  const noteSensitive = (name: string, at: number, marks: 'data' | 'reads' | 'none'): void => {
    const category = sensitiveName(name);
    if (category === undefined) return;
    const s: Sensitive = { name, category, at };
    if (marks === 'data') {
      const c = innermost();
      if (c) c.flow.sensitive ??= s;
    } else if (marks === 'reads') for (const c of readCollectors) c.flow.sensitive ??= s;
    if (!seenSensitive.has(name) && features.sensitiveNames.length < MAX_SENSITIVE) {
      seenSensitive.add(name);
      features.sensitiveNames.push(s);
    }
  };
  const noteObfuscation = (kind: ObfuscationKind, detail: string, at: number): void => {
    features.obfuscations.push({ kind, detail, at });
    const c = innermost();
    if (c) c.flow.obfuscated = true;
  };
  const addString = (value: string): void => {
    const c = innermost();
    if (c && c.flow.strings.length < MAX_STRINGS) c.flow.strings.push(value);
  };
  const flowOfName = (name: string | undefined): Flow | undefined => (name === undefined ? undefined : vars.get(name));
  const assign = (names: readonly string[], flow: Flow, replace: boolean): void => {
    for (const n of names) {
      const prev = vars.get(n);
      if (!prev || replace) vars.set(n, copyFlow(flow));
      else mergeFlow(prev, flow);
    }
  };
  const open = (owner: Node, kind: Collector['kind'], call?: ToolCall): void => {
    const c: Collector = { kind, flow: emptyFlow(), selects: false, call };
    collectors.push(c);
    if (call?.profile.kind === 'read') readCollectors.push(c);
    const list = collectorsOf.get(owner);
    if (list) list.push(c);
    else collectorsOf.set(owner, [c]);
  };

  const toolCall = (node: Node): ToolCall => {
    const args = children(node, 'arguments');
    const nameArg = args[0] ?? null;
    let name: string | undefined;
    let form: NameForm = 'dynamic';
    let label = '';
    if (nameArg) {
      const s = staticString(nameArg);
      const fromVar = nameArg.type === 'Identifier' ? vars.get(str(nameArg, 'name') ?? '') : undefined;
      const folded = s ?? foldString(nameArg, consts);
      if (s !== undefined && nameArg.type !== 'BinaryExpression') {
        name = s;
        form = 'literal';
      } else if (folded !== undefined) {
        name = folded;
        form = fromVar?.obfuscated || nameArg.type !== 'Identifier' ? (nameArg.type === 'BinaryExpression' && s !== undefined ? 'pieces' : 'encoded') : 'constant';
      } else if (fromVar?.obfuscated) {
        form = 'encoded';
      } else if (nameArg.type === 'TemplateLiteral') {
        form = 'template';
        label = children(nameArg, 'quasis')
          .map((q) => ((q?.value as { cooked?: string } | undefined)?.cooked ?? ''))
          .join(' ');
      } else {
        let encoded = false;
        walk(nameArg, {
          enter(n) {
            if (n.type === 'CallExpression' && ['fromCharCode', 'fromCodePoint', 'join', 'reverse', 'atob', 'replace'].includes(memberCall(n).method ?? identifierName(child(n, 'callee')) ?? '')) encoded = true;
          },
        });
        if (encoded) form = 'encoded';
      }
    }
    if (name !== undefined) label = name;
    const profile = name !== undefined ? profileTool(name, tools) : profileDynamicTool(label);
    const collection = profile.kind === 'read' && (profile.bulk || nameWords(label).some((w) => COLLECTION_WORDS.has(w)));

    let bulkArgs: string | undefined;
    let grantsPrivilege: string | undefined;
    let unfiltered = true;
    const options = args[1];
    if (options && options.type === 'ObjectExpression') {
      for (const p of children(options, 'properties')) {
        if (!p || p.type !== 'Property') {
          unfiltered = false;
          continue;
        }
        const key = staticKey(p) ?? '';
        const value = child(p, 'value');
        const num = value && value.type === 'Literal' && typeof value.value === 'number' ? value.value : undefined;
        const text = value ? staticString(value) : undefined;
        const huge = num !== undefined ? num >= BULK_THRESHOLD : value !== null && (identifierName(value) === 'Infinity' || /MAX_(SAFE_INTEGER|VALUE)/.test(staticKey(value) ?? ''));
        if (BULK_KEYS.test(key) && huge) bulkArgs ??= `${key}: ${num ?? 'unbounded'}`;
        else if (BULK_FLAGS.test(key) && value?.type === 'Literal' && value.value === true) bulkArgs ??= `${key}: true`;
        else if (text === '*' || text === '%' || text === '**') bulkArgs ??= `${key}: '${text}'`;
        else if (text !== undefined && /^\s*select\s+\*\s+from\s+\w+\s*;?\s*$/i.test(text)) bulkArgs ??= `${key}: '${text.trim()}'`;
        else if (!BULK_KEYS.test(key) && !PAGING_KEYS.test(key)) unfiltered = false;
        if (PRIVILEGED_KEYS.test(key)) {
          if (text !== undefined && PRIVILEGED_VALUES.test(text)) grantsPrivilege ??= `${key}: '${text}'`;
          else if (value?.type === 'Literal' && value.value === true && /admin|superuser/i.test(key)) grantsPrivilege ??= `${key}: true`;
          else if (value?.type === 'ArrayExpression' && children(value, 'elements').some((e) => e !== null && PRIVILEGED_VALUES.test(staticString(e) ?? ''))) grantsPrivilege ??= `${key}: [...]`;
        }
      }
    } else if (options) {
      unfiltered = false;
    }
    return {
      index: features.calls.length,
      node,
      name,
      label,
      form,
      profile,
      inLoop: loopDepth > 0,
      conditional: loopDepth > 0 && condDepth > (loopConds[loopConds.length - 1] ?? 0),
      flow: emptyFlow(),
      bulkArgs,
      unfiltered: unfiltered && (collection || bulkArgs !== undefined),
      collection: collection || bulkArgs !== undefined,
      grantsPrivilege,
    };
  };

  walk(root, {
    enter(node, parent, key) {
      // Data-flow collectors: what an initializer, an assigned value, an iterated collection or a
      // tool call's arguments are made of.
      if (parent) {
        if ((parent.type === 'VariableDeclarator' && key === 'init') || (parent.type === 'AssignmentExpression' && key === 'right') || ((parent.type === 'ForOfStatement' || parent.type === 'ForInStatement') && key === 'right')) {
          open(node, 'binding');
        } else if (key === 'arguments' && parent.type === 'CallExpression') {
          const call = callOf.get(parent);
          if (call && children(parent, 'arguments')[0] !== node) open(node, 'arguments', call);
        }
      }
      const iterating = isFunction(node) && parent?.type === 'CallExpression' && key === 'arguments' && ITERATION_METHODS.has(memberCall(parent).method ?? '');
      // Loop bodies and iteration callbacks.
      if (parent && ((isLoop(parent) && key === 'body') || iterating)) {
        loopOwners.add(node);
        loopConds.push(condDepth);
        loopDepth++;
      }
      // After the loop bookkeeping: an `if` that is itself a loop's body is a condition inside it.
      if (CONDITIONALS.has(node.type)) condDepth++;
      // Iteration callbacks: their parameters carry the collection's data.
      if (iterating && parent) {
        const { object, method } = memberCall(parent);
        const from = rootCall(object);
        const fromCall = from ? callOf.get(from) : undefined;
        const flow = fromCall ? { ...emptyFlow(), tools: new Set([fromCall.index]), collection: fromCall.collection } : flowOfName(rootName(object));
        if (flow) {
          const names: string[] = [];
          for (const p of children(node, 'params')) patternNames(p, names);
          const item = copyFlow(flow);
          // Only a callback called on the collection itself sees every record.
          const whole = object !== null && (object.type === 'Identifier' || isDirectResult(object) !== undefined);
          if (fromCall?.unfiltered && whole) addIndex(item.raw, fromCall.index);
          if (!whole || SELECTING.has(method ?? '')) item.raw.clear();
          assign(names, item, true);
        }
      }

      switch (node.type) {
        case 'CallExpression': {
          if (identifierName(child(node, 'callee')) === 'callTool') {
            const call = toolCall(node);
            features.calls.push(call);
            callOf.set(node, call);
          }
          const { object, method } = memberCall(node);
          if (method === 'fromCharCode' || method === 'fromCodePoint') {
            if (identifierName(object) === 'String') noteObfuscation('char-codes', `String.${method}`, node.start);
          } else if (method === 'reverse' && parent?.type === 'MemberExpression' && staticKey(parent) === 'join') {
            const inner = object && object.type === 'CallExpression' ? memberCall(object).method : undefined;
            if (inner === 'split' || object?.type === 'ArrayExpression') noteObfuscation('reversed-string', 'a string reversed with split/reverse/join', node.start);
          } else if (method === 'join' && object?.type === 'ArrayExpression') {
            const parts = children(object, 'elements');
            const sep = children(node, 'arguments')[0];
            if (parts.length >= 3 && parts.every((p) => p !== null && staticString(p) !== undefined) && sep && staticString(sep) === '') {
              noteObfuscation('string-pieces', `a string joined from ${parts.length} pieces`, node.start);
            }
          } else if (method === 'replace' || method === 'replaceAll') {
            // Decoding by substitution (`'s_e_n_d'.replace(/_/g, '')`) is rare in work code but common in evasion.
            if (object && staticString(object) !== undefined && (object.type === 'Literal' || object.type === 'TemplateLiteral')) {
              const arg = children(node, 'arguments')[1];
              if (arg && staticString(arg) === '' && (staticString(object) ?? '').length <= 48) noteObfuscation('decoding', 'a literal with characters stripped out at run time', node.start);
            }
          }
          const callee = identifierName(child(node, 'callee'));
          if (callee === 'atob' || callee === 'btoa' || callee === 'unescape') noteObfuscation('decoding', `${callee}()`, node.start);
          if (callee === 'decodeURIComponent' || callee === 'decodeURI') {
            const arg = children(node, 'arguments')[0];
            const s = arg ? staticString(arg) : undefined;
            if (s !== undefined && (s.match(/%[0-9a-fA-F]{2}/g)?.length ?? 0) >= 3) noteObfuscation('decoding', `${callee} of a percent-encoded literal`, node.start);
          }
          if (SELECTING.has(method ?? '')) {
            const c = innermost();
            if (c) c.selects = true;
          }
          if ((method === 'fromCharCode' || method === 'join') && collectors.length > 0) {
            // Text decoded in place still says where it goes.
            const folded = foldString(node, consts);
            if (folded !== undefined) addString(folded);
          }
          if (MUTATORS.has(method ?? '') && object) open(node, 'mutation');
          break;
        }
        case 'MemberExpression': {
          const k = staticKey(node);
          if (k !== undefined) noteSensitive(k, (child(node, 'property') ?? node).start, 'data');
          const prop = child(node, 'property');
          if (flag(node, 'computed') && prop && prop.type === 'BinaryExpression' && k !== undefined && leafCount(prop) >= 2) {
            noteObfuscation('string-pieces', `property name ${JSON.stringify(k)} built from pieces`, prop.start);
          }
          break;
        }
        case 'Property': {
          const k = staticKey(node);
          if (k !== undefined) noteSensitive(k, (child(node, 'key') ?? node).start, 'none');
          break;
        }
        case 'Identifier': {
          const name = str(node, 'name') ?? '';
          if (parent && ((parent.type === 'MemberExpression' && key === 'property' && !flag(parent, 'computed')) || (parent.type === 'Property' && key === 'key' && !flag(parent, 'computed')))) break;
          if (parent?.type === 'VariableDeclarator' && key === 'id') noteSensitive(name, node.start, 'none');
          if (parent && isFunction(parent) && key === 'params') break;
          const flow = vars.get(name);
          const c = innermost();
          if (flow && c) mergeFlow(c.flow, flow);
          const folded = consts.get(name);
          if (folded !== undefined) addString(folded);
          break;
        }
        case 'Literal': {
          if (typeof node.value !== 'string') break;
          const value = node.value;
          const isToolName = parent !== null && key === 'arguments' && callOf.has(parent) && children(parent, 'arguments')[0] === node;
          if (!isToolName && looksLikeFieldName(value)) noteSensitive(value, node.start, 'reads');
          if (!isToolName) addString(value);
          if (features.literals.length < MAX_LITERALS) features.literals.push({ value, at: node.start });
          const raw = str(node, 'raw') ?? '';
          if (asciiEscapes(raw) >= 2) noteObfuscation('escaped-string', 'a string literal spelled with \\x or \\u escapes', node.start);
          if (looksEncoded(value)) noteObfuscation('encoded-blob', 'a long base64-like literal', node.start);
          break;
        }
        case 'TemplateElement': {
          const cooked = (node.value as { cooked?: string } | undefined)?.cooked ?? '';
          if (cooked.length === 0) break;
          addString(cooked);
          if (features.literals.length < MAX_LITERALS) features.literals.push({ value: cooked, at: node.start });
          const raw = (node.value as { raw?: string } | undefined)?.raw ?? '';
          if (asciiEscapes(raw) >= 2) noteObfuscation('escaped-string', 'a template spelled with \\x or \\u escapes', node.start);
          break;
        }
        case 'BinaryExpression': {
          if (node.operator !== '+' || (parent?.type === 'BinaryExpression' && parent.operator === '+')) break;
          const s = staticString(node);
          if (s === undefined) break;
          const leaves = leafCount(node);
          const suspicious = leaves >= 2 && (sensitiveName(s) !== undefined || /^[\w.-]+[:.][\w.-]+$/.test(s) || s.includes('://') || s.includes('@'));
          if (suspicious || (leaves >= 3 && s.length / leaves < 4)) noteObfuscation('string-pieces', `${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)} built from ${leaves} pieces`, node.start);
          break;
        }
        default:
          break;
      }
    },

    leave(node, parent, key) {
      if (loopOwners.has(node)) {
        loopDepth--;
        loopConds.pop();
      }
      if (CONDITIONALS.has(node.type)) condDepth--;
      const call = callOf.get(node);
      if (call) {
        // A tool's result carries what it was asked for (`fields: ['password']`) and what it is.
        const sensitive = call.flow.sensitive ?? (call.profile.sensitive ? { name: call.label, category: 'credential' as const, at: node.start } : undefined);
        const c = innermost();
        if (c) {
          addTool(c.flow, call);
          c.flow.sensitive ??= sensitive;
        }
      }
      const owned = collectorsOf.get(node);
      if (!owned) return;
      collectorsOf.delete(node);
      // Closed innermost first: a mutation opened on entry sits above the binding around it.
      for (let i = owned.length - 1; i >= 0; i--) {
        const collector = owned[i] as Collector;
        const at = collectors.lastIndexOf(collector);
        collectors.splice(at, 1);
        if (readCollectors[readCollectors.length - 1] === collector) readCollectors.pop();
        // What reached it reached the collector around it too, before close() edits it for its binding.
        const around = collectors[at - 1];
        if (around !== undefined) {
          mergeFlow(around.flow, collector.flow);
          around.selects ||= collector.selects;
        }
        close(collector, node, parent, key);
      }
    },
  });
  return features;

  function close(collector: Collector, node: Node, parent: Node | null, key: string): void {
    const flow = collector.flow;
    if (collector.call) {
      mergeFlow(collector.call.flow, flow);
      return;
    }
    if (collector.kind === 'mutation') {
      // `list.push(x)`: the list now carries x.
      const target = rootName(memberCall(node).object);
      if (target !== undefined) assign([target], flow, false);
      return;
    }
    if (!parent) return;
    const direct = isDirectResult(node);
    const rawCall = direct ? callOf.get(direct) : undefined;
    if (rawCall?.unfiltered) addIndex(flow.raw, rawCall.index);
    if (collector.selects) flow.raw.clear();
    if (parent.type === 'VariableDeclarator') {
      const id = child(parent, 'id');
      const names: string[] = [];
      patternNames(id, names);
      if (id && id.type === 'ObjectPattern') {
        // `const { password } = user` reads the field.
        for (const p of children(id, 'properties')) {
          const k = p && p.type === 'Property' ? staticKey(p) : undefined;
          const category = k !== undefined ? sensitiveName(k) : undefined;
          if (k !== undefined && category !== undefined) flow.sensitive ??= { name: k, category, at: p ? p.start : node.start };
        }
      }
      assign(names, flow, true);
      if (id && id.type === 'Identifier') {
        const v = foldString(node, consts);
        if (v !== undefined) consts.set(str(id, 'name') ?? '', v);
        else consts.delete(str(id, 'name') ?? '');
      }
    } else if (parent.type === 'AssignmentExpression') {
      const target = child(parent, 'left');
      const names: string[] = [];
      if (target && target.type === 'Identifier') names.push(str(target, 'name') ?? '');
      else {
        const r = rootName(target);
        if (r !== undefined) names.push(r);
      }
      for (const n of names) consts.delete(n);
      assign(names, flow, parent.operator === '=' && target?.type === 'Identifier');
    } else if (key === 'right') {
      // for (const x of xs): every x carries what xs carries.
      const left = child(parent, 'left');
      const names: string[] = [];
      if (left && left.type === 'VariableDeclaration') for (const d of children(left, 'declarations')) patternNames(d ? child(d, 'id') : null, names);
      else patternNames(left, names);
      assign(names, flow, true);
    }
  }
}
