import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { watchScope } from './scope-watch.js';

/** A scope of its own to change: a plain object holding a fresh context's intrinsics. */
const freshScope = () => vm.runInContext('({ Function, Object, JSON, Array, Promise, Atomics, first: 1, second: 2 })', vm.createContext()) as typeof globalThis & Record<string, unknown>;

describe('watchScope', () => {
  it('answers false while nothing changed, however often it is asked', () => {
    const scope = freshScope();
    const watch = watchScope(scope);
    for (let i = 0; i < 3; i++) expect(watch.changed()).toBe(false);
    // Reading and calling is not changing.
    scope.JSON.parse('[1]');
    expect(scope.Object.keys(scope)).toContain('JSON');
    expect(watch.changed()).toBe(false);
  });

  it.each([
    ['a new global', (s: Record<string, unknown>) => void (s.leak = 1)],
    ['a deleted global', (s: Record<string, unknown>) => void delete s.Atomics],
    ['a name on Object.prototype', (s: typeof globalThis) => void Object.defineProperty(s.Object.prototype, 'polluted', { value: 1 })],
    ['a replaced JSON.parse', (s: typeof globalThis) => void (s.JSON.parse = (t: string) => t)],
    ['a replaced Function.prototype.call', (s: typeof globalThis) => void (s.Function.prototype.call = function () {})],
    ['a replaced Promise.prototype.then', (s: typeof globalThis) => void Reflect.set(s.Promise.prototype, 'then', function () {})],
  ])('notices %s', (_what, change) => {
    const scope = freshScope();
    const watch = watchScope(scope);
    change(scope as never);
    expect(watch.changed()).toBe(true);
  });

  it('does not count a global that moved (deleted and defined again, same value) as a change', () => {
    const scope = freshScope();
    const watch = watchScope(scope);
    delete scope.first;
    scope.first = 1;
    expect(Object.getOwnPropertyNames(scope).slice(-2)).toEqual(['second', 'first']);
    expect(watch.changed()).toBe(false);
  });
});
