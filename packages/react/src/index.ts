/**
 * `@enclave-kit/react`: an enclave session as React state, on top of `@enclave-kit/client`.
 *
 * @example
 * ```tsx
 * import { EnclaveProvider, useEnclaveSession } from '@enclave-kit/react';
 *
 * <EnclaveProvider options={{ url: '/api/enclave' }}><Agent /></EnclaveProvider>;
 *
 * function Agent() {
 *   const { execute, logs, result } = useEnclaveSession();
 *   // execute('console.log("hi"); return 42') -> logs: [{ message: 'hi', ... }], result: { success: true, value: 42 }
 * }
 * ```
 */
export { EnclaveProvider, useEnclaveClient } from './provider.js';
export type { EnclaveProviderProps } from './provider.js';
export { useEnclaveSession } from './use-enclave-session.js';
export type { UseEnclaveSessionOptions, UseEnclaveSessionResult } from './use-enclave-session.js';
export type { EnclaveSessionSnapshot, EnclaveSessionState, SnapshotBounds } from './session-model.js';
