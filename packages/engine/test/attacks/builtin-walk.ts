/**
 * Every property a locked realm keeps, named after the first path that reaches its owner: the
 * intrinsics no global name reaches come first (named `%...%` as the specification names them), then the
 * global object. Properties whose values are primitives are left out: constants (`Math.PI`) do nothing.
 * The host reads the realm's objects by descriptor, so no code of the realm runs.
 */
import vm from 'node:vm';
import { Realm } from '../../src/sandbox/realm.js';

const HIDDEN = `[
  ['%IteratorPrototype%', Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))],
  ['%AsyncIteratorPrototype%', Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype)],
  ['%ArrayIteratorPrototype%', Object.getPrototypeOf([][Symbol.iterator]())],
  ['%MapIteratorPrototype%', Object.getPrototypeOf(new Map().entries())],
  ['%SetIteratorPrototype%', Object.getPrototypeOf(new Set().values())],
  ['%StringIteratorPrototype%', Object.getPrototypeOf(''[Symbol.iterator]())],
  ['%RegExpStringIteratorPrototype%', Object.getPrototypeOf(''.matchAll(/x/g))],
  ['%GeneratorFunction.prototype%', Object.getPrototypeOf(function* () {})],
  ['%AsyncFunction.prototype%', Object.getPrototypeOf(async function () {})],
  ['%AsyncGeneratorFunction.prototype%', Object.getPrototypeOf(async function* () {})],
  ['%ThrowTypeError%', Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Object), 'caller').get],
  ['%IteratorHelperPrototype%', typeof [].values().map === 'function' ? Object.getPrototypeOf([].values().map((x) => x)) : null],
  ['%WrapForValidIteratorPrototype%', typeof Iterator === 'function' ? Object.getPrototypeOf(Iterator.from({ next() { return { done: true }; } })) : null],
  ['%SegmentsPrototype%', Object.getPrototypeOf(new Intl.Segmenter().segment('a'))],
  ['%SegmentIteratorPrototype%', Object.getPrototypeOf(new Intl.Segmenter().segment('a')[Symbol.iterator]())],
  ['%GlobalObject%', this],
]`;

/** The property paths of a locked realm with Intl and Proxy (PERMISSIVE's realm, the widest), in walk order. */
export function lockedRealmProperties(): string[] {
  const realm = new Realm({ intl: true, proxy: true });
  const roots = new vm.Script(HIDDEN).runInContext(realm.context) as [string, object | null][];
  const named = new Map<object, string>();
  const queue: object[] = [];
  for (const [name, o] of roots) {
    if (o === null || named.has(o)) continue;
    named.set(o, name);
    queue.push(o);
  }
  const out: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const o = queue[i] as object;
    const owner = named.get(o) as string;
    for (const key of Reflect.ownKeys(o)) {
      const d = Reflect.getOwnPropertyDescriptor(o, key) as PropertyDescriptor;
      const name = `${owner}.${typeof key === 'symbol' ? `[${key.description}]` : key}`;
      const values: unknown[] = 'value' in d ? [d.value] : [d.get, d.set];
      let kept = !('value' in d);
      for (const v of values) {
        if (v === null || (typeof v !== 'object' && typeof v !== 'function')) continue;
        kept = true;
        if (!named.has(v)) {
          named.set(v, name);
          queue.push(v);
        }
      }
      if (kept) out.push(name);
    }
    const proto = Reflect.getPrototypeOf(o);
    if (proto !== null && !named.has(proto)) {
      named.set(proto, `${owner}.__proto__`);
      queue.push(proto);
    }
  }
  return out;
}
