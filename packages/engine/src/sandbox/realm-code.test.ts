/**
 * The realm runtime's compiled code the host hands each worker it starts (WorkerInit.runtimeCode): V8
 * must accept it for the runtime's text under the flags a worker reads it with, or every worker quietly
 * compiles the runtime again (about a fifth of a worker's start).
 */
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { runtimeCodeForWorkers } from './realm.js';
import { REALM_RUNTIME_SOURCE } from './realm-runtime.generated.js';

describe('the realm runtime code handed to workers', () => {
  it.skipIf(Number(process.versions.node.split('.')[0]) >= 24)('is made once, and V8 reads it for the runtime text instead of compiling', () => {
    const code = runtimeCodeForWorkers();
    if (code === undefined) throw new Error('no code made');
    expect(runtimeCodeForWorkers()).toBe(code);
    expect(code.byteLength).toBeGreaterThan(REALM_RUNTIME_SOURCE.length);
    const script = new vm.Script(REALM_RUNTIME_SOURCE, { filename: 'enclave:runtime', cachedData: code });
    expect(script.cachedDataRejected).toBe(false);
  });

  it.runIf(Number(process.versions.node.split('.')[0]) >= 24)('is not made on Node 24, where making it turns off a protector of the host', () => {
    expect(runtimeCodeForWorkers()).toBeUndefined();
  });
});
