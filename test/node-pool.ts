import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PoolOptions, PoolRunnerInitializer } from 'vitest/node';
import { ForksPoolWorker } from 'vitest/node';

/**
 * Vitest's forks pool, with the test processes started by another Node binary (`bin/node` of `binDir`),
 * whose folder also comes first on their PATH, so that what the tests start (node, npm, the CLI) runs
 * on it as well. Vitest itself, its transforms and its reporters stay in the Node that started it.
 */
export function forksOn(major: string, binDir: string): PoolRunnerInitializer {
  const name = `forks-node${major}`;
  const execPath = path.join(binDir, 'node');
  class VersionForks extends ForksPoolWorker {
    override readonly name = name;
    override async start(): Promise<void> {
      // Vitest's worker starts its child only when it has none (the field is Vitest's own); started
      // here first, the rest of its start (output piped to Vitest's streams) goes as usual.
      if (Reflect.get(this, '_fork') === undefined) {
        const env = { ...this.env, PATH: `${binDir}${path.delimiter}${this.env.PATH ?? process.env.PATH ?? ''}` };
        Reflect.set(this, '_fork', fork(this.entrypoint, [], { env, execArgv: this.execArgv, execPath, stdio: 'pipe', serialization: 'advanced' }));
      }
      await super.start();
    }
  }
  return { name, createPoolWorker: (options: PoolOptions) => new VersionForks(options) };
}

/** Where scripts/test-matrix.mjs keeps Node `major`'s binary: its bin folder, which must exist. */
export function nodeBinDir(major: string): string {
  const cache = process.env.ENCLAVE_NODE_CACHE ?? path.join(os.homedir(), '.cache', 'enclave-kit', 'node');
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const bin = path.join(cache, major, 'node_modules', `node-${platform}-${process.arch}`, 'bin');
  if (!existsSync(path.join(bin, 'node'))) throw new Error(`Node ${major} is not installed in ${cache}: run node scripts/test-matrix.mjs --install-only --node ${major}`);
  return bin;
}
