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
import type { CreateEnclaveOptions, ExecutionResult, Issue, SecurityLevel, ToolContext, ToolHandler } from '../../src/index.js';
import { STANDARD_PROGRAMS, js } from './cases.js';
import { ORDERS, USERS, makeRecorder, makeTools } from './fixtures.js';

/** The programs that exercise the runtime run on both isolation adapters. */
const ADAPTERS = [
  { name: 'vm', options: {} },
  { name: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } } },
] as const satisfies readonly { name: string; options: CreateEnclaveOptions }[];

const logsOf = (result: ExecutionResult) => (result.logs ?? []).map((l) => [l.level, l.message]);
const issuesOf = (result: ExecutionResult) => (result.error?.data?.issues ?? []) as Issue[];

function expectSuccess(result: ExecutionResult, value: unknown, toolCalls: number): void {
  expect(result.error).toBeUndefined();
  expect(result.success).toBe(true);
  expect(result.value).toEqual(value);
  expect(result.stats.toolCallCount).toBe(toolCalls);
}

function expectFailure(
  result: ExecutionResult,
  expected: { code: string; name: string; message: string; line?: number; column?: number; toolCalls: number },
): void {
  expect(result.success).toBe(false);
  expect(result.value).toBeUndefined();
  expect(result.error?.code).toBe(expected.code);
  expect(result.error?.name).toBe(expected.name);
  expect(result.error?.message).toBe(expected.message);
  if (expected.line !== undefined) expect(result.error?.location?.line).toBe(expected.line);
  if (expected.column !== undefined) expect(result.error?.location?.column).toBe(expected.column);
  expect(result.stats.toolCallCount).toBe(expected.toolCalls);
}

describe.each(ADAPTERS)('ordinary programs at STANDARD (the default level) [$name]', ({ options }) => {
  const enclave = new Enclave({ ...options, tools: makeTools() });
  afterAll(() => enclave.dispose());

  it('the default level is STANDARD', () => {
    expect(enclave.securityLevel).toBe('STANDARD');
  });

  for (const program of STANDARD_PROGRAMS) {
    const test = program.knownIssue === undefined ? it : it.fails;
    const title = program.knownIssue === undefined ? program.name : `${program.name} [known issue: ${program.knownIssue}]`;
    test(title, async () => {
      const result = await enclave.run(program.code, program.input === undefined ? {} : { input: program.input });
      expectSuccess(result, program.value, program.toolCalls);
      expect(logsOf(result)).toEqual(program.logs ?? []);
    });
  }

  it('object spread copies own enumerable properties', async () => {
    const result = await enclave.run('const a = { x: 1, y: [2] };\nreturn { ...a, z: 3 };');
    expectSuccess(result, { x: 1, y: [2], z: 3 }, 0);
  });
});

describe.each(ADAPTERS)('errors at STANDARD end the run with a code, a message and the user line [$name]', ({ options }) => {
  const enclave = new Enclave({ ...options, tools: makeTools() });
  afterAll(() => enclave.dispose());

  it('throw new Error(...) after a tool call is a RUNTIME_ERROR at the throw line', async () => {
    const result = await enclave.run(js`
const order = await callTool('orders:get', { id: 'o-1005' });
if (order.status === 'cancelled') {
  throw new Error(\`Order \${order.id} was cancelled\`);
}
return order;
`);
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'Order o-1005 was cancelled', line: 3, column: 9, toolCalls: 1 });
  });

  it('a RangeError thrown in a helper passed to map points into the helper', async () => {
    const result = await enclave.run(
      js`
function assertValid(item) {
  if (item.qty <= 0) {
    throw new RangeError(\`Invalid quantity for \${item.sku}: \${item.qty}\`);
  }
  return item;
}
const items = input.items.map(assertValid);
return items.length;
`,
      { input: { items: [{ sku: 'A', qty: 1 }, { sku: 'B', qty: 0 }] } },
    );
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'RangeError', message: 'Invalid quantity for B: 0', line: 3, column: 11, toolCalls: 0 });
  });

  it('reading a property of a missing record is a TypeError at the reading line', async () => {
    const result = await enclave.run(js`
const admins = await callTool('users:list', { role: 'admin' });
const owner = admins.find((u) => u.role === 'owner');
return owner.email;
`);
    expectFailure(result, {
      code: 'RUNTIME_ERROR',
      name: 'TypeError',
      message: "Cannot read properties of undefined (reading 'email')",
      line: 3,
      column: 14,
      toolCalls: 1,
    });
  });

  it('a caught ToolError rethrown as a new Error keeps the new message and line', async () => {
    const result = await enclave.run(js`
let rate;
try {
  rate = await callTool('fx:rate', { from: 'USD', to: 'CHF' });
} catch (err) {
  throw new Error(\`Currency conversion failed: \${err.message}\`, { cause: err });
}
return rate;
`);
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'Currency conversion failed: No rate for USD->CHF', line: 5, column: 9, toolCalls: 1 });
  });

  it('an error thrown after an await inside an async helper under Promise.all', async () => {
    const result = await enclave.run(js`
const checkStock = async (sku) => {
  const { available } = await callTool('inventory:check', { sku });
  if (available === 0) throw new Error(\`\${sku} is out of stock\`);
  return available;
};
const counts = await Promise.all(['KB-01', 'MS-02'].map(checkStock));
return counts;
`);
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'MS-02 is out of stock', line: 3, column: 30, toolCalls: 2 });
  });

  it('JSON.parse of malformed input is a SyntaxError at the parse line', async () => {
    const result = await enclave.run('const config = JSON.parse(input.raw);\nreturn config.retries;', { input: { raw: '{retries: 3}' } });
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe('RUNTIME_ERROR');
    expect(result.error?.name).toBe('SyntaxError');
    // Node 22+ appends "(line 1 column 2)" to this message.
    expect(result.error?.message).toContain("Expected property name or '}' in JSON at position 1");
    expect(result.error?.location?.line).toBe(1);
  });

  it('throwing a plain string is reported as an uncaught value', async () => {
    const result = await enclave.run("if (!input.ok) {\n  throw 'input is not ok';\n}\nreturn 1;", { input: { ok: false } });
    expectFailure(result, { code: 'RUNTIME_ERROR', name: 'Error', message: 'Uncaught "input is not ok"', toolCalls: 0 });
  });

  it('an unhandled ToolError ends the run as TOOL_ERROR with the tool and its code', async () => {
    const result = await enclave.run("const user = await callTool('users:get', { id: 'nobody' });\nreturn user.name;");
    expectFailure(result, { code: 'TOOL_ERROR', name: 'ToolError', message: 'User nobody not found', toolCalls: 1 });
    expect(result.error?.data).toEqual({ toolErrorCode: 'NOT_FOUND', tool: 'users:get', status: 404 });
  });

  it('an unknown tool name gets a did-you-mean suggestion', async () => {
    const result = await enclave.run("const user = await callTool('user:get', { id: 'u1' });\nreturn user;");
    expectFailure(result, { code: 'TOOL_ERROR', name: 'ToolError', message: 'Unknown tool "user:get". Did you mean "users:get"?', toolCalls: 1 });
    expect(result.error?.data).toEqual({ toolErrorCode: 'UNKNOWN_TOOL', tool: 'user:get' });
  });

  it('a host failure inside a tool is redacted when unhandled', async () => {
    const result = await enclave.run("return await callTool('legacy:report', { month: '2024-03' });");
    expectFailure(result, { code: 'TOOL_ERROR', name: 'ToolError', message: 'Tool "legacy:report" failed.', toolCalls: 1 });
    expect(result.error?.data).toEqual({ toolErrorCode: 'TOOL_FAILED', tool: 'legacy:report' });
    const text = JSON.stringify(result);
    for (const secret of ['hunter2', 'ECONNREFUSED', '/srv/app', '10.0.0.7']) expect(text).not.toContain(secret);
  });

  it('a syntax error is a VALIDATION_ERROR at the user line', async () => {
    const result = await enclave.run("const users = await callTool('users:list', {});\nreturn users.map((u) => u.name;");
    expect(result.success).toBe(false);
    expect(result.error?.code).toBe('VALIDATION_ERROR');
    expect(result.error?.location?.line).toBe(2);
    expect(issuesOf(result).map((i) => [i.ruleId, i.line])).toEqual([['syntax', 2]]);
    expect(result.stats.toolCallCount).toBe(0);
  });
});

// Results are JSON data by contract (DESIGN 5.2): what a script returns is what the host's own
// JSON.stringify writes, in the documented forms (README, "Result values").
describe.each(ADAPTERS)('values copied out of the realm at STANDARD [$name]', ({ options }) => {
  const enclave = new Enclave({ ...options, tools: makeTools() });
  afterAll(() => enclave.dispose());

  it('a Date (trailing expression) comes out as its ISO string', async () => {
    const result = await enclave.run(js`
const orders = await callTool('orders:list', { userId: 'u1' });
const latest = orders.map((o) => new Date(o.createdAt)).reduce((a, b) => (b > a ? b : a));
latest
`);
    expectSuccess(result, '2024-03-15T13:00:00.000Z', 1);
  });

  it('a Map comes out as [key, value] pairs in insertion order', async () => {
    const result = await enclave.run(js`
const products = await callTool('products:list', {});
const byCategory = new Map();
for (const p of products) {
  byCategory.set(p.category, [...(byCategory.get(p.category) ?? []), p.sku]);
}
byCategory
`);
    const expected = [
      ['peripherals', ['KB-01', 'MS-02']],
      ['displays', ['MN-27']],
      ['accessories', ['CB-10', 'DK-05']],
      ['audio', ['HS-07']],
    ];
    expectSuccess(result, expected, 1);
    // The pairs are what `new Map(pairs)` takes back.
    expect([...new Map(result.value as [string, string[]][]).keys()]).toEqual(['peripherals', 'displays', 'accessories', 'audio']);
  });

  it('a Set comes out as an array of its values', async () => {
    const result = await enclave.run("const products = await callTool('products:list', {});\nnew Set(products.flatMap((p) => p.tags))");
    expectSuccess(result, ['usb', 'rgb', 'wireless', '4k', 'hdmi', 'ethernet', 'mic'], 1);
  });

  it('BigInt values come out as their decimal digits', async () => {
    const result = await enclave.run(js`
const points = await callTool('metrics:query', { name: 'dau' });
let total = 0n;
for (const p of points) total += BigInt(p.value) * 1000n;
return { total, big: 2n ** 64n, asString: total.toString() };
`);
    expectSuccess(result, { total: '9550000', big: '18446744073709551616', asString: '9550000' }, 1);
    expect(() => JSON.stringify(result)).not.toThrow();
  });

  it('Dates, Maps and Sets nested in a plain object', async () => {
    const result = await enclave.run(js`
const tickets = await callTool('tickets:list', { assignee: 'u2' });
return {
  count: tickets.length,
  opened: tickets.map((t) => new Date(t.createdAt)),
  tags: new Set(tickets.flatMap((t) => t.tags)),
  byStatus: new Map(tickets.map((t) => [t.id, t.status])),
};
`);
    expectSuccess(
      result,
      {
        count: 2,
        opened: ['2024-04-01T08:00:00.000Z', '2024-04-02T10:00:00.000Z'],
        tags: ['auth', 'bug', 'content'],
        byStatus: [
          [101, 'open'],
          [103, 'closed'],
        ],
      },
      1,
    );
    expect(JSON.parse(JSON.stringify(result.value))).toEqual(result.value);
  });

  it('a script without a return value succeeds with undefined (side effect and log kept)', async () => {
    const rec = makeRecorder();
    const result = await enclave.run(
      js`
const t = await callTool('tickets:update', { id: 106, status: 'pending' });
console.log(\`ticket \${t.id} is now \${t.status}\`);
`,
      { tools: makeTools(rec) },
    );
    expectSuccess(result, undefined, 1);
    expect(result.value).toBeUndefined();
    expect(logsOf(result)).toEqual([['log', 'ticket 106 is now pending']]);
    expect(rec.updates).toEqual([{ id: 106, status: 'pending' }]);
  });

  it('undefined is left out of objects and null in arrays, as JSON.stringify writes it', async () => {
    const result = await enclave.run('return { a: 1, b: undefined, list: [undefined, null, NaN, -0] };');
    expectSuccess(result, { a: 1, list: [null, null, null, 0] }, 0);
    expect(Object.keys(result.value as object)).toEqual(['a', 'list']);
  });
});

describe.each(ADAPTERS)('console output is captured into result.logs [$name]', ({ options }) => {
  const enclave = new Enclave({ ...options, tools: makeTools() });
  afterAll(() => enclave.dispose());

  it('levels, several arguments, objects as JSON, numbers and booleans', async () => {
    const result = await enclave.run(js`
console.log('starting');
const users = await callTool('users:list', { active: true });
console.log('active users:', users.length);
console.info('first', { id: users[0].id, tags: ['a'] });
console.warn('inactive skipped', true);
console.error('none failed');
console.debug(null, undefined, 1.5);
return users.length;
`);
    expectSuccess(result, 4, 1);
    expect(logsOf(result)).toEqual([
      ['log', 'starting'],
      ['log', 'active users: 4'],
      ['info', 'first {"id":"u1","tags":["a"]}'],
      ['warn', 'inactive skipped true'],
      ['error', 'none failed'],
      ['debug', 'null undefined 1.5'],
    ]);
  });

  it('logs written before a failure are kept', async () => {
    const result = await enclave.run("console.log('step 1');\nconst t = await callTool('teams:get', { id: 't7' });\nconsole.log('step 2');\nreturn t;");
    expectFailure(result, { code: 'TOOL_ERROR', name: 'ToolError', message: 'Team t7 not found', toolCalls: 1 });
    expect(logsOf(result)).toEqual([['log', 'step 1']]);
  });
});

describe.each(ADAPTERS)('input, globals and tools scoped per instance and per run [$name]', ({ options }) => {
  it('user globals and input drive a tool chain', async () => {
    const enclave = new Enclave({ ...options, tools: makeTools(), globals: { config: { currency: 'EUR', vatRate: 0.19, roundTo: 2 } } });
    try {
      const code = js`
const { currency, vatRate, roundTo } = config;
const order = await callTool('orders:get', { id: input.orderId });
const net = order.items.reduce((s, i) => s + i.qty * i.price, 0);
const fx = await callTool('fx:rate', { from: 'USD', to: currency });
const gross = net * (1 + vatRate) * fx.rate;
return \`\${order.id}: \${gross.toFixed(roundTo)} \${currency}\`;
`;
      expectSuccess(await enclave.run(code, { input: { orderId: 'o-1002' } }), 'o-1002: 545.21 EUR', 2);
      expectSuccess(await enclave.run(code, { input: { orderId: 'o-1007' } }), 'o-1007: 98.52 EUR', 2);
    } finally {
      enclave.dispose();
    }
  });

  it('run globals merge over instance globals for that run only', async () => {
    const enclave = new Enclave({ ...options, globals: { region: 'eu', limits: { maxItems: 5 } } });
    try {
      const code = 'return `${region}:${limits.maxItems}`;';
      expectSuccess(await enclave.run(code, { globals: { region: 'us' } }), 'us:5', 0);
      expectSuccess(await enclave.run(code), 'eu:5', 0);
    } finally {
      enclave.dispose();
    }
  });

  it('changes a script makes to input and globals do not reach the next run', async () => {
    const enclave = new Enclave({ ...options, globals: { settings: { retries: 3, tags: ['a'] } } });
    try {
      const code = 'settings.retries += 1;\nsettings.tags.push(input.tag);\ninput.seen = true;\nreturn [settings.retries, settings.tags.join(","), input.seen];';
      const input = { tag: 'x' };
      expectSuccess(await enclave.run(code, { input }), [4, 'a,x', true], 0);
      expectSuccess(await enclave.run(code, { input }), [4, 'a,x', true], 0);
      expect(input).toEqual({ tag: 'x' });
    } finally {
      enclave.dispose();
    }
  });

  it('per-run tools layer over the instance tools: the same name is replaced, the others stay', async () => {
    const enclave = new Enclave({ ...options, tools: makeTools() });
    try {
      const code = js`
const me = await callTool('users:get', { id: 'u1' });
let orders;
try {
  orders = await callTool('orders:list', { userId: me.id });
} catch (e) {
  orders = e.code;
}
return { me: me.name, orders };
`;
      expectSuccess(await enclave.run(code), { me: 'Ada Lovelace', orders: ORDERS.filter((o) => o.userId === 'u1') }, 2);
      const scoped = { 'users:get': async ({ id }: { id: string }) => ({ id, name: 'Scoped Ada' }) };
      expectSuccess(await enclave.run(code, { tools: scoped }), { me: 'Scoped Ada', orders: ORDERS.filter((o) => o.userId === 'u1') }, 2);
      // A tool only one run brought is gone in the next run.
      const other = js`try { return await callTool('users:extra', {}); } catch (e) { return e.code; }`;
      expectSuccess(await enclave.run(other, { tools: { 'users:extra': async () => 'extra' } }), 'extra', 1);
      expectSuccess(await enclave.run(other), 'UNKNOWN_TOOL', 1);
    } finally {
      enclave.dispose();
    }
  });

  it('a per-run toolHandler sees the user passed as context', async () => {
    const enclave = new Enclave(options);
    const seen: unknown[] = [];
    const toolHandler: ToolHandler = async (name: string, args: { status?: string }, ctx: ToolContext) => {
      const { userId } = ctx.context as { userId: string };
      seen.push([name, ctx.callIndex, userId]);
      switch (name) {
        case 'me':
          return USERS.find((u) => u.id === userId);
        case 'orders:mine':
          return ORDERS.filter((o) => o.userId === userId && (args.status === undefined || o.status === args.status));
        default:
          throw new Error(`no tool ${name}`);
      }
    };
    try {
      const code = js`
const me = await callTool('me', {});
const mine = await callTool('orders:mine', { status: 'paid' });
return { me: me.name, orders: mine.map((o) => o.id) };
`;
      expectSuccess(await enclave.run(code, { toolHandler, context: { userId: 'u1' } }), { me: 'Ada Lovelace', orders: ['o-1001', 'o-1008'] }, 2);
      expectSuccess(await enclave.run(code, { toolHandler, context: { userId: 'u4' } }), { me: 'Linus Torvalds', orders: ['o-1004'] }, 2);
      expect(seen).toEqual([
        ['me', 1, 'u1'],
        ['orders:mine', 2, 'u1'],
        ['me', 1, 'u4'],
        ['orders:mine', 2, 'u4'],
      ]);
    } finally {
      enclave.dispose();
    }
  });

  it('an instance toolHandler serves every tool name', async () => {
    const enclave = new Enclave({ ...options,
      toolHandler: async (name: string, args: { a: number; b: number }) => {
        if (name === 'math:add') return args.a + args.b;
        if (name === 'math:mul') return args.a * args.b;
        throw new Error('unknown');
      },
    });
    try {
      const result = await enclave.run(js`
const sum = await callTool('math:add', { a: 2, b: 3 });
const product = await callTool('math:mul', { a: sum, b: 4 });
return { sum, product };
`);
      expectSuccess(result, { sum: 5, product: 20 }, 2);
    } finally {
      enclave.dispose();
    }
  });

  it('polls a job with do-while until it is done (per-run stateful tool)', async () => {
    const enclave = new Enclave(options);
    let polls = 0;
    const tools = {
      'jobs:status': async ({ id }: { id: string }) => {
        polls++;
        return polls < 3 ? { id, state: 'running' } : { id, state: 'done', result: { rows: 42 } };
      },
    };
    try {
      const result = await enclave.run(
        js`
let attempt = 0;
let status;
do {
  attempt++;
  status = await callTool('jobs:status', { id: input.jobId });
} while (status.state === 'running' && attempt < 5);
return { attempt, state: status.state, result: status.result };
`,
        { tools, input: { jobId: 'job-7' } },
      );
      expectSuccess(result, { attempt: 3, state: 'done', result: { rows: 42 } }, 3);
    } finally {
      enclave.dispose();
    }
  });

  it('tool results feed other tools: e-mail the assignees of urgent and high tickets', async () => {
    const enclave = new Enclave(options);
    const rec = makeRecorder();
    try {
      const result = await enclave.run(
        js`
const tickets = await callTool('tickets:list', { status: 'open' });
const important = tickets.filter((t) => ['urgent', 'high'].includes(t.priority) && t.assignee);
const sent = [];
for (const t of important) {
  const user = await callTool('users:get', { id: t.assignee });
  const receipt = await callTool('email:send', { to: user.email, subject: \`[\${t.priority}] #\${t.id}\`, body: \`Please look at "\${t.title}".\` });
  sent.push({ ticket: t.id, to: user.email, id: receipt.id });
}
return sent;
`,
        { tools: makeTools(rec) },
      );
      expectSuccess(
        result,
        [
          { ticket: 101, to: 'grace@example.com', id: 'msg_1' },
          { ticket: 106, to: 'ada@example.com', id: 'msg_2' },
        ],
        5,
      );
      expect(rec.sent).toEqual([
        { to: 'grace@example.com', subject: '[urgent] #101', body: 'Please look at "Login page returns 500".' },
        { to: 'ada@example.com', subject: '[high] #106', body: 'Please look at "API rate limit too low".' },
      ]);
    } finally {
      enclave.dispose();
    }
  });

  it('tools receive a copy of the arguments, including undefined fields', async () => {
    const enclave = new Enclave(options);
    const rec = makeRecorder();
    try {
      const result = await enclave.run("const page = await callTool('items:list', { cursor: undefined, limit: 2 });\nreturn page.items.map((i) => i.id);", {
        tools: makeTools(rec),
        context: { requestId: 'r-1' },
      });
      expectSuccess(result, ['item-01', 'item-02'], 1);
      expect(rec.calls).toEqual([{ tool: 'items:list', args: { cursor: undefined, limit: 2 }, context: { requestId: 'r-1' } }]);
    } finally {
      enclave.dispose();
    }
  });
});

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
