/**
 * V8's compiled code of the realm runtime, kept across processes where the host has turned Node's own
 * module compile cache on (`NODE_COMPILE_CACHE=<dir>` or `module.enableCompileCache()`), and nowhere
 * else: a library writes no files on a machine unless asked. Compiling the runtime's functions is most
 * of what a process's first realm costs (about 40 M instructions of 75 M for a bare realm on Node 20; 24
 * M of a cold start through the engine); later realms of a process share the compiled code of the one
 * `vm.Script` anyway. V8 checks the data against its version, its flags and the source's length (the
 * file's name carries a hash of the whole text), and compiles as usual when they do not match. The file
 * is trusted as much as the modules' compiled code Node keeps in the same directory.
 */
import path from 'node:path';
import type vm from 'node:vm';

type Fs = typeof import('node:fs');

/** Where Node's module compile cache is, when it is on (Node 20 and 22.0 read the variable only). */
function compileCacheDir(): string | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const { getCompileCacheDir } = process.getBuiltinModule('node:module') as { getCompileCacheDir?: () => string | undefined };
  if (typeof getCompileCacheDir === 'function') return getCompileCacheDir();
  const dir = process.env.NODE_COMPILE_CACHE;
  return dir ? path.resolve(dir) : undefined;
}

export interface CodeCache {
  /** What a previous process saved, for `new vm.Script(source, { cachedData })`. */
  readonly data: Buffer | undefined;
  /**
   * Saves the script's code once, a turn later: for a script compiled without the data (there was none,
   * or V8 refused it). Called after a run, so that the functions a run needs are compiled (and saved) too.
   */
  saveOnce(script: vm.Script): void;
}

/** The cache of one script, named `name` and identified by `fingerprint` (changes with its source); undefined when off. */
export function codeCache(name: string, fingerprint: string): CodeCache | undefined {
  let found: string | undefined;
  try {
    found = compileCacheDir();
  } catch {
    return undefined;
  }
  if (found === undefined) return undefined;
  const dir = found;
  const fs = process.getBuiltinModule('node:fs') as Fs;
  const file = path.join(dir, `enclave-kit-${name}-${fingerprint}-${process.versions.v8}-${process.arch}.bin`);
  let data: Buffer | undefined;
  try {
    data = fs.readFileSync(file);
  } catch {
    // None yet (or unreadable): compiled as usual, then saved.
  }
  let saved = false;
  return {
    data,
    saveOnce(script) {
      if (saved) return;
      saved = true;
      // A turn later, or when the process exits before then (a command that ends after one run).
      const save = () => {
        process.off('exit', save);
        clearImmediate(later);
        write(fs, dir, file, script);
      };
      const later = setImmediate(save).unref();
      process.once('exit', save);
    },
  };
}

function write(fs: Fs, dir: string, file: string, script: vm.Script): void {
  // Written whole under another name, then renamed: a process reading it sees none or all of it.
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(temp, script.createCachedData());
    fs.renameSync(temp, file);
  } catch {
    // A cache is an optimisation: the next process compiles as this one did.
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // nothing left to do
    }
  }
}
