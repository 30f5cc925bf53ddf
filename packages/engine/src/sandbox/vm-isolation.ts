/**
 * The `vm` isolation: runs execute in locked realms of this thread. Every realm entry runs under a V8
 * watchdog with the time the run has left (the entry scheduler shares one watchdog among entries that
 * are due together), so script code after an `await` is under the deadline too.
 */
import type { IsolatedJob, IsolatedRun, Isolation, IsolationEvents } from './isolation.js';
import type { RealmPoolOptions } from './realm.js';
import { RealmPool } from './realm.js';
import { RealmRun } from './realm-run.js';

export class VmIsolation implements Isolation {
  readonly kind = 'vm';
  readonly realms: RealmPool;

  constructor(options: RealmPoolOptions) {
    this.realms = new RealmPool(options);
    this.realms.warm();
  }

  run(job: IsolatedJob, events: IsolationEvents): IsolatedRun {
    const run = new RealmRun(job, this.realms, job.deadline, (output) => events.entry(output));
    run.start();
    return run;
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  dispose(): void {
    this.realms.dispose();
  }
}
