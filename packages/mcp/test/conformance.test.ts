/**
 * Code mode as a peer team's black-box suite drives it from the README alone, with the official MCP
 * clients of both eras: the three tools' input schemas as a client lists them and enforces them, a bad
 * argument and every way a script can fail as a tool result with `isError` (never a protocol error), and
 * large and hostile scripts against an engine with its AST layers off, proven harmless by a host-side
 * canary rather than by what the script returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRequest } from '@enclave-kit/engine/node';
import { createMcpHandler } from '../src/index.js';
import { ERAS, serveMcp, textOf, useMcpClient } from './clients.js';

/** What an escape would touch on the host: a function it would call and an object it would change. */
const canary = { called: 0, hostObject: { untouched: true } as Record<string, unknown> };
(globalThis as Record<string, unknown>).mcpHostCanary = () => void canary.called++;

let served: { url: string; close(): Promise<void> };
/** The same server with a roomier deadline, for the large script: checking, rewriting and compiling its 200 KiB took 1.1-1.8 s at a load of 10 (a CI run beside other work), past a 1 s deadline. */
let roomy: { url: string; close(): Promise<void> };

function serveCodeMode(timeout: number): Promise<{ url: string; close(): Promise<void> }> {
  return serveMcp(
    createMcpHandler<{ req: NodeRequest }, string>({
      // The AST layers off: only the realm stands between a script and the host.
      enclave: { timeout, validate: false, transform: false, maxOutputBytes: 64 * 1024 },
      maxBodySize: 512 * 1024,
      logger: { info() {}, error() {} },
      authenticate: ({ request }) => request.headers.get('x-user') ?? undefined,
      tools: ({ user }) => ({
        whoami: async () => user,
        host: async () => canary.hostObject,
      }),
    }),
  );
}

beforeAll(async () => {
  [served, roomy] = await Promise.all([serveCodeMode(1000), serveCodeMode(15_000)]);
});
afterAll(async () => {
  delete (globalThis as Record<string, unknown>).mcpHostCanary;
  await Promise.all([served.close(), roomy.close()]);
});

describe.each(ERAS)('code mode as a peer drives it, %s client', (era) => {
  const peer = useMcpClient(() => served.url, era, { 'x-user': 'peer' });
  const roomyPeer = useMcpClient(() => roomy.url, era, { 'x-user': 'peer' });

  it('tools/list: three tools, each an object schema that names its required arguments and refuses others', async () => {
    const tools = Object.fromEntries((await peer().listTools()).map((t) => [t.name, t]));
    expect(Object.keys(tools).sort()).toEqual(['describe_tools', 'execute', 'search_tools']);
    for (const tool of Object.values(tools)) {
      expect(typeof tool.description).toBe('string');
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    }
    expect(tools.search_tools?.inputSchema).toMatchObject({ required: ['query'], properties: { query: { type: 'string' }, limit: { type: 'integer' } } });
    expect(tools.describe_tools?.inputSchema).toMatchObject({ required: ['names'], properties: { names: { type: 'array', items: { type: 'string' } } } });
    expect(tools.execute?.inputSchema).toMatchObject({ required: ['code'], properties: { code: { type: 'string' } } });
  });

  it('a missing, mistyped or extra argument of each tool is a tool result with isError, naming it; the client can read it', async () => {
    const bad: [string, Record<string, unknown>, RegExp][] = [
      ['execute', {}, /code/],
      ['execute', { code: null }, /code/],
      ['search_tools', {}, /query/],
      ['search_tools', { query: 'x', limit: 'ten' }, /limit/],
      ['search_tools', { query: 'x', limit: 1.5 }, /limit/],
      ['search_tools', { query: 'x', limit: -1 }, /limit/],
      ['describe_tools', {}, /names/],
      ['describe_tools', { names: [1] }, /names/],
    ];
    for (const [name, args, names] of bad) {
      const result = await peer().callTool(name, args);
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(textOf(result)).toMatch(names);
    }
  });

  it('every way a script fails is a tool result with isError and the ExecutionResult as structuredContent', async () => {
    const failing: [string, string][] = [
      ['throw new Error("boom")', 'RUNTIME_ERROR'],
      ['return await callTool("nope")', 'TOOL_ERROR'],
      ['for (;;) {}', 'TIMEOUT'],
      ['return "x".repeat(1 << 20)', 'OUTPUT_LIMIT_EXCEEDED'],
      ['return (', 'VALIDATION_ERROR'],
      ['const f = (n) => f(n + 1); return f(0)', 'RUNTIME_ERROR'],
      // Whichever budget runs out first: the heap, the iterations (each fill of 10,000 elements is charged
      // 10,000) or the 1 s deadline, on a loaded machine.
      ['const a = []; for (let i = 0; i < 1e9; i++) a.push(new Array(1e4).fill(i)); return a.length', 'MEMORY_LIMIT_EXCEEDED|MAX_ITERATIONS|TIMEOUT'],
    ];
    for (const [code, expected] of failing) {
      const result = await peer().callTool('execute', { code });
      expect(result.isError, code).toBe(true);
      expect(result.structuredContent, code).toMatchObject({ success: false, error: { code: expect.stringMatching(new RegExp(`^(${expected})$`)), message: expect.any(String) }, stats: expect.any(Object) });
      expect(textOf(result)).toContain(result.structuredContent.error.code);
    }
    // And the server goes on serving.
    expect((await peer().callTool('execute', { code: 'return await callTool("whoami")' })).structuredContent).toMatchObject({ success: true, value: 'peer' });
  });

  it('hostile scripts reach nothing of the host: constructors, prototypes, the tool result object, Function from strings', async () => {
    const attacks = [
      'return (function(){}).constructor("return globalThis.mcpHostCanary")()()',
      'const F = (async () => {}).constructor; return await F("return globalThis.mcpHostCanary()")()',
      'const h = await callTool("host"); h.untouched = false; h.injected = 1; Object.getPrototypeOf(h).polluted = 1; return h',
      'try { null.x } catch (e) { return e.constructor.constructor("return globalThis.mcpHostCanary()")() }',
      'Object.prototype.polluted = 1; Array.prototype.polluted = 1; return 1',
      'return import("node:fs").then((fs) => fs.readFileSync("/etc/passwd", "utf8"))',
    ];
    for (const code of attacks) {
      const result = await peer().callTool('execute', { code });
      expect(result.content.length, code).toBeGreaterThan(0);
    }
    expect(canary.called).toBe(0);
    expect(canary.hostObject).toEqual({ untouched: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
    // Runs are independent: the prototype a script changed is not the next run's.
    expect((await peer().callTool('execute', { code: 'return ({}).polluted === undefined && [].polluted === undefined' })).structuredContent).toMatchObject({ success: true, value: true });
  });

  it('a large script (about 200 KiB) runs, and what it returns and logs comes back as JSON the client parses; one over the size limit is a VALIDATION_ERROR result', async () => {
    const lines = Array.from({ length: 4500 }, (_, i) => `s += ${i} % 7; // ${'x'.repeat(30)}`);
    const code = `let s = 0;\n${lines.join('\n')}\nconsole.log('done\\n\\u2028line'); return { s, text: 'a\\u0000b\\ud800' };`;
    expect(code.length).toBeGreaterThan(190_000);
    const result = await roomyPeer().callTool('execute', { code });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ success: true, value: { s: lines.reduce((s, _, i) => s + (i % 7), 0) } });
    expect(result.structuredContent.logs?.[0]).toMatchObject({ message: 'done\n\u2028line' });
    const tooLarge = await roomyPeer().callTool('execute', { code: `${code}\n${code}` });
    expect(tooLarge.isError).toBe(true);
    expect(tooLarge.structuredContent).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
  });

  it('execute takes any JSON value as input and returns it as it went in', async () => {
    for (const input of [null, 0, -1.5, '', 'text', false, [], [1, ['two']], {}, { a: { b: [null] } }]) {
      const result = await peer().callTool('execute', { code: 'return input', input });
      expect(result.isError, JSON.stringify(input)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ success: true, value: input });
    }
  });

  it('many calls at once each get their own result', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => peer().callTool('execute', { code: 'return input * 2', input: i })));
    expect(results.map((r) => r.structuredContent.value)).toEqual(Array.from({ length: 12 }, (_, i) => i * 2));
  });
});
