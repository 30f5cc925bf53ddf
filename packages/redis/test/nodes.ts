/**
 * Runtime nodes as real processes: the built `enclave-runtime` command (dist/bin.js; the test run's
 * global setup builds it), started on a test's Redis and prefix, stopped or killed with any signal.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { eventually } from './redis.js';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/bin.js');

export interface NodeProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Sends `signal` and waits until the process has exited; its exit code or signal. */
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
}

const started: NodeProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((n) => n.kill('SIGKILL')));
  started.length = 0;
});

/** Starts `enclave-runtime --redis <url> --prefix <prefix> ...args` and resolves once it says it is ready. */
export function startNodeProcess(url: string, prefix: string, args: string[] = [], env: Record<string, string> = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN, '--redis', url, '--prefix', prefix, '--heartbeat', '200', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const node: NodeProcess = {
    get id() {
      return /node (n[0-9a-f]+) ready/.exec(out)?.[1] ?? '';
    },
    child,
    output: () => out,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  started.push(node);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`enclave-runtime did not start within 15 s:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (node.id !== '') {
        clearTimeout(timer);
        resolve(node);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`enclave-runtime exited (${String(code)}) before it was ready:\n${out}`));
    });
  });
}

/** The load a node publishes with its presence (`{ active, concurrency, taken, ... }`), or null once it is gone. */
export async function nodeLoad(client: { get(key: string): Promise<string | null> }, prefix: string, id: string): Promise<Record<string, number> | null> {
  const text = await client.get(`${prefix}{rt}:alive:${id}`);
  return text === null ? null : (JSON.parse(text) as Record<string, number>);
}

/**
 * Once node `id` is busy with the run of the app process `app`, kills the app with SIGKILL and waits
 * (up to `ms`) until the node is idle again: its load then, and how long that took after the kill.
 */
export async function killAppMidRun(client: { get(key: string): Promise<string | null> }, prefix: string, id: string, app: ChildProcess, exited: Promise<unknown>, ms = 10_000): Promise<{ load: Record<string, number>; afterMs: number }> {
  await eventually(async () => ((await nodeLoad(client, prefix, id))?.active === 1 ? undefined : Promise.reject(new Error('not busy'))));
  const killedAt = performance.now();
  app.kill('SIGKILL');
  await exited;
  const load = await eventually(async () => {
    const l = await nodeLoad(client, prefix, id);
    return l !== null && l.active === 0 ? l : Promise.reject(new Error('still busy'));
  }, ms);
  return { load, afterMs: Math.round(performance.now() - killedAt) };
}
