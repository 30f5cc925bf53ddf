import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { Enclave, EnclaveConfigError, ToolError, defineTool } from '../index.js';
import type { StandardSchemaV1, ToolContext } from '../index.js';

const getOrderZod = defineTool({
  name: 'orders:get',
  description: 'One order by id.',
  input: z.object({ id: z.number().int(), expand: z.array(z.string()).default([]) }),
  output: z.object({ id: z.number(), total: z.number() }),
  handler: ({ id, expand }) => ({ id, total: 10 * id, expand, secretCost: 3 }),
});

const searchValibot = defineTool({
  name: 'docs:search',
  description: 'Search the docs.',
  input: v.object({ query: v.pipe(v.string(), v.minLength(2)), limit: v.optional(v.number(), 5) }),
  output: v.array(v.object({ title: v.string() })),
  handler: ({ query, limit }) => Array.from({ length: limit }, (_, i) => ({ title: `${query} ${i}`, internalScore: i })),
});

describe('defineTool with Standard Schema validators', () => {
  const enclave = new Enclave({ tools: [getOrderZod, searchValibot] });

  it('validates and transforms arguments (zod defaults) and strips results to the output schema', async () => {
    const r = await enclave.run(`return await callTool('orders:get', { id: 3 });`);
    expect(r.success).toBe(true);
    // `expand` was defaulted by the input schema, `secretCost` stripped by the output schema.
    expect(r.value).toEqual({ id: 3, total: 30 });
  });

  it('works with valibot the same way', async () => {
    const r = await enclave.run(`return await callTool('docs:search', { query: 'vm', limit: 2 });`);
    expect(r.value).toEqual([{ title: 'vm 0' }, { title: 'vm 1' }]);
  });

  it('rejects invalid arguments with a catchable INVALID_ARGUMENTS error naming each path (zod)', async () => {
    const r = await enclave.run(`
      try { await callTool('orders:get', { id: 'seven', expand: [1] }); return 'called'; }
      catch (e) { return { name: e.name, code: e.code, tool: e.tool, message: e.message, issues: e.data.issues }; }`);
    const err = r.value as { name: string; code: string; tool: string; message: string; issues: { path: string; message: string }[] };
    expect(err.name).toBe('ToolError');
    expect(err.code).toBe('INVALID_ARGUMENTS');
    expect(err.tool).toBe('orders:get');
    expect(err.message).toMatch(/^Invalid arguments for "orders:get": id: .*expected number.*; expand\[0\]: .*expected string/i);
    // The expected shape, from the schema's JSON Schema, helps the model fix its call.
    expect(err.message).toMatch(/Expected arguments: \{ id: number; expand\?: string\[\]; \}/);
    expect(err.issues.map((i) => i.path)).toEqual(['id', 'expand[0]']);
  });

  it('rejects invalid arguments with paths (valibot)', async () => {
    const r = await enclave.run(`return await callTool('docs:search', { query: 'x' });`);
    expect(r.success).toBe(false);
    expect(r.error?.code).toBe('TOOL_ERROR');
    expect(r.error?.data).toMatchObject({ toolErrorCode: 'INVALID_ARGUMENTS', tool: 'docs:search', issues: [{ path: 'query' }] });
    expect(r.error?.message).toMatch(/query: Invalid length/);
  });

  it('issue messages that end with a period, or a schema that throws: one period at the end of each sentence', async () => {
    const schema = (validate: () => unknown) => ({ '~standard': { version: 1 as const, vendor: 'test', validate } }) as unknown as StandardSchemaV1;
    const dotted = defineTool({ name: 'dotted', input: schema(() => ({ issues: [{ message: 'Must be a number.', path: ['a'] }, { message: 'Too short.' }] })), handler: () => 1 });
    const throwing = defineTool({ name: 'throwing', input: schema(() => { throw new Error('schema internals'); }), handler: () => 1 });
    const e = new Enclave({ tools: [dotted, throwing] });
    try {
      for (const tool of ['dotted', 'throwing']) {
        const r = await e.run(`return await callTool('${tool}', { a: 1 });`);
        expect(r.error?.message, tool).toMatch(/^Invalid arguments for "\w+": /);
        expect(r.error?.message, tool).not.toMatch(/\.\./);
      }
    } finally {
      e.dispose();
    }
  });

  it('never calls the handler with invalid arguments', async () => {
    let calls = 0;
    const t = defineTool({ name: 't', input: z.object({ n: z.number() }), handler: () => ++calls });
    const r = await new Enclave({ tools: [t] }).run(`try { await callTool('t', { n: '1' }); } catch {} return 1;`);
    expect(r.value).toBe(1);
    expect(calls).toBe(0);
  });

  it('redacts a result that fails the output schema (it describes host data)', async () => {
    const t = defineTool({ name: 't', output: z.object({ ok: z.boolean() }), handler: () => ({ ok: 'password=hunter2' }) as never });
    const r = await new Enclave({ tools: [t] }).run(`return await callTool('t', {});`);
    expect(r.error?.code).toBe('TOOL_ERROR');
    expect(r.error?.data?.toolErrorCode).toBe('INVALID_RESULT');
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });

  it('treats a validator that throws as invalid arguments, without its text', async () => {
    const throwing = { '~standard': { version: 1 as const, vendor: 'x', validate: () => { throw new Error('db=secret'); } } };
    const t = defineTool({ name: 't', input: throwing, handler: () => 1 });
    const r = await new Enclave({ tools: [t] }).run(`return await callTool('t', {});`);
    expect(r.error?.data?.toolErrorCode).toBe('INVALID_ARGUMENTS');
    expect(JSON.stringify(r)).not.toContain('secret');
  });

  it('accepts async validators', async () => {
    const schema = z.object({ n: z.number() }).refine(async (x) => x.n > 0, { message: 'must be positive', path: ['n'] });
    const t = defineTool({ name: 't', input: schema, handler: ({ n }) => n * 2 });
    const e = new Enclave({ tools: [t] });
    expect((await e.run(`return await callTool('t', { n: 2 });`)).value).toBe(4);
    expect((await e.run(`return await callTool('t', { n: -1 });`)).error?.message).toMatch(/n: must be positive/);
  });

  it('types the handler from the schemas (zod and valibot)', () => {
    expectTypeOf(getOrderZod.handler).parameter(0).toEqualTypeOf<{ id: number; expand: string[] }>();
    expectTypeOf(searchValibot.handler).parameter(0).toEqualTypeOf<{ query: string; limit: number }>();
    expectTypeOf(getOrderZod.handler).returns.toEqualTypeOf<{ id: number; total: number } | Promise<{ id: number; total: number }>>();
  });

  it('keeps plain async functions valid tools, mixed with definitions in a record', async () => {
    const e = new Enclave({ tools: { 'orders:get': getOrderZod, echo: async (args: unknown) => args } });
    const r = await e.run(`return [await callTool('echo', { a: 1 }), await callTool('orders:get', { id: 1 })];`);
    expect(r.value).toEqual([{ a: 1 }, { id: 1, total: 10 }]);
  });

  it('rejects malformed definitions eagerly, naming the option', () => {
    expect(() => defineTool({ name: 'x', timeout: 0, handler: () => 1 })).toThrow(EnclaveConfigError);
    expect(() => defineTool({ name: '', handler: () => 1 })).toThrow(/name must be a string of 1 to 256/);
    expect(() => defineTool({ name: 'x', handler: 1 as never })).toThrow(/handler must be a function/);
    expect(() => defineTool({ name: 'x', input: {} as never, handler: () => 1 })).toThrow(/input must be a Standard Schema/);
    expect(() => defineTool({ name: 'x', timeout: 0, handler: () => 1 })).toThrow(/timeout must be a positive integer/);
    expect(() => defineTool({ name: 'x', rateLimit: { limit: 1, windowMs: -1 }, handler: () => 1 })).toThrow(/rateLimit.windowMs/);
    expect(() => defineTool({ name: 'x', handler: () => 1, timout: 5 } as never)).toThrow(/defineTool\("x"\): unknown option "timout"\. Did you mean "timeout"\?/);
    expect(() => defineTool({ name: 'x', rateLimit: { limit: 1, windowMs: 10, keys: () => 'k' }, handler: () => 1 } as never)).toThrow(/rateLimit: unknown option "keys"\. Did you mean "key"\?/);
    expect(() => new Enclave({ tools: { other: getOrderZod } })).toThrow(/tools\["other"\] is the tool "orders:get"/);
    expect(() => new Enclave({ tools: [getOrderZod, getOrderZod] })).toThrow(EnclaveConfigError);
    expect(() => new Enclave({ tools: [async () => 1] as never })).toThrow(/must be a defineTool\(\) definition/);
  });
});

describe('unknown tools and failures', () => {
  it('suggests the closest names for an unknown tool', async () => {
    const e = new Enclave({ tools: [getOrderZod, searchValibot] });
    const r = await e.run(`try { await callTool('orders:gte', { id: 1 }); } catch (e) { return [e.code, e.message]; }`);
    expect(r.value).toEqual(['UNKNOWN_TOOL', 'Unknown tool "orders:gte". Did you mean "orders:get"?']);
    const r2 = await e.run(`await callTool('weather', {});`);
    expect(r2.error?.code).toBe('TOOL_ERROR');
    expect(r2.error?.data).toMatchObject({ toolErrorCode: 'UNKNOWN_TOOL', tool: 'weather' });
    expect(r2.error?.message).toMatch(/Available tools: orders:get, docs:search\./);
  });

  it('redacts a tool error, but carries a public ToolError with its status and data to the script and the result', async () => {
    const e = new Enclave({
      tools: {
        leaky: () => {
          throw new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2');
        },
        forbidden: () => {
          throw new ToolError('You may not read order 7.', { code: 'FORBIDDEN', status: 403, data: { orderId: 7 } });
        },
      },
    });
    const leaky = await e.run(`await callTool('leaky', {});`);
    expect(leaky.error).toMatchObject({ code: 'TOOL_ERROR', message: 'Tool "leaky" failed.', data: { toolErrorCode: 'TOOL_FAILED' } });
    expect(JSON.stringify(leaky)).not.toMatch(/hunter2|10\.0\.0\.5/);
    const caught = await e.run(`try { await callTool('forbidden', {}); } catch (e) { return [e.code, e.data]; }`);
    expect(caught.value).toEqual(['FORBIDDEN', { orderId: 7, status: 403 }]);
    const uncaught = await e.run(`await callTool('forbidden', {});`);
    expect(uncaught.error).toMatchObject({ code: 'TOOL_ERROR', message: 'You may not read order 7.', data: { toolErrorCode: 'FORBIDDEN', tool: 'forbidden', status: 403, orderId: 7 } });
  });

  it('carries the HTTP error status of any error a tool throws (status or statusCode), never its text or a getter', async () => {
    let getterCalls = 0;
    const withGetter = new Error('secret /srv/db');
    Object.defineProperty(withGetter, 'status', {
      get() {
        getterCalls++;
        return 403;
      },
    });
    const e = new Enclave({
      tools: {
        denied: () => {
          throw Object.assign(new Error('user 7 lacks role admin at /srv/app/acl.js'), { status: 403 });
        },
        missing: () => Promise.reject(Object.assign(new Error('GET http://10.0.0.5/orders/9 -> 404'), { statusCode: 404 })),
        ok: () => {
          throw Object.assign(new Error('not an error status'), { status: 200 });
        },
        text: () => {
          throw Object.assign(new Error('status as text'), { status: '403' });
        },
        getter: () => {
          throw withGetter;
        },
      },
    });
    const denied = await e.run(`await callTool('denied', {});`);
    expect(denied.error).toMatchObject({ code: 'TOOL_ERROR', message: 'Tool "denied" failed.', data: { toolErrorCode: 'TOOL_FAILED', tool: 'denied', status: 403 } });
    expect(JSON.stringify(denied)).not.toMatch(/admin|srv|acl/);
    const caught = await e.run(`try { await callTool('missing', {}); } catch (e) { return [e.code, e.message, e.data]; }`);
    expect(caught.value).toEqual(['TOOL_FAILED', 'Tool "missing" failed.', { status: 404 }]);
    for (const name of ['ok', 'text', 'getter']) {
      const r = await e.run(`await callTool('${name}', {});`);
      expect(r.error?.data, name).toEqual({ toolErrorCode: 'TOOL_FAILED', tool: name });
    }
    expect(getterCalls).toBe(0);
  });

  it('reports the data the host sent, not what the script did to err.data', async () => {
    const e = new Enclave({ tools: { f: () => { throw new ToolError('no', { code: 'NOPE', status: 404 }); } } });
    const r = await e.run(`try { await callTool('f', {}); } catch (e) { e.data.status = 200; e.data.extra = 'forged'; throw e; }`);
    expect(r.error?.data).toEqual({ toolErrorCode: 'NOPE', tool: 'f', status: 404 });
  });

  it('never lets public data overwrite the code and tool, and ignores a status that is not an HTTP error', async () => {
    const e = new Enclave({ tools: { f: () => { throw new ToolError('no', { code: 'NOPE', status: 200, data: { toolErrorCode: 'OK', tool: 'other' } }); } } });
    const r = await e.run(`await callTool('f', {});`);
    expect(r.error?.data).toEqual({ toolErrorCode: 'NOPE', tool: 'f' });
  });

  it('drops public data that is not JSON or too large, keeping the status', async () => {
    const big = 'x'.repeat(5000);
    const e = new Enclave({ tools: { f: () => { throw new ToolError('no', { code: 'NOPE', status: 409, data: { big } }); } } });
    const r = await e.run(`await callTool('f', {});`);
    expect(r.error?.data).toEqual({ toolErrorCode: 'NOPE', tool: 'f', status: 409 });
  });
});

describe('ctx', () => {
  it('gives the handler the run id, the call index, the tool name and the per-run context', async () => {
    const seen: ToolContext[] = [];
    const t = defineTool({ name: 'who', handler: (_args, ctx) => { seen.push(ctx); return (ctx.context as { user: string }).user; } });
    const e = new Enclave({ tools: [t] });
    const r = await e.run(`return [await callTool('who', {}), await callTool('who', {})];`, { context: { user: 'ada' } });
    expect(r.value).toEqual(['ada', 'ada']);
    expect(seen.map((c) => c.callIndex)).toEqual([1, 2]);
    expect(seen[0]?.runId).toMatch(/^run_/);
    expect(seen[0]?.runId).toBe(seen[1]?.runId);
    expect(seen[0]?.tool).toBe('who');
    expect(Object.isFrozen(seen[0])).toBe(true);
  });

  it('aborts ctx.signal when the run ends, and a never-settling tool cannot hang the run', async () => {
    let signal: AbortSignal | undefined;
    const t = defineTool({ name: 'hang', handler: (_a, ctx) => { signal = ctx.signal; return new Promise(() => {}); } });
    const enclave = new Enclave({ tools: [t] });
    await enclave.run('1'); // a warm realm: a cold first run on a busy machine may not reach the tool in time
    const r = await enclave.run(`await callTool('hang', {});`, { timeout: 500 });
    expect(r.error?.code).toBe('TIMEOUT');
    expect(signal?.aborted).toBe(true);
  });
});

describe('per-tool timeouts', () => {
  it('fails a slow call with a catchable TOOL_TIMEOUT and aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const slow = defineTool({ name: 'slow', timeout: 30, handler: (_a, ctx) => { signal = ctx.signal; return new Promise(() => {}); } });
    const r = await new Enclave({ tools: [slow] }).run(`try { await callTool('slow', {}); } catch (e) { return [e.code, e.message, e.data.status]; }`);
    expect(r.value).toEqual(['TOOL_TIMEOUT', 'Tool "slow" did not answer within 30 ms.', 504]);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(ToolError);
  });

  it('applies the instance toolTimeout to tools without their own', async () => {
    const e = new Enclave({ toolTimeout: 20, tools: { never: () => new Promise(() => {}) } });
    const r = await e.run(`await callTool('never', {});`);
    expect(r.error?.data?.toolErrorCode).toBe('TOOL_TIMEOUT');
  });

  it('is bounded by the run deadline: a long tool timeout never outlives the run', async () => {
    let signal: AbortSignal | undefined;
    const slow = defineTool({ name: 'slow', timeout: 600_000, handler: (_a, ctx) => { signal = ctx.signal; return new Promise(() => {}); } });
    const enclave = new Enclave({ tools: [slow] });
    // A warm realm and a deadline far above a run's start-up: under load, a cold first run could reach
    // its deadline before it calls the tool at all, and then there is no signal to look at.
    await enclave.run('1');
    const r = await enclave.run(`await callTool('slow', {});`, { timeout: 500 });
    expect(r.error?.code).toBe('TIMEOUT');
    expect(signal?.aborted).toBe(true);
  });

  it('does not swallow a late rejection into an unhandled one', async () => {
    let reject: ((e: Error) => void) | undefined;
    const t = defineTool({ name: 'late', timeout: 10, handler: () => new Promise((_r, rej) => { reject = rej; }) });
    const r = await new Enclave({ tools: [t] }).run(`try { await callTool('late', {}); } catch (e) { return e.code; }`);
    expect(r.value).toBe('TOOL_TIMEOUT');
    const unhandled: unknown[] = [];
    const listener = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', listener);
    reject?.(new Error('late'));
    await new Promise((res) => setTimeout(res, 10));
    process.off('unhandledRejection', listener);
    expect(unhandled).toEqual([]);
  });
});

describe('per-run tools', () => {
  const shared = defineTool({ name: 'time', handler: () => 'noon' });
  const enclave = new Enclave({ tools: [shared, defineTool({ name: 'me', handler: () => 'nobody' })] });
  const userTools = (user: string) => [defineTool({ name: 'me', handler: async () => { await new Promise((r) => setTimeout(r, 5)); return user; } }), defineTool({ name: `secret:${user}`, handler: () => `${user}-secret` })];

  it('layer over the instance tools: same name replaces, other instance tools stay', async () => {
    const r = await enclave.run(`return [await callTool('time', {}), await callTool('me', {})];`, { tools: userTools('ada') });
    expect(r.value).toEqual(['noon', 'ada']);
    expect((await enclave.run(`return await callTool('me', {});`)).value).toBe('nobody');
  });

  it('never leak between concurrent runs', async () => {
    const script = (other: string) => `
      const me = await callTool('me', {});
      let theirs;
      try { theirs = await callTool('secret:${other}', {}); } catch (e) { theirs = e.code; }
      return [me, theirs];`;
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const [self, other] = i % 2 === 0 ? ['ada', 'bob'] : ['bob', 'ada'];
        return enclave.run(script(other as string), { tools: userTools(self as string) }).then((r) => [self, r.value]);
      }),
    );
    for (const [self, value] of runs) expect(value).toEqual([self, 'UNKNOWN_TOOL']);
  });

  it('a run toolHandler serves names the named tools do not have', async () => {
    const r = await enclave.run(`return [await callTool('time', {}), await callTool('anything', { x: 1 })];`, { toolHandler: (name, args) => ({ name, args }) });
    expect(r.value).toEqual(['noon', { name: 'anything', args: { x: 1 } }]);
  });
});
