import { describe, expect, it } from 'vitest';
import { treeFacts } from './facts.js';
import type { Node } from './nodes.js';
import { parseAgentScript } from './parse.js';

const parse = (code: string) => {
  const parsed = parseAgentScript(code);
  expect(parsed.syntaxErrors).toEqual([]);
  return parsed;
};

/** The nodes of one type under `root`, in source order. */
function nodesOf(root: Node, type: string): Node[] {
  const out: Node[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object') {
      if ((v as Node).type === type) out.push(v as Node);
      for (const k of Object.keys(v)) if (k !== 'parent') visit((v as Record<string, unknown>)[k]);
    }
  };
  visit(root);
  return out;
}

describe('tree facts: one walk for the validator and the rewriter', () => {
  it('hoists var names to their function (not to blocks), and keeps the root scope apart', () => {
    const parsed = parse('var a = 1;\nif (a) { var b = 2; }\nfunction f() { for (var i = 0; i < 2; i++) { var { c, d: [e] } = {}; } let notVar = 1; }\nreturn a;');
    const facts = treeFacts(parsed);
    // Order within a scope is not part of the contract (a set of names, for lookups).
    expect([...(facts.varNames.get(facts.root) ?? [])].sort()).toEqual(['a', 'b']);
    const [fn] = nodesOf(facts.root, 'FunctionDeclaration');
    expect([...(facts.varNames.get(fn as Node) ?? [])].sort()).toEqual(['c', 'e', 'i']);
  });

  it('weighs loops with their nested loops and functions without their nested functions', () => {
    const parsed = parse('for (const x of xs) { a.push(x); for (const y of ys) { b.push([y]); } }\nconst g = () => { m.set(1, {}); const h = () => n.set(2, 3); };');
    const facts = treeFacts(parsed);
    const [outer, inner] = nodesOf(facts.root, 'ForOfStatement');
    // outer: a.push(x), and the inner loop's b.push([y]) (a call and an array); inner: those two only.
    expect(facts.weights.get(outer as Node)).toBe(3);
    expect(facts.weights.get(inner as Node)).toBe(2);
    const [g, h] = nodesOf(facts.root, 'ArrowFunctionExpression');
    // g: m.set(1, {}) is a call and an object; h is a function of its own, weighed apart.
    expect(facts.weights.get(g as Node)).toBe(2);
    expect(facts.weights.get(h as Node)).toBe(1);
  });

  it('is gathered once per parse: the validator and the rewriter get the same facts', () => {
    const parsed = parse('let s = 0;\nfor (let i = 0; i < 3; i++) s += i;\nreturn s;');
    expect(treeFacts(parsed)).toBe(treeFacts(parsed));
  });
});
