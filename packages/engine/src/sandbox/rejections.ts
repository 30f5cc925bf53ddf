/**
 * Node reports unhandled rejections of every realm to the host process, and with the default
 * `--unhandled-rejections=throw` a script's un-awaited failing promise would crash the server. One
 * process-wide listener, installed with the first Enclave, swallows rejections of promises that are not
 * the host's own. A rejection of a host promise is handled as Node would without this listener, as long
 * as no other listener exists: the host's behaviour does not change because an Enclave exists.
 */
import { types } from '../node-types.js';

let installed = false;

function unhandledMode(): string {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  for (const f of flags) {
    const m = /^--unhandled-rejections=(.+)$/.exec(f);
    if (m) return m[1] as string;
  }
  return 'throw';
}

function isHostPromise(promise: unknown): boolean {
  // Walks prototypes by `Object.getPrototypeOf`, which runs no script code on ordinary objects; a realm
  // promise never has the host's `Promise.prototype` on its chain.
  let p: unknown = promise;
  for (let i = 0; i < 64 && p !== null && (typeof p === 'object' || typeof p === 'function'); i++) {
    if (p === Promise.prototype) return true;
    // A proxy's getPrototypeOf trap would run script code on the host stack.
    if (types.isProxy(p)) return false;
    try {
      p = Object.getPrototypeOf(p);
    } catch {
      return false;
    }
  }
  return false;
}

function onUnhandled(reason: unknown, promise: Promise<unknown>): void {
  if (!isHostPromise(promise)) return;
  if (process.listenerCount('unhandledRejection') > 1) return;
  const mode = unhandledMode();
  if (mode === 'none') return;
  if (mode === 'warn' || mode === 'warn-with-error-code') {
    process.emitWarning(`Unhandled promise rejection: ${String(reason)}`, 'UnhandledPromiseRejectionWarning');
    if (mode === 'warn-with-error-code') process.exitCode = 1;
    return;
  }
  // 'throw' (the default) and 'strict': as Node does, the rejection becomes an uncaught exception.
  throw reason instanceof Error ? reason : new Error(`Unhandled promise rejection: ${String(reason)}`);
}

export function installRejectionGuard(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', onUnhandled);
}
