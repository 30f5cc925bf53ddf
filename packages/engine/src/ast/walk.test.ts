import { describe, expect, it } from 'vitest';
import type { Node } from './nodes.js';
import { parseAgentScript } from './parse.js';
import type { WalkHandlers } from './walk.js';
import { flatten, walk, walkFlat } from './walk.js';

/** The walk's contract written the plain way, recursively: children of every key in key order, array items in order. */
function referenceWalk(node: Node, parent: Node | null, key: string, h: WalkHandlers): void {
  if (h.enter(node, parent, key, node.type) === false) return;
  for (const k of Object.keys(node)) {
    if (k === 'parent') continue;
    const v = node[k];
    const items = Array.isArray(v) ? v : [v];
    for (const item of items) if (item !== null && typeof item === 'object' && typeof (item as Node).type === 'string') referenceWalk(item as Node, node, k, h);
  }
  h.leave?.(node, parent, key, node.type);
}

const SCRIPTS = [
  `const users = await callTool('users:list', { limit: 20 });
const byUser = users.reduce((acc, o) => { acc[o.userId] = (acc[o.userId] || 0) + o.total; return acc; }, {});
return Object.entries(byUser).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([id, total]) => ({ id: Number(id), total }));`,
  `outer: for (let i = 0, j = 10; i < j; i++) { switch (i % 3) { case 0: continue outer; default: break; } }
class A extends Object { static #n = 1; get x() { return this?.y ?? \`t\${1}\${[...[1, 2]]}\`; } static { A.#n++; } }
const { a, b: [c, , d = 1, ...e], ...f } = { a: 1, b: [1, 2, 3, 4, 5] };
try { throw new Error('x'); } catch ({ message }) { label: { break label; } } finally { void 0; }
async function* g(p = 1, ...q) { yield* [await p, ...q]; }
for await (const v of g()) if (v) x = v; else y = /re[g]/gi.test(\`\${v}\`) ? 1n : tag\`s\${v}\`;
return new.target, typeof a, delete f.a, a ||= b &&= c ??= d;`,
  'return 1',
];

type Event = [string, Node, Node | null, string, string];

/** The calls a walk makes, with `enter` returning false (skip the children) on nodes `skip` picks. */
function record(run: (h: WalkHandlers) => void, skip: (n: Node) => boolean): Event[] {
  const events: Event[] = [];
  run({
    enter(node, parent, key, type) {
      events.push(['enter', node, parent, key, type]);
      return skip(node) ? false : undefined;
    },
    leave(node, parent, key, type) {
      events.push(['leave', node, parent, key, type]);
    },
  });
  return events;
}

describe('walk, and walkFlat over flatten: the calls the plain recursive walk makes', () => {
  it('enters and leaves every node with the same parent and key, in the same order', () => {
    for (const code of SCRIPTS) {
      const parsed = parseAgentScript(code);
      expect(parsed.syntaxErrors).toEqual([]);
      const tree = flatten(parsed.main);
      const expected = record((h) => referenceWalk(parsed.main, null, '', h), () => false);
      expect(expected.length).toBe(2 * tree.nodes.length);
      expect(record((h) => walkFlat(tree, h), () => false)).toEqual(expected);
      expect(record((h) => walk(parsed.main, h), () => false)).toEqual(expected);
    }
  });

  it('skips the children of a node whose enter returns false, and its leave', () => {
    const parsed = parseAgentScript(SCRIPTS[1] as string);
    const tree = flatten(parsed.main);
    const types = [...new Set(tree.nodes.map((n) => n.type))];
    for (const type of types) {
      const skip = (n: Node) => n.type === type;
      const expected = record((h) => referenceWalk(parsed.main, null, '', h), skip);
      expect(record((h) => walkFlat(tree, h), skip)).toEqual(expected);
      expect(record((h) => walk(parsed.main, h), skip)).toEqual(expected);
    }
    // A skip at the root visits the root alone.
    expect(record((h) => walkFlat(tree, h), () => true)).toEqual([['enter', parsed.main, null, '', parsed.main.type]]);
  });

  it('handles nesting thousands of levels deep without the call stack', () => {
    // Built by hand: the pre-scan keeps a script this deep away from the parser.
    const depth = 20_000;
    let root: Node = { type: 'Literal', start: 0, end: 1, value: 1 };
    for (let i = 0; i < depth; i++) root = { type: 'ArrayExpression', start: 0, end: 1, elements: [root, null] };
    const tree = flatten(root);
    expect(tree.nodes.length).toBe(depth + 1);
    let entered = 0;
    let left = 0;
    walkFlat(tree, { enter: () => void entered++, leave: () => void left++ });
    expect([entered, left]).toEqual([depth + 1, depth + 1]);
  });
});
