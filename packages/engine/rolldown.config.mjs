// The package's JavaScript: one build of every entry from the TypeScript sources (tsc emits only the
// .d.ts files), so each module, and each class an `instanceof` checks, exists once in dist/. The entries
// share four chunks: `runtime`, everything the worker-main entry reaches (the worker loads nothing else,
// and never the parser); `engine`, the rest of what the main entry reaches; `extras`, what only the other
// entries add (the CLI's own modules: a server's cold start loads none of them); and `playground`, the
// page and its assets (about 0.5 MB), which only a request for the page loads. Few files, because
// Node's ESM loader costs about a millisecond per module, which was most of a cold start with ~60
// modules. oxc-parser stays external (it loads a native binding). test/bundle.test.ts checks the result.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const workerMain = path.join(here, 'src/sandbox/worker-main.ts');
const mainIndex = path.join(here, 'src/index.ts');
/** The playground: the handler imports it on the first request for the page, so it is a chunk of its own. */
const playgroundModules = new Set([path.join(here, 'src/http/playground.ts'), path.join(here, 'src/http/playground-assets.generated.js')]);

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
export default {
  input: {
    index: 'src/index.ts',
    http: 'src/http/index.ts',
    node: 'src/node/index.ts',
    isolation: 'src/isolation/index.ts',
    cli: 'src/cli/main.ts',
    'worker-main': 'src/sandbox/worker-main.ts',
  },
  external: ['oxc-parser', /^node:/],
  platform: 'node',
  logLevel: 'warn',
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
            // What only the CLI (or the plumbing entries) load stays out of what `import '@enclave-kit/engine'` loads.
            return workerModules.has(id) ? 'runtime' : mainModules.has(id) ? 'engine' : 'extras';
          },
        },
      ],
    },
  },
};
