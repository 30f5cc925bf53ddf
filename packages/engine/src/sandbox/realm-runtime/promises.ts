/**
 * Node reports a realm promise rejected without a handler to the host process, and with
 * --unhandled-rejections=strict it crashes before any listener can intervene. Every promise the realm
 * hands out is therefore marked handled at birth; awaiting or catching it still works.
 */
import { PromiseCtor, apply, promiseReject, promiseThen, reflectDefine, reflectDelete } from './primordials.js';

const noop = () => {};
const UNDEFINED_CONSTRUCTOR = { value: undefined, writable: true, enumerable: false, configurable: true };

/**
 * `then()` looks up `p.constructor[Symbol.species]`, which can be a script's getter (a subclass) or the
 * realm's marking Promise. A temporary own `constructor` of undefined makes it use the intrinsic
 * Promise: no script code runs while marking, and marking never recurses. A promise that is already
 * non-extensible here was made elsewhere and marked when it was made.
 */
export function markHandled<P>(p: P): P {
  try {
    if (reflectDefine(p as object, 'constructor', UNDEFINED_CONSTRUCTOR)) {
      try {
        apply(promiseThen, p, [undefined, noop]);
      } finally {
        reflectDelete(p as object, 'constructor');
      }
    }
  } catch {
    // Not a promise, or not extensible: nothing to mark.
  }
  return p;
}

/** A rejected promise the host never hears about unless the script leaves it unhandled at the end. */
export function rejected(err: unknown): Promise<never> {
  return markHandled(apply(promiseReject, PromiseCtor, [err]) as Promise<never>);
}
