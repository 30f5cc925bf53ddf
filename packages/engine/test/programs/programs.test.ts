/**
 * The ordinary-programs suite: programs an LLM agent writes every day must run, at the default level,
 * with exactly the result plain JavaScript gives. Every expected value below was also checked against
 * the same program run as a plain async function in Node.
 *
 * A program the engine currently gets wrong keeps its correct expectation and runs as `it.fails`, with
 * the cause in `knownIssue`; when the engine is fixed the test starts failing: drop the marker then.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { SecurityLevel } from '../../src/index.js';
import { js } from './cases.js';
import { makeTools } from './fixtures.js';
import { describeProgramSuites, expectFailure, expectSuccess, issuesOf } from './suites.js';
import type { ProgramAdapter } from './suites.js';

/** The programs that exercise the runtime run on both isolation adapters (and, in @enclave-kit/redis, on runtime nodes). */
const ADAPTERS: readonly ProgramAdapter[] = [
  { name: 'vm', options: {} },
  { name: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } } },
];

describeProgramSuites(ADAPTERS);

describe('refused by the STANDARD dialect by design (clear rule id and hint)', () => {
  const enclave = new Enclave({ tools: makeTools() });
  afterAll(() => enclave.dispose());

  const cases: { name: string; code: string; ruleId: string; line: number; column: number; hint: string }[] = [
    { name: 'a class', code: 'class Cart {}\nreturn 1;', ruleId: 'no-class', line: 1, column: 1, hint: 'plain objects' },
    {
      name: 'a timer for back-off between retries',
      code: "await new Promise((r) => setTimeout(r, 100));\nreturn await callTool('teams:get', { id: 't1' });",
      ruleId: 'no-blocked-identifier',
      line: 1,
      column: 26,
      hint: 'Timers are not available',
    },
    { name: 'a generator', code: 'function* ids() { yield 1; }\nreturn [...ids()];', ruleId: 'no-generator', line: 1, column: 1, hint: '' },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const result = await enclave.run(c.code);
      expect(result.success).toBe(false);
      expect(result.error?.code).toBe('VALIDATION_ERROR');
      expect(result.error?.location).toEqual({ line: c.line, column: c.column });
      const [first] = issuesOf(result);
      expect(first).toMatchObject({ ruleId: c.ruleId, line: c.line, column: c.column });
      expect(first?.hint).toContain(c.hint);
      expect(result.error?.message).toContain(`[${c.ruleId}]`);
      expect(result.stats.toolCallCount).toBe(0);
    });
  }

  it('accepts function expressions, object methods and structuredClone, which LLMs write routinely', async () => {
    const result = await enclave.run(
      "const nums = [3, 1, 2].sort(function (a, b) { return a - b; });\nconst fmt = { money(x) { return '$' + x.toFixed(2); } };\nconst team = await callTool('teams:get', { id: 't1' });\nconst copy = structuredClone(team);\ncopy.name = 'changed';\nreturn [nums, fmt.money(3), copy.name !== team.name];",
    );
    expect(result).toMatchObject({ success: true, value: [[1, 2, 3], '$3.00', true] });
  });

  it('a dictionary key "constructor" is refused at run time with a hint to use a Map', async () => {
    const result = await enclave.run(
      "const counts = {};\nfor (const w of input.text.split(' ')) {\n  counts[w] = (counts[w] || 0) + 1;\n}\nreturn counts;",
      { input: { text: 'call the constructor' } },
    );
    expectFailure(result, {
      code: 'RUNTIME_ERROR',
      name: 'TypeError',
      message: 'Access to the property "constructor" is not allowed in AgentScript. Use a Map for arbitrary keys.',
      line: 3,
      toolCalls: 0,
    });
  });
});

// ---- the seed dialect: STRICT and SECURE ----------------------------------------------------------

const SEED_PROGRAMS: { name: string; code: string; value: unknown; toolCalls: number }[] = [
  {
    name: 'const/let, if/else, for-of, filter/map on a tool result',
    code: js`
const users = await callTool('users:list', { active: true });
const admins = users.filter((u) => u.role === 'admin');
const names = users.map((u) => u.name.toUpperCase());
let withTeam = 0;
for (const u of users) {
  if (u.teamId) {
    withTeam = withTeam + 1;
  } else {
    withTeam = withTeam + 0;
  }
}
return { count: users.length, admins: admins.length, names, withTeam };
`,
    value: { count: 4, admins: 1, names: ['ADA LOVELACE', 'GRACE HOPPER', 'LINUS TORVALDS', 'BARBARA LISKOV'], withTeam: 3 },
    toolCalls: 1,
  },
  {
    name: 'bounded for loop, nested ternary, reduce, Math and JSON',
    code: js`
const points = await callTool('metrics:query', { name: 'errors' });
const labels = [];
for (let i = 0; i < points.length; i++) {
  const p = points[i];
  labels.push(p.value > 10 ? 'high' : p.value > 5 ? 'medium' : 'low');
}
const avg = Math.round(points.reduce((s, p) => s + p.value, 0) / points.length);
return JSON.stringify({ labels, avg });
`,
    value: '{"labels":["high","medium","high","medium","low","high","low"],"avg":12}',
    toolCalls: 1,
  },
  {
    name: 'Object, Array, String, Number and Date',
    code: js`
const order = await callTool('orders:get', { id: 'o-1006' });
const created = new Date(order.createdAt);
const keys = Object.keys(order).sort();
const total = Number(order.items.reduce((s, i) => s + i.qty * i.price, 0).toFixed(2));
const label = String(order.id).replace('o-', 'ORDER#');
return { keys, total, label, month: created.getUTCMonth() + 1, isArray: Array.isArray(order.items), paid: Boolean(order.status === 'paid') };
`,
    value: { keys: ['createdAt', 'id', 'items', 'status', 'userId'], total: 144.4, label: 'ORDER#1006', month: 3, isArray: true, paid: true },
    toolCalls: 1,
  },
  {
    name: 'a conditional second tool call with a literal name',
    code: js`
const ticket = await callTool('tickets:get', { id: 106 });
let owner = 'unassigned';
if (ticket.assignee) {
  const user = await callTool('users:get', { id: ticket.assignee });
  owner = user.name;
}
const isBug = ticket.tags.indexOf('bug') >= 0;
return \`\${ticket.title} / \${owner} / \${isBug ? 'bug' : 'other'}\`;
`,
    value: 'API rate limit too low / Ada Lovelace / other',
    toolCalls: 2,
  },
  {
    name: 'try/catch fallback around a missing product',
    code: js`
let product;
try {
  product = await callTool('products:get', { sku: 'NOPE' });
} catch (e) {
  product = { name: 'fallback', code: e.code };
}
return product;
`,
    value: { name: 'fallback', code: 'NOT_FOUND' },
    toolCalls: 1,
  },
  {
    name: 'sequential lookups in a bounded for-of, entries and fromEntries',
    code: js`
const skus = ['KB-01', 'MS-02', 'HS-07'];
const rows = [];
for (const sku of skus) {
  const stock = await callTool('inventory:check', { sku });
  rows.push([sku, stock.available]);
}
const bySku = Object.fromEntries(rows);
const empty = Object.entries(bySku).filter(([, n]) => n === 0).map(([sku]) => sku);
return { bySku, empty, anyLeft: rows.some(([, n]) => n > 0), all: rows.every(([, n]) => n >= 0) };
`,
    value: { bySku: { 'KB-01': 12, 'MS-02': 0, 'HS-07': 7 }, empty: ['MS-02'], anyLeft: true, all: true },
    toolCalls: 3,
  },
];

for (const level of ['STRICT', 'SECURE'] as const satisfies readonly SecurityLevel[]) {
  describe(`seed-dialect programs succeed at ${level}`, () => {
    const enclave = new Enclave({ securityLevel: level, tools: makeTools() });
    afterAll(() => enclave.dispose());

    for (const program of SEED_PROGRAMS) {
      it(program.name, async () => {
        expectSuccess(await enclave.run(program.code), program.value, program.toolCalls);
      });
    }
  });
}

describe('SECURE adds number parsing and throw', () => {
  const enclave = new Enclave({ securityLevel: 'SECURE', tools: makeTools() });
  afterAll(() => enclave.dispose());

  it('parseInt, isNaN and encodeURIComponent', async () => {
    const result = await enclave.run("const qty = parseInt(input.qty, 10);\nreturn { qty, bad: isNaN(parseInt('x', 10)), q: encodeURIComponent(input.q) };", {
      input: { qty: '12 pcs', q: 'a&b' },
    });
    expectSuccess(result, { qty: 12, bad: true, q: 'a%26b' }, 0);
  });

  it('throwing a string ends the run as RUNTIME_ERROR', async () => {
    const result = await enclave.run("const qty = parseInt(input.qty, 10);\nif (isNaN(qty)) {\n  throw 'qty must be a number';\n}\nreturn qty;", {
      input: { qty: 'many' },
    });
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'Uncaught "qty must be a number"', toolCalls: 0 });
  });

  // SECURE allows `throw` but not the `Error` global, so the way everybody throws is refused.
  it('throw new Error(...) at SECURE', async () => {
    const result = await enclave.run("const t = await callTool('tickets:get', { id: 101 });\nif (t.status === 'open') {\n  throw new Error('still open');\n}\nreturn t.id;");
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'still open', line: 3, column: 9, toolCalls: 1 });
  });
});

describe('STANDARD-only features are refused at STRICT with rule ids and locations', () => {
  const enclave = new Enclave({ securityLevel: 'STRICT', tools: makeTools() });
  afterAll(() => enclave.dispose());

  const cases: { feature: string; code: string; issues: [string, number, number][] }[] = [
    { feature: 'while loop', code: 'let i = 0;\nwhile (i < 3) {\n  i++;\n}\nreturn i;', issues: [['no-while', 2, 1]] },
    { feature: 'for-in loop', code: 'const keys = [];\nfor (const k in input) {\n  keys.push(k);\n}\nreturn keys;', issues: [['no-for-in', 2, 1]] },
    {
      feature: 'helper function declaration',
      code: "const users = await callTool('users:list', {});\nfunction names(list) {\n  return list.map((u) => u.name);\n}\nreturn names(users);",
      issues: [['no-function-declaration', 2, 1]],
    },
    {
      feature: 'async arrow helper',
      code: "const load = async (id) => callTool('users:get', { id });\nreturn (await load('u1')).name;",
      issues: [['no-async-function', 1, 14]],
    },
    {
      feature: 'regex literal (refused by the pre-scan)',
      code: "const doc = await callTool('documents:get', { id: 'd3' });\nreturn doc.body.match(/v\\d+/)[0];",
      issues: [['prescan/regex-blocked', 2, 23]],
    },
    {
      feature: 'Promise.all (no Promise global)',
      code: "const ids = ['u1', 'u2'];\nconst users = await Promise.all(ids.map((id) => callTool('users:get', { id })));\nreturn users.length;",
      issues: [['unknown-global', 2, 21]],
    },
    { feature: 'Map and Set', code: 'const seen = new Set([1, 2]);\nconst m = new Map();\nreturn seen.size + m.size;', issues: [['unknown-global', 1, 18], ['unknown-global', 2, 15]] },
    { feature: 'console', code: "const users = await callTool('users:list', {});\nconsole.log(users.length);\nreturn users.length;", issues: [['unknown-global', 2, 1]] },
    {
      feature: 'throw new Error',
      code: "const t = await callTool('tickets:get', { id: 101 });\nif (t.status === 'open') {\n  throw new Error('still open');\n}\nreturn t;",
      issues: [['no-throw', 3, 3], ['unknown-global', 3, 13]],
    },
    {
      feature: 'tool name computed at run time',
      code: "const kind = 'users';\nconst list = await callTool(kind + ':list', {});\nreturn list.length;",
      issues: [['static-tool-name', 2, 29]],
    },
    { feature: 'BigInt literal', code: 'const total = 10n;\nreturn total;', issues: [['no-bigint', 1, 15]] },
    {
      feature: 'labeled break',
      code: 'let found = -1;\nouter: for (const row of [[1, 2], [3, 4]]) {\n  for (const x of row) {\n    if (x === 3) {\n      found = x;\n      break outer;\n    }\n  }\n}\nreturn found;',
      issues: [['no-label', 2, 1]],
    },
  ];

  for (const c of cases) {
    it(c.feature, async () => {
      const result = await enclave.run(c.code);
      expect(result.success).toBe(false);
      expect(result.error?.code).toBe('VALIDATION_ERROR');
      expect(result.error?.name).toBe('ValidationError');
      expect(issuesOf(result).map((i) => [i.ruleId, i.line, i.column])).toEqual(c.issues);
      const [ruleId, line, column] = c.issues[0] as [string, number, number];
      expect(result.error?.location).toEqual({ line, column });
      expect(result.error?.message).toContain(`line ${line}:${column} [${ruleId}]`);
      expect(result.stats.toolCallCount).toBe(0);
    });
  }

  it('the same program runs at STANDARD', async () => {
    const standard = new Enclave({ tools: makeTools() });
    try {
      const code = "const ids = ['u1', 'u2'];\nconst users = await Promise.all(ids.map((id) => callTool('users:get', { id })));\nreturn users.length;";
      expectSuccess(await standard.run(code), 2, 2);
    } finally {
      standard.dispose();
    }
  });
});
