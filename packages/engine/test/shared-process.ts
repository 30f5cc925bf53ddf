/**
 * Set-up of every test file that shares its worker process with others (vitest.config.ts, project
 * `shared`): a file that leaves Node's async context tracking on would send the vm runs of every later
 * file in the process to worker threads (see src/sandbox/async-context.ts), and those files would no
 * longer test what they say. Such a file needs a process of its own.
 */
import { afterAll } from 'vitest';
import { hostTracksAsyncContext } from '../src/sandbox/async-context.js';

afterAll(() => {
  if (hostTracksAsyncContext()) throw new Error('This file left async hooks (an AsyncLocalStorage, a createHook) enabled: list it in OWN_PROCESS in vitest.config.ts.');
});
