#!/usr/bin/env node
/**
 * `enclave-runtime`: a runtime node as a process. Takes runs from the Redis queue that apps with
 * `redisRuntime({ redis })` fill, and executes them in its own worker pool. It prints one line when it
 * is ready and one when it stops (and, with a secret, how many unsigned messages it dropped); nothing
 * about the runs it executes.
 */
import { parseArgs } from 'node:util';
import { startRuntimeNode } from './runtime/node.js';
import type { RuntimeNodeOptions } from './runtime/node.js';

const USAGE = `Usage: enclave-runtime --redis redis://127.0.0.1:6379 [options]

  --redis <url>          Redis to take runs from (default: $REDIS_URL)
  --concurrency <n>      runs at once, one worker each (default: CPU count)
  --prefix <text>        key prefix, as the apps' redisRuntime({ prefix }) (default: enclave:)
  --max-timeout <ms>     longest run, whatever an app asks (default: 60000)
  --memory-limit <MiB>   V8 heap per worker (default: 256)
  --max-payload <MiB>    largest run or message read (default: 32)
  --max-messages <n>     messages a worker may send per second beyond its answers (default: 1000)
  --heartbeat <ms>       presence interval (default: 1000)
  --help                 this text

ENCLAVE_RUNTIME_SECRET  the secret the apps' redisRuntime({ secret }) has (32 bytes or more; in the
                        environment, never on the command line): runs and messages not signed with
                        it are dropped, and a line says how many

SIGTERM or SIGINT: stop taking runs, let running ones end (up to --max-timeout), exit.`;

function integer(name: string, value: string | undefined, scale = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}".`);
  return n * scale;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string' },
      concurrency: { type: 'string' },
      prefix: { type: 'string' },
      'max-timeout': { type: 'string' },
      'memory-limit': { type: 'string' },
      'max-payload': { type: 'string' },
      heartbeat: { type: 'string' },
      'max-messages': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const redis = values.redis ?? process.env.REDIS_URL;
  if (!redis) throw new Error('--redis (or REDIS_URL) is required.');
  const options: RuntimeNodeOptions = { redis };
  const set = <K extends keyof RuntimeNodeOptions>(key: K, value: RuntimeNodeOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('concurrency', integer('concurrency', values.concurrency));
  set('prefix', values.prefix);
  set('maxTimeoutMs', integer('max-timeout', values['max-timeout']));
  set('memoryLimitPerWorker', integer('memory-limit', values['memory-limit'], 1024 * 1024));
  set('maxPayloadBytes', integer('max-payload', values['max-payload'], 1024 * 1024));
  set('heartbeatMs', integer('heartbeat', values.heartbeat));
  set('maxMessagesPerSecond', integer('max-messages', values['max-messages']));
  set('secret', process.env.ENCLAVE_RUNTIME_SECRET || undefined);
  const node = await startRuntimeNode(options);
  const where = URL.canParse(redis) ? new URL(redis).host : 'Redis';
  console.log(`enclave-runtime: node ${node.id} ready, ${node.stats().concurrency} workers, taking runs from ${where}`);
  // What was dropped unsigned is said in a fixed line (how many), never with what it said.
  let forged = 0;
  const dropped = () => {
    const now = node.stats().forged;
    if (now > forged) console.log(`enclave-runtime: dropped ${now - forged} run(s) or message(s) not signed with ENCLAVE_RUNTIME_SECRET, or replayed`);
    forged = now;
  };
  setInterval(dropped, 10_000).unref();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    dropped();
    console.log(`enclave-runtime: ${signal}, finishing ${node.stats().active} run(s)`);
    void node.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(`enclave-runtime: ${err instanceof Error ? err.message : String(err)}`);
  console.error(USAGE.split('\n')[0]);
  process.exit(2);
});
