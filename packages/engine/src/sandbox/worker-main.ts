/**
 * The inside of a worker of the `worker_threads` isolation: the same locked realms and the same realm
 * runs as `vm` mode, with two differences. Realm entries have no watchdog of their own, because the
 * host's `worker.terminate()` is the hard halt (a shared flag tells the host whether script code is
 * running); and what each entry produced travels to the host as one message. Nothing here is reachable
 * from a realm: realms are separate contexts, and only the runtime's primitive-only bridge connects
 * them to this module.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { shareCompileState } from './compile.js';
import type { EntryOutput } from './isolation.js';
import { RealmPool, useRuntimeCode } from './realm.js';
import { RealmRun, configureHeap, heapUsed } from './realm-run.js';
import { installRejectionGuard } from './rejections.js';
import { configureEntries } from './scheduler.js';
import { watchScope } from './scope-watch.js';
import type { HostMessage, WorkerInit, WorkerMessage } from './worker-protocol.js';
import { checkMessage, formatMessage, wireEntry } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('worker-main runs only as a worker thread');
const init = workerData as WorkerInit;
const inEntry = new Int32Array(init.flag);
const progress = new BigInt64Array(init.progress);
shareCompileState(init.compiles);

configureEntries({
  watchdog: false,
  onEnter: () => Atomics.store(inEntry, 0, 1),
  onLeave: () => Atomics.store(inEntry, 0, 0),
});
installRejectionGuard();
configureHeap(init.heapCeiling);
useRuntimeCode(init.runtimeCode);

const realms = new RealmPool(init.realms);

const scope = watchScope(globalThis);

const active = new Map<number, RealmRun>();

function send(id: number, { calls, logs, end, nd, iterations }: EntryOutput): void {
  if (end !== null) active.delete(id);
  const wire = wireEntry(calls, end);
  // Garbage a run left behind counts against the next run's heap checks until V8 collects it: a worker
  // whose heap is still half full after a run is replaced instead.
  const message: WorkerMessage = ['entry', id, wire.calls, logs, wire.end, end !== null && scope.changed(), end !== null && heapUsed() > init.heapCeiling / 2];
  if (nd !== undefined || iterations !== undefined) message.push(nd ?? null);
  if (iterations !== undefined) message.push(iterations);
  port?.postMessage(formatMessage(message, wire.tail));
}

function onMessage(text: unknown): void {
  let message: HostMessage;
  let tail: string;
  try {
    const checked = checkMessage(text, init.maxMessageBytes);
    message = checked.message as HostMessage;
    tail = checked.tail;
  } catch {
    return;
  }
  switch (message[0]) {
    case 'run': {
      const [, id, wire] = message;
      const { remaining, input, globals, anchors, prefix, user, ...job } = wire;
      const deadline = performance.now() + remaining;
      const globalsAt = Math.max(input, 0);
      const userAt = globalsAt + Math.max(globals, 0);
      const sourceAt = userAt + (typeof user === 'number' ? user : 0);
      const texts = {
        inputText: input < 0 ? null : tail.slice(0, input),
        globalsText: globals < 0 ? null : tail.slice(globalsAt, userAt),
        source: tail.slice(sourceAt),
      };
      const positions = typeof anchors === 'string' && typeof prefix === 'number' && typeof user === 'number' ? { anchors, prefix, text: tail.slice(userAt, sourceAt) } : undefined;
      const run = new RealmRun({ ...job, ...texts, deadline, positions: positions && (() => positions) }, realms, deadline, (output) => send(id, output), (n) => {
        Atomics.store(progress, 0, BigInt(n));
      });
      active.set(id, run);
      run.start();
      break;
    }
    case 'reply':
      active.get(message[1])?.deliver(message[2], [message[3], tail]);
      break;
    case 'cancel': {
      const run = active.get(message[1]);
      if (run === undefined) break;
      run.stop();
      send(message[1], { calls: [], logs: [], end: { kind: 'stopped' } });
      break;
    }
  }
}

port.on('message', onMessage);
// A realm is built before the first run arrives, so the first run of a warm worker pays nothing extra.
realms.warm();
port.postMessage(JSON.stringify(['ready'] satisfies WorkerMessage));
