/**
 * oxc-parser, as a cold start can afford it.
 *
 * `import 'oxc-parser'` loads seven ES modules: its entry, its native binding's loader (which reads
 * `/usr/bin/ldd` to tell glibc from musl and asks for a binary at two places before it finds one),
 * the raw-transfer probe, the visitor keys, a visitor class and the JSON reader, each a module
 * resolution, a file read and a compile. The checker's first parse needs only the binding, the JSON
 * reader's few lines and the visitor keys: loaded that way, an import + first run costs 10-12 M
 * instructions fewer on Node 22 and 24 (callgrind), and the rest of oxc-parser (raw transfer, on
 * Node 22 and later) is loaded when the parse path is set up, after the first run (see ast/parse.ts).
 *
 * The binding is the package oxc-parser itself would load, found from oxc-parser's own folder, and
 * taken only when nothing is in doubt: the package for this platform and CPU is the only candidate
 * installed (on Linux a glibc and a musl build may both be; then oxc-parser decides), its version is
 * oxc-parser's, and napi-rs's overrides (`NAPI_RS_NATIVE_LIBRARY_PATH`, `NAPI_RS_FORCE_WASI`) are
 * unset. The first tree read through it must have the shape this was written against. Otherwise, or
 * when anything throws, oxc-parser's own entry answers from then on (Node's `require` of an ES module).
 */
import type { ParseResult, ParserOptions } from 'oxc-parser';

type Oxc = typeof import('oxc-parser');
/** What the checker reads of a parse. */
export type OxcParse = Pick<ParseResult, 'program' | 'comments' | 'errors'>;

/** The native side of oxc-parser's `parseSync`: the tree crosses as JSON text. */
interface Binding {
  parseSync(filename: string, text: string, options: ParserOptions): { program: string; module: unknown; comments: unknown; errors: unknown };
}

/** The binding packages oxc-parser 0.159 names for each platform and CPU (its optional dependencies). */
const CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  'linux-x64': ['linux-x64-gnu', 'linux-x64-musl'],
  'linux-arm64': ['linux-arm64-gnu', 'linux-arm64-musl'],
  'darwin-arm64': ['darwin-arm64'],
  'darwin-x64': ['darwin-x64'],
  'win32-x64': ['win32-x64-msvc'],
  'win32-arm64': ['win32-arm64-msvc'],
  'freebsd-x64': ['freebsd-x64'],
};

const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
/** `require` as oxc-parser's entry has it: its binding package resolves from there. */
let oxcRequire: NodeJS.Require | undefined;
function fromOxc(): NodeJS.Require {
  oxcRequire ??= createRequire(createRequire(import.meta.url).resolve('oxc-parser'));
  return oxcRequire;
}

let whole: Oxc | undefined;
/** oxc-parser's own entry, all of it. */
export function oxcModule(): Oxc {
  whole ??= fromOxc()('./index.js') as Oxc;
  return whole;
}

/** The binding package for this process, or undefined when oxc-parser should choose. */
function bindingPackage(require: NodeJS.Require): string | undefined {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH || process.env.NAPI_RS_FORCE_WASI) return undefined;
  const installed = (CANDIDATES[`${process.platform}-${process.arch}`] ?? []).filter((name) => {
    try {
      require.resolve(`@oxc-parser/binding-${name}/package.json`);
      return true;
    } catch {
      return false;
    }
  });
  if (installed.length !== 1) return undefined;
  const name = `@oxc-parser/binding-${installed[0]}`;
  const version = (require(`${name}/package.json`) as { version?: unknown }).version;
  const own = (require('../package.json') as { version?: unknown }).version;
  return typeof version === 'string' && version === own ? name : undefined;
}

/** The binding, loaded directly; null when oxc-parser's entry must answer. */
let binding: Binding | null | undefined;
function directBinding(): Binding | null {
  if (binding !== undefined) return binding;
  binding = null;
  try {
    const require = fromOxc();
    const name = bindingPackage(require);
    const loaded = name === undefined ? undefined : (require(name) as Partial<Binding>);
    if (typeof loaded?.parseSync === 'function') binding = loaded as Binding;
  } catch {
    // oxc-parser's entry loads it its own way.
  }
  return binding;
}

// Loaded with the engine, as the import of oxc-parser's entry loaded it: a server that imports the engine
// at start does not make its first request pay for opening the binary.
directBinding();

/** Whether a tree read through the binding was checked to have the expected shape. */
let checked = false;

/**
 * `parseSync` of oxc-parser without raw transfer: the binding's JSON, read here as oxc-parser's entry
 * reads it (its `wrap`), or oxc-parser's entry itself.
 */
export function oxcParse(filename: string, text: string, options: ParserOptions): OxcParse {
  const direct = directBinding();
  if (direct !== null) {
    try {
      return fromJson(direct.parseSync(filename, text, options));
    } catch (error) {
      // A parse through a checked binding fails as oxc-parser's own would (it is the same call).
      if (checked) throw error;
      binding = null;
    }
  }
  return oxcModule().parseSync(filename, text, options);
}

/**
 * The tree out of the binding's result. Every field is read at once: each of the native result's getters
 * hands its value over and frees it on the Rust side, and a field never read would be kept there until
 * the result is collected. The JSON holds the tree and the paths to the literals JSON cannot carry
 * (BigInts and regular expressions), whose `value` is made here.
 */
function fromJson(result: ReturnType<Binding['parseSync']>): OxcParse {
  const { program: json, comments, errors } = result;
  void result.module;
  const { node, fixes } = JSON.parse(json) as { node?: { type?: unknown }; fixes?: unknown };
  if (!checked) {
    if (node?.type !== 'Program' || !Array.isArray(fixes) || !Array.isArray(comments) || !Array.isArray(errors)) throw new Error('unexpected oxc-parser output');
    checked = true;
  }
  for (const fix of fixes as readonly (string | number)[][]) literalValue(node as Record<string | number, unknown>, fix);
  return { program: node, comments, errors } as unknown as OxcParse;
}

/** Gives the literal at `route` its value: a BigInt, or a RegExp where this V8 can build it (else null, as oxc-parser leaves it). */
function literalValue(root: Record<string | number, unknown>, route: readonly (string | number)[]): void {
  let at = root;
  for (let i = 0; i < route.length; i++) at = at[route[i] as string | number] as Record<string | number, unknown>;
  const literal = at as { value?: unknown; bigint?: string; regex?: { pattern: string; flags: string } };
  if (typeof literal.bigint === 'string') {
    literal.value = BigInt(literal.bigint);
    return;
  }
  try {
    if (literal.regex) literal.value = new RegExp(literal.regex.pattern, literal.regex.flags);
  } catch {
    // Not a pattern this V8 accepts: the value stays null, as in oxc-parser's own reading.
  }
}

let keys: Record<string, readonly string[]> | undefined;
/** oxc's visitor keys (the child fields of each node type), from the module oxc-parser's entry exports them from. */
export function oxcVisitorKeys(): Record<string, readonly string[]> {
  if (keys !== undefined) return keys;
  let table: unknown;
  try {
    table = (fromOxc()('./generated/visit/keys.js') as { default?: unknown }).default;
  } catch {
    table = undefined;
  }
  const valid = typeof table === 'object' && table !== null && Array.isArray((table as Record<string, unknown>).Program);
  keys = (valid ? table : oxcModule().visitorKeys) as Record<string, readonly string[]>;
  return keys;
}
