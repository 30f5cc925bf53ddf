/**
 * Whether this run repeats the suite on another Node version (scripts/test-matrix.mjs, or the
 * ENCLAVE_TEST_NODES projects of vitest.config.ts). Checks whose answer does not depend on the Node
 * that runs them (the sources' text, the build's output, `tsc` and the lint, native binaries both) run
 * in the first run only: on Node 22 and 24 they were the same work giving the same answer. So do the
 * validated attack rows that have a validate:false twin (rowsForThisRun in helpers.ts).
 */
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    repeatRun: boolean;
  }
}

export const repeatRun: boolean = inject('repeatRun');
