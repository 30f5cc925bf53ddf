/**
 * The inside of a worker of the `worker_threads` adapter: the same locked realms and the same run driver
 * as `vm` mode, with two differences. Realm entries have no watchdog of their own, because the host's
 * `worker.terminate()` is the hard halt (a shared flag tells the host whether script code is running);
 * and tool calls travel to the host as messages. Nothing here is reachable from a realm: realms are
 * separate contexts, and only the bootstrap's primitive-only bridge connects them to this module.
 */
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { TRANSFORM_FILENAME } from '../transform/filename.js';
import { failure } from '../result.js';
import { LruCache } from '../source.js';
import type { ToolCallRequest, ToolReply } from '../tools/invoke.js';
import type { ExecutionResult } from '../types.js';
import { RealmPool } from './realm.js';
import { installRejectionGuard } from './rejections.js';
import type { RunPlan } from './runner.js';
import { RunController } from './runner.js';
import { configureEntries } from './scheduler.js';
import type { HostMessage, WireRunPlan, WorkerInit, WorkerMessage } from './worker-protocol.js';
import { checkMessage } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-main runs only as a worker thread');
const init = workerData as WorkerInit;
const inEntry = new Int32Array(init.flag);

configureEntries({
  watchdog: false,
  onEnter: () => Atomics.store(inEntry, 0, 1),
  onLeave: () => Atomics.store(inEntry, 0, 0),
});
installRejectionGuard();

const realms = new RealmPool({ maxIdle: 4, prewarm: 1, maxRunsPerRealm: 1000, intl: init.intl, proxy: init.proxy });
const scripts = new LruCache<string, vm.Script>(200);

function send(message: WorkerMessage): void {
  port?.postMessage(JSON.stringify(message));
}

/** The worker's own globals and a few intrinsics, to notice afterwards if a run reached this scope. */
function fingerprint(): unknown[] {
  return [
    Object.getOwnPropertyNames(globalThis).sort().join(','),
    Object.getOwnPropertyNames(Object.prototype).sort().join(','),
    Function.prototype.call,
    Object.prototype.hasOwnProperty,
    JSON.parse,
    Array.prototype.push,
    Promise.prototype.then,
  ];
}
const pristine = fingerprint();

function tampered(): boolean {
  return fingerprint().some((part, i) => part !== pristine[i]);
}

interface Active {
  controller: RunController;
  pending: Map<number, (reply: ToolReply) => void>;
}
const active = new Map<number, Active>();

function compile(key: string, source: string): vm.Script {
  let script = scripts.get(key);
  if (!script) {
    script = new vm.Script(source, { filename: TRANSFORM_FILENAME, lineOffset: -1 });
    scripts.set(key, script);
  }
  return script;
}

async function run(id: number, key: string, source: string, wire: WireRunPlan): Promise<void> {
  const pending = new Map<number, (reply: ToolReply) => void>();
  let result: ExecutionResult;
  try {
    const plan: RunPlan = {
      runId: wire.runId,
      script: compile(key, source),
      scriptKey: key,
      // Positions stay in the rewritten script's coordinates: the host maps them to the user's source.
      mapPosition: (line, column) => ({ line, column }),
      globalNames: wire.globalNames,
      functionNames: wire.functionNames,
      inputText: wire.inputText,
      globalsText: wire.globalsText,
      limits: wire.limits,
      // The host's start, in this thread's clock (late by the message's transit: the host's own
      // deadline timer is the one that counts).
      startedAt: performance.now() - wire.elapsed,
      rawValue: true,
      invokeTool: (call: ToolCallRequest) =>
        new Promise<ToolReply>((resolve) => {
          pending.set(call.callIndex, resolve);
          send(['call', id, call.callIndex, call.name, call.argsText]);
        }),
    };
    const controller = new RunController(plan, realms.acquire(), realms);
    active.set(id, { controller, pending });
    result = await controller.start();
  } catch {
    result = failure('INTERNAL_ERROR', 'InternalError', 'The sandbox failed unexpectedly.');
  }
  active.delete(id);
  send(['done', id, result, tampered()]);
}

function onMessage(text: unknown): void {
  let message: HostMessage;
  try {
    message = checkMessage(text, init.maxMessageBytes) as HostMessage;
  } catch {
    return;
  }
  switch (message[0]) {
    case 'run':
      void run(message[1], message[2], message[3], message[4]);
      break;
    case 'reply': {
      const pending = active.get(message[1])?.pending;
      const resolve = pending?.get(message[2]);
      if (resolve) {
        pending?.delete(message[2]);
        resolve([message[3], message[4]]);
      }
      break;
    }
    case 'cancel':
      active.get(message[1])?.controller.abort('The run was cancelled by the host.');
      break;
  }
}

port.on('message', onMessage);
// A realm is built before the first run arrives, so the first run of a warm worker pays nothing extra.
realms.warm();
send(['ready']);
