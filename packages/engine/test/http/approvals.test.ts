/** The approvals contract (approvals.ts) with two instances on one in-memory session store. */
import { MemorySessionStore } from '../../src/index.js';
import { approvalsContract } from './approvals.js';

let shared: MemorySessionStore | undefined;
approvalsContract('memory store', () => {
  // Both instances of a test share it; the first instance's disposal closes it.
  shared ??= new MemorySessionStore();
  const store = shared;
  return {
    store,
    dispose() {
      if (shared === store) shared = undefined;
    },
  };
});
