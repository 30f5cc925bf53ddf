/**
 * The runtime's own functions print as builtins. A script that holds one (`callTool`, a `console`
 * method, a budgeted `Array.prototype.map`, the realm's `Error.prepareStackTrace`) and calls
 * `Function.prototype.toString` on it would otherwise read the runtime's source: its guards, budgets and
 * the names of its host calls, a map of what to attack (upstream Enclave prints its runtime through
 * `String(callTool)`), and a tell that `fn.toString().includes('[native code]')` checks fail on. Every
 * function the runtime makes that a script can reach is recorded here, and the realm's `toString` shows
 * it as V8 shows a builtin: `function name() { [native code] }`. A script's own functions print their
 * source as always.
 */
import { apply, defineProperty, FunctionPrototype, functionToString, gopd, stringEndsWith, WeakMapCtor, weakMapGet, weakMapSet } from './primordials.js';
import { displace } from './displaced.js';

const NATIVE_TAIL = '{ [native code] }';
/**
 * The functions of the runtime's (and V8's) a script can reach, each with the name to print when its
 * own is empty (`out[k] = function () {}`). Recorded without printing anything: lockdown's walk meets a
 * few thousand functions in every new realm, and only a `toString` call needs the text.
 */
const recorded = new WeakMapCtor<object, string>();

/** The text V8 prints for a builtin of this name. */
function nativeText(fn: object, fallback: string): string {
  const d = gopd(fn, 'name');
  let name = d !== undefined && 'value' in d && typeof d.value === 'string' ? d.value : '';
  if (name === '') name = fallback;
  return `function ${name}() ${NATIVE_TAIL}`;
}

/**
 * Records `fn`, a function the runtime made or one of V8's own that it reached before any script ran,
 * to print as a builtin; `key` is the name to show when the function's own is empty.
 */
export function asBuiltin(fn: unknown, key?: PropertyKey): void {
  if (typeof fn === 'function') apply(weakMapSet, recorded, [fn, typeof key === 'string' ? key : '']);
}

/**
 * Replaces `Function.prototype.toString` with one that shows recorded functions as builtins. Called by
 * lockdown before it turns the key into an accessor and freezes the realm; the wrapper records itself.
 */
export function installFunctionToString(): void {
  const wrapper = gopd(
    {
      toString(this: unknown): string {
        // The intrinsic's text, or its TypeError for a non-function; a proxy of a function is not recorded.
        const text = apply(functionToString, this, []) as string;
        if (typeof this !== 'function') return text;
        const fallback = apply(weakMapGet, recorded, [this]) as string | undefined;
        if (fallback === undefined || (apply(stringEndsWith, text, [NATIVE_TAIL]) as boolean)) return text;
        return nativeText(this, fallback);
      },
    },
    'toString',
  )?.value as () => string;
  asBuiltin(wrapper);
  displace(functionToString);
  defineProperty(FunctionPrototype, 'toString', { value: wrapper, writable: true, enumerable: false, configurable: true });
}
