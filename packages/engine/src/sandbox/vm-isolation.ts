/**
 * The `vm` isolation: runs execute in locked realms of this thread. Every realm entry runs under a V8
 * watchdog with the time the run has left (the entry scheduler shares one watchdog among entries that
 * are due together), so script code after an `await` is under the deadline too.
 *
 * While the host tracks async context (see async-context.ts), a run starts on worker threads instead:
 * `workers` makes that isolation the first time it is needed.
 */
import type { IsolatedJob, IsolatedRun, Isolation, IsolationEvents } from './isolation.js';
import type { RealmPoolOptions } from './realm.js';
import { RealmPool } from './realm.js';
import { hostTracksAsyncContext } from './async-context.js';
import { RealmRun } from './realm-run.js';
import { AsyncResource } from '../node-types.js';

export class VmIsolation implements Isolation {
  readonly kind = 'vm';
  readonly realms: RealmPool;
  readonly #workers: () => Isolation;
  #fallback: Isolation | undefined;
  /** The async context the isolation was made in, where its fallback pool is made (see WorkerPool's). */
  readonly #home = new AsyncResource('enclave.vm');

  constructor(options: RealmPoolOptions, workers: () => Isolation) {
    this.realms = new RealmPool(options);
    this.realms.warm();
    this.#workers = workers;
  }

  run(job: IsolatedJob, events: IsolationEvents): IsolatedRun {
    if (hostTracksAsyncContext()) return this.#onWorkers(job, events);
    const run = new RealmRun(job, this.realms, job.deadline, (output) => events.entry(output));
    run.start();
    return run;
  }

  placement(): 'vm' | 'worker_threads' {
    return hostTracksAsyncContext() ? 'worker_threads' : 'vm';
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  /** Where the run goes while the host tracks async context: never into a realm of this thread. */
  #onWorkers(job: IsolatedJob, events: IsolationEvents): IsolatedRun {
    try {
      this.#fallback ??= this.#home.runInAsyncScope(this.#workers);
      return this.#fallback.run(job, events);
    } catch {
      // After this call returns: the driver holds the run before it hears of its end.
      queueMicrotask(() => events.failed('INTERNAL_ERROR', 'IsolationError', 'The run could not start: the host tracks async context, and no worker thread could take the run.'));
      return { deliver() {}, stop() {} };
    }
  }

  dispose(): void | Promise<void> {
    this.realms.dispose();
    return this.#fallback?.dispose();
  }
}
