// The package's JavaScript: one build of every entry from the TypeScript sources (tsc emits only the
// .d.ts files), so each module, and each class an `instanceof` checks, exists once in dist/. The entries
// share these chunks: `runtime`, everything the worker-main entry reaches (the worker loads nothing else,
// and never the parser); `engine`, the rest of what the main entry reaches; `handler-core`, what serves
// a createEnclaveHandler's requests, which the handler imports when it is created (V8 compiles every
// byte an `import` loads: a process that never serves HTTP compiled its 48 KB for nothing), with `body`,
// the request body reader it shares with the `http` entry (its bounded buffer, shared with the `bytes`
// entry too, is in `engine`); `extras`, what only the other entries add
// (the CLI's own modules: a server's cold start loads none of them); and `playground`, the page and its
// assets (about 0.5 MB), which only a request for the page loads. Few files, because
// Node's ESM loader costs about a millisecond per module, which was most of a cold start with ~60
// modules. oxc-parser stays external (it loads a native binding). test/bundle.test.ts checks the result.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { thirdPartyNotices } from '../../scripts/third-party-notices.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const workerMain = path.join(here, 'src/sandbox/worker-main.ts');
const mainIndex = path.join(here, 'src/index.ts');
/** Imported by createEnclaveHandler (src/http/handler.ts) when it builds a handler. */
const httpCore = path.join(here, 'src/http/handler-core.ts');
/** The playground: the handler's core imports it on the first request for the page, so it is a chunk of its own. */
const playgroundModules = new Set([path.join(here, 'src/http/playground.ts'), path.join(here, 'src/http/playground-assets.generated.js')]);
/**
 * The bounded buffer, which the body reader and the `bytes` entry share: 2 KB in the `engine` chunk,
 * which every importer of either loads already (the HTTP core's chunks, @enclave-kit/mcp and /redis),
 * rather than a file of its own that each of them would load besides.
 */
const boundedBuffer = path.join(here, 'src/bytes/bounded-buffer.ts');

/** The modules the worker's entry reaches through static imports. */
function reachedFrom(entry, ctx) {
  const seen = new Set();
  const pending = [entry];
  while (pending.length > 0) {
    const id = pending.pop();
    if (seen.has(id)) continue;
    seen.add(id);
    pending.push(...(ctx.getModuleInfo(id)?.importedIds ?? []));
  }
  return seen;
}

let workerModules;
let mainModules;
let httpCoreModules;
export default {
  input: {
    index: 'src/index.ts',
    http: 'src/http/index.ts',
    node: 'src/node/index.ts',
    isolation: 'src/isolation/index.ts',
    bytes: 'src/bytes/index.ts',
    cli: 'src/cli/main.ts',
    'worker-main': 'src/sandbox/worker-main.ts',
  },
  external: ['oxc-parser', /^node:/],
  platform: 'node',
  logLevel: 'warn',
  // Records the packages of others bundled here (magic-string and its codec): the build writes their
  // notices to dist/THIRD-PARTY-NOTICES.md (scripts/third-party-notices.mjs), and the chunks that hold
  // them start with a legal comment that says so.
  plugins: [thirdPartyNotices('engine', undefined, { banner: '../THIRD-PARTY-NOTICES.md' })],
  resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
  // Entry files may re-export from the shared chunks (required by the grouping below).
  preserveEntrySignatures: 'allow-extension',
  output: {
    dir: 'dist/bundle',
    format: 'esm',
    // What a cold start reads: V8 parses every byte of what `import` loads, and one character past ASCII
    // (an en dash in a message) makes Node decode the whole file to a two-byte string, which costs several
    // milliseconds more to decode and to scan than the same text in one byte. So escape such characters,
    // and leave the doc comments in the TypeScript sources (the .d.ts files keep them for editors).
    comments: { legal: true, annotation: false, jsdoc: false },
    charset: 'ascii',
    // And without white space, with short local names: V8 pre-parses every function of what `import`
    // loads and parses again each one a run calls, and both scan characters (engine.js 411 -> 275 KB).
    // Function and class names are kept, so stack traces name our functions and `error.name` and
    // `constructor.name` read as before; strings (messages) are untouched, and no statement is rewritten
    // (`compress` off): the same code, spelled shorter. Stack positions are columns of long lines, and
    // private methods (`#name`) are shortened too (no option keeps them); the short local names are most
    // of the gain (white space alone: 345 KB, and about 10 M instructions more on Node 20).
    minify: { compress: false, mangle: { toplevel: true, keepNames: { function: true, class: true } }, codegen: { removeWhitespace: true } },
    entryFileNames: '[name].js',
    chunkFileNames: '[name].js',
    codeSplitting: {
      // A group takes only the modules its name function assigns; the entries stay in their own files.
      includeDependenciesRecursively: false,
      groups: [
        {
          debugName: 'runtime or engine',
          name(id, ctx) {
            if (ctx.getModuleInfo(id)?.isEntry) return null;
            // Outside every group: rolldown gives the dynamic import its own chunk, named after its entry.
            if (playgroundModules.has(id)) return null;
            workerModules ??= reachedFrom(workerMain, ctx);
            mainModules ??= reachedFrom(mainIndex, ctx);
            httpCoreModules ??= reachedFrom(httpCore, ctx);
            // What only the HTTP core, the CLI (or the plumbing entries) load stays out of what `import '@enclave-kit/engine'` loads.
            if (workerModules.has(id)) return 'runtime';
            if (mainModules.has(id) || id === boundedBuffer) return 'engine';
            // Outside every group too: the core's chunk, and the one it shares with the `http` entry.
            return httpCoreModules.has(id) ? null : 'extras';
          },
        },
      ],
    },
  },
};
