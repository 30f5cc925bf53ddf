/**
 * `checkSyntax` only pre-parses a rewritten script, where a run compiles it eagerly: the two must agree
 * on every early error, message included, wherever the error sits (the body itself, or a function in it,
 * which V8 pre-parses in both forms).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import v8 from 'node:v8';
import { checkAgentScript, prepareAgentScript } from '../pipeline.js';
import { EARLY_ERRORS } from '../../test/early-errors.js';
import vm from 'node:vm';
import { IMPORT_REFUSED, checkSyntax, compileScript, functionsIn, mayImport, mayNamePrivately } from './compile.js';

/** A run's rewritten text with `body` as the user's code: the header and footer the rewriter writes around line 1. */
function rewrittenAround(body: string): string {
  const r = prepareAgentScript('0', { validate: false, transform: false });
  if (!r.ok) throw new Error('the template script was refused');
  const { source } = r.compiled;
  return `${source.slice(0, source.indexOf('\n'))}\n${body}\n${source.slice(source.lastIndexOf('\n') + 1)}`;
}

function errorOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
}

describe('checkSyntax', () => {
  it('refuses what a run’s compile refuses, with the same message, and accepts what it accepts', () => {
    let refused = 0;
    for (const snippet of EARLY_ERRORS) {
      for (const body of [snippet, `const f = () => { ${snippet} };`, `const g = async () => { ${snippet} };`]) {
        const text = rewrittenAround(body);
        const run = errorOf(() => compileScript(text));
        expect(errorOf(() => checkSyntax(text)), body).toBe(run);
        if (run !== null) refused++;
      }
    }
    // Not a vacuous comparison: most of these are errors, and some are not.
    expect(refused).toBeGreaterThan(EARLY_ERRORS.length * 2);
    expect(refused).toBeLessThan(EARLY_ERRORS.length * 3);
  });
});

describe('checkAgentScript leaves the rewriter’s prologue out of V8’s pre-parse', () => {
  /** What a run's compile says of the text `prepareAgentScript` makes, and what `checkAgentScript` says: null when it accepts. */
  function verdicts(body: string, options: Parameters<typeof checkAgentScript>[1]): { run: string | null; check: string | null } | undefined {
    const prepared = prepareAgentScript(body, options);
    // Refused before V8 is asked (the parser or the validator): both refuse alike, not what this compares.
    if (!prepared.ok) return undefined;
    const run = errorOf(() => compileScript(prepared.compiled.source));
    const checked = checkAgentScript(body, options);
    return { run: run === null ? null : run.replace(/^SyntaxError: /, ''), check: checked.ok ? null : (checked.issues[0]?.message.replace(/^Syntax error: /, '') ?? '') };
  }

  it('refuses what a run refuses, with V8’s message, with and without the budget guards', () => {
    let compared = 0;
    let refused = 0;
    for (const snippet of EARLY_ERRORS) {
      for (const body of [snippet, `const f = () => { ${snippet} };`, `const g = async () => { ${snippet} };`]) {
        for (const transform of [true, false]) {
          const v = verdicts(body, { validate: false, transform });
          if (v === undefined) continue;
          expect(v.check, body).toBe(v.run);
          compared++;
          if (v.run !== null) refused++;
        }
      }
    }
    expect(compared).toBeGreaterThan(EARLY_ERRORS.length);
    expect(refused).toBeGreaterThan(0);
  });

  it('still reads the factory’s parameters: a global that no strict parameter may be named is refused as a run refuses it', () => {
    for (const globals of [['eval'], ['arguments'], ['input'], ['__ek_rt'], ['let']]) {
      const v = verdicts('return 1;', { validate: false, globals });
      expect(v?.run, globals[0]).not.toBeNull();
      expect(v?.check, globals[0]).toBe(v?.run);
    }
  });
});

describe('compileScript compiles a text with functions eagerly, out of V8\'s compilation cache, and leaves V8 as it was', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const EAGER = ['--no-lazy --no-compilation-cache', '--lazy --compilation-cache'];
  const UNCACHED = ['--no-compilation-cache', '--compilation-cache'];

  it('turns lazy compilation and the compilation cache off for the compile only, and back on after it, whether or not the text compiles', () => {
    const calls: string[] = [];
    const real = v8.setFlagsFromString.bind(v8);
    vi.spyOn(v8, 'setFlagsFromString').mockImplementation((flags: string) => {
      calls.push(flags);
      real(flags);
    });
    const text = rewrittenAround(`const xs = [1, 2].map((x) => x * 2); return xs; // ${Math.random()}`);
    const script = compileScript(text);
    expect(script).toBeInstanceOf(vm.Script);
    expect(calls).toEqual(EAGER);
    // The cache keeps a text from its second compile on: the third is the cached script, and nothing is
    // compiled, no flag is touched.
    const again = compileScript(text);
    expect(again).not.toBe(script);
    expect(calls).toEqual([...EAGER, ...EAGER]);
    expect(compileScript(text)).toBe(again);
    expect(calls).toEqual([...EAGER, ...EAGER]);
    calls.length = 0;
    expect(() => compileScript(rewrittenAround(`const f = (a) => a; const a = 1; const a = 2; // ${Math.random()}`))).toThrow(SyntaxError);
    expect(calls).toEqual(EAGER);
    // A text with no function of its own is compiled lazily, as V8 would (still out of the cache), and
    // its early errors are V8's as before.
    calls.length = 0;
    expect(compileScript(rewrittenAround(`let s = 0; for (let i = 0; i < 3; i++) s += i; return s; // ${Math.random()}`))).toBeInstanceOf(vm.Script);
    expect(() => compileScript(rewrittenAround(`const a = 1; const a = 2; // ${Math.random()}`))).toThrow(SyntaxError);
    expect(calls).toEqual([...UNCACHED, ...UNCACHED]);
    // Past 64 KiB of text the script is compiled lazily, as V8 would (still out of the cache).
    calls.length = 0;
    const large = rewrittenAround(`const s = '${'x'.repeat(70 * 1024)}'; return [s].map((x) => x.length); // ${Math.random()}`);
    expect(compileScript(large)).toBeInstanceOf(vm.Script);
    expect(calls).toEqual(UNCACHED);
    // checkSyntax's pre-parse too, but on Node 20, whose V8 keeps `vm.compileFunction` out of the cache
    // by itself (unique-scripts-heap.test.ts measures what a check leaves, on every version).
    calls.length = 0;
    checkSyntax(rewrittenAround(`return 1; // ${Math.random()}`));
    expect(calls).toEqual(process.versions.node.startsWith('20.') ? [] : UNCACHED);
  });
});

describe('compileScript refuses text that may call import()', () => {
  // In each of these V8 reads a dynamic import; the realm would get its rejection, a host error.
  const CALLS = [
    "import('x')",
    "import ('x')",
    "import\n('x')",
    "import/* c */('x')",
    "import// c\n('x')",
    "import<!-- c\n('x')",
    "import\n--> c\n('x')",
    "import\u2028('x')",
    "import\u3000('x')",
    "import\ufeff('x')",
    "[...import('x')]",
    "x = 1;import('x')",
    "0 <!--b; /*\nimport('x')\n// */",
    "'import'; import('x')",
    "\u00e9 import('x')",
    // The phase imports (Node 24 compiles `import.source`), in every disguise, and any later phase.
    "import.source('x')",
    "import . source ('x')",
    "import/* c */./* c */source// c\n('x')",
    "import\n.\nsource\n('x')",
    "import.\\u0073ource('x')",
    "import.defer('x')",
    "import.phase('x')",
  ];
  // None of these is a dynamic import (a property, a longer name, no call).
  const NOT_CALLS = ["a.import('x')", "a?.import('x')", "imports('x')", "reimport('x')", "$import('x')", "important('x')", "'import.csv'", "import.meta", "'import'", "x = { import: 1 }",
    "'import. (x)'", "a.import.source('x')"];

  it.each(CALLS)('%j', (body) => {
    expect(mayImport(body)).toBe(true);
    expect(() => compileScript(rewrittenAround(`const p = ${body};`))).toThrow(new SyntaxError(IMPORT_REFUSED));
  });

  it.each(NOT_CALLS)('not %j', (body) => {
    expect(mayImport(body)).toBe(false);
  });

  it('is what keeps a host error out: V8 itself answers import() with one', async () => {
    // The reason Node gives a classic script's import() comes from the host realm: its constructor's
    // constructor is the host's Function. This is what compileScript refuses to compile.
    const context = vm.createContext(vm.constants.DONT_CONTEXTIFY);
    const reason = await (new vm.Script("import('x').then(() => null, (e) => e)").runInContext(context) as Promise<unknown>);
    expect((reason as { constructor: { constructor: unknown } }).constructor.constructor).toBe(Function);
  });

  it('keeps the host error of a phase import out too, on a Node whose V8 compiles one', async () => {
    // Node 24 compiles `import.source(...)` in a classic script (older ones refuse it as a SyntaxError of
    // V8's) and rejects it with a host error: the host's Function, which sets a host global here.
    const canary = `__ek_phase_import_${process.pid}`;
    const body = `import.source('x').then(() => null, (e) => { try { e.constructor.constructor('globalThis.${canary} = 1')(); } catch {} })`;
    const context = vm.createContext(vm.constants.DONT_CONTEXTIFY);
    let script: vm.Script | null = null;
    try {
      script = compileScript(`${body}; // ${Math.random()}`);
    } catch (e) {
      expect((e as Error).name).toBe('SyntaxError');
    }
    if (script !== null) await (script.runInContext(context) as Promise<unknown>);
    // Whatever the text compiled to, the rejection had time to run its handler.
    await new Promise((resolve) => setImmediate(resolve));
    expect((globalThis as Record<string, unknown>)[canary]).toBeUndefined();
    expect(script).toBeNull();
  });
});

describe('functionsIn', () => {
  it('counts the arrows and function keywords of the user part only, up to what is asked', () => {
    // The header line holds the rewriter's own factory, body and counter arrows: none of them counts.
    expect(functionsIn(rewrittenAround('return 1 + 1;'), 10)).toBe(0);
    expect(functionsIn(rewrittenAround('const f = (x) => x; function g() {} return [1].map(function (y) { return y; });'), 10)).toBe(3);
    expect(functionsIn(rewrittenAround('return [1, 2, 3].map((x) => x).filter((x) => x).map((x) => x);'), 2)).toBe(2);
    expect(functionsIn('no line break => function', 10)).toBe(0);
  });
});

describe('mayNamePrivately', () => {
  // Every spelling V8 reads as a private name: these realms are retired after the run.
  it.each(['class A { #x = 1; }', 'class A { #\\u0078() {} }', 'class A { #\u00e9 = 1; }', 'class A { #$ = 1; }', 'class A { static #_ = 1; }', 'class A { get #X() {} }'])('%j', (text) => {
    expect(mayNamePrivately(text)).toBe(true);
  });

  it.each(['const a = 1;', "'#'", "'# title'", "'#1'", 'a // #!'])('not %j', (text) => {
    expect(mayNamePrivately(text)).toBe(false);
  });
});
