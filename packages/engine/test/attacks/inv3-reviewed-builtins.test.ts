/**
 * Invariant 3 across Node versions: each new V8 brings builtins the runtime has not seen, and the three
 * found on Node 24 (DisposableStack, which aborted a vm host; `Symbol.asyncDispose` of async iterators,
 * which crashed a host under --unhandled-rejections=strict) were each a way around the wrappers that the
 * older builtins go through. So a locked realm keeps only what was reviewed: this walks every property
 * it keeps, from the hidden intrinsics and the global object, and compares them with the reviewed list
 * (reviewed-builtins.ts says what to check before adding one).
 */
import { describe, expect, it } from 'vitest';
import { lockedRealmProperties } from './builtin-walk.js';
import { REVIEWED_BUILTINS } from './reviewed-builtins.js';

describe(`invariant 3: a locked realm keeps only reviewed builtins (Node ${process.versions.node})`, () => {
  it('every property of the locked realm, hidden intrinsics included, is on the reviewed list', () => {
    const kept = lockedRealmProperties();
    // Not a vacuous walk: the hidden intrinsics and the globals are both reached.
    expect(kept).toContain('%ArrayIteratorPrototype%.next');
    expect(kept).toContain('%GlobalObject%.JSON.parse');
    expect(kept.length).toBeGreaterThan(500);
    expect(kept.filter((name) => !REVIEWED_BUILTINS.has(name))).toEqual([]);
  });

  it('what lockdown removes is not kept, whichever Node adds it', () => {
    const kept = new Set(lockedRealmProperties());
    for (const name of ['DisposableStack', 'AsyncDisposableStack', 'SharedArrayBuffer', 'Atomics', 'WebAssembly', 'WeakRef', 'FinalizationRegistry', 'ArrayBuffer', 'Float16Array', 'ShadowRealm', 'eval', 'Function']) {
      expect(kept.has(`%GlobalObject%.${name}`), name).toBe(false);
    }
  });
});
