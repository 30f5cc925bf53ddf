import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toStandardJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Enclave, EnclaveConfigError, LEVEL_CONFIGS, SECURITY_LEVELS, defineTool, describeDialect } from '../index.js';
import type { Dialect } from '../index.js';
import { typeFromJsonSchema } from './typescript.js';

const getOrder = defineTool({
  name: 'orders:get',
  description: 'One order of the current user, by id.',
  input: z.object({ id: z.number().int().describe('Order id') }),
  output: z.object({ id: z.number(), status: z.enum(['open', 'paid', 'shipped']), total: z.number() }),
  handler: ({ id }) => ({ id, status: 'open' as const, total: 1 }),
});
const refund = defineTool({
  name: 'orders:refund',
  description: 'Refund an order, fully or in part.',
  input: toStandardJsonSchema(v.object({ id: v.number(), amount: v.optional(v.number()), reason: v.string() })),
  sideEffect: true,
  rateLimit: { limit: 5, windowMs: 60_000 },
  timeout: 5_000,
  handler: () => ({ ok: true }),
});
const noJson = defineTool({ name: 'notes:add', input: v.object({ text: v.string() }), handler: () => 1 });

describe('enclave.describe()', () => {
  const enclave = new Enclave({ tools: [getOrder, refund, noJson], securityLevel: 'SECURE' });

  it('lists every tool with its description and the JSON Schema the library exports', () => {
    const d = enclave.describe();
    expect(d.securityLevel).toBe('SECURE');
    expect(d.tools.map((t) => t.name)).toEqual(['notes:add', 'orders:get', 'orders:refund']);
    const [notes, get, ref] = d.tools;
    expect(get?.description).toBe('One order of the current user, by id.');
    expect(get?.inputSchema).toMatchObject({ type: 'object', properties: { id: { type: 'integer', description: 'Order id' } }, required: ['id'] });
    expect(get?.outputSchema).toMatchObject({ properties: { status: { enum: ['open', 'paid', 'shipped'] } } });
    expect(ref).toMatchObject({ sideEffect: true, rateLimit: { limit: 5, windowMs: 60_000 }, timeout: 5_000, inputSchema: { required: ['id', 'reason'] } });
    // Plain valibot has no JSON Schema export: the schema is omitted with a note, validation still applies.
    expect(notes?.inputSchema).toBeUndefined();
    expect(notes?.notes?.[0]).toMatch(/\(valibot\) has no JSON Schema export; arguments are still validated/);
  });

  it('is JSON (what an adapter serves on GET)', () => {
    const d = enclave.describe();
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('layers the given tools over the instance tools, like run()', () => {
    const d = enclave.describe({ 'orders:get': async () => 1, 'time:now': async () => Date.now() });
    expect(d.tools.map((t) => t.name)).toEqual(['notes:add', 'orders:get', 'orders:refund', 'time:now']);
    expect(d.tools[1]).toEqual({
      name: 'orders:get',
      notes: ['No input schema: arguments are not validated.'],
      declaration: 'declare function callTool(name: "orders:get", args: Record<string, unknown>): Promise<unknown>;',
    });
    expect(enclave.describe().tools[1]?.description).toBeDefined();
    expect(() => enclave.describe({ bad: 1 } as never)).toThrow(/must be a function or a defineTool/);
  });

  it('declares callTool overloads that type-check real scripts and reject wrong calls', () => {
    const d = enclave.describe();
    // Each tool carries its own overload: together they are `declarations` (before `input` and the globals).
    expect(d.declarations.startsWith(d.tools.map((t) => t.declaration).join('\n\n'))).toBe(true);
    expect(d.tools[2]?.declaration).toMatch(/^\/\*\*\n \* Refund an order[\s\S]*declare function callTool\(name: "orders:refund", args: \{/);
    expect(d.declarations).toContain('declare function callTool(name: "orders:get", args: {');
    expect(d.declarations).toContain('/** Order id */');
    expect(d.declarations).toContain('status: "open" | "paid" | "shipped";');
    expect(d.declarations).toContain('Side effect: changes state outside the script');
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    const dir = mkdtempSync(path.join(tmpdir(), 'ek-describe-'));
    try {
      const good = `${d.declarations}\nexport {};\nconst o = await callTool('orders:get', { id: 1 });\nconst s: 'open' | 'paid' | 'shipped' = o.status;\nawait callTool('orders:refund', { id: 1, reason: 'late' });\nvoid s;\n`;
      const bad = `${d.declarations}\nexport {};\nawait callTool('orders:get', { id: 'x' });\n`;
      writeFileSync(path.join(dir, 'good.ts'), good);
      writeFileSync(path.join(dir, 'bad.ts'), bad);
      const tsc = path.join(root, 'node_modules/.bin/tsc');
      const args = (file: string) => ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--lib', 'es2022', '--types', '', path.join(dir, file)];
      const check = (file: string) => {
        try {
          execFileSync(tsc, args(file), { stdio: 'pipe', cwd: dir });
          return '';
        } catch (e) {
          return String((e as { stdout?: Buffer }).stdout ?? e);
        }
      };
      expect(check('good.ts')).toBe('');
      expect(check('bad.ts')).toMatch(/bad\.ts\(\d+,\d+\): error TS\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('declares the open-ended overload when a toolHandler serves other names, and the globals', () => {
    const e = new Enclave({ toolHandler: () => 1, globals: { config: { a: 1 }, fmt: (x: unknown) => String(x) }, allowFunctionsInGlobals: true });
    const d = e.describe();
    expect(d.openToolNames).toBe(true);
    expect(d.declarations).toContain('declare function callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;');
    expect(d.declarations).toContain('declare const config: unknown;');
    expect(d.declarations).toContain('declare function fmt(...args: unknown[]): Promise<unknown>;');
    expect(d.dialect).toMatch(/Globals: .*`config`, `fmt`/);
  });

  it('puts the dialect, the tools and the declarations in one prompt', () => {
    const d = enclave.describe();
    expect(d.prompt.startsWith(d.dialect)).toBe(true);
    expect(d.prompt).toContain('- `orders:refund`: Refund an order, fully or in part. (side effect)');
    expect(d.prompt).toContain(d.declarations);
  });

  it('speaks of the limits in force and of the sidecar when it is on', () => {
    const d = new Enclave({ timeout: 1234, maxToolCalls: 7, sidecar: { extractionThreshold: 5000 } }).describe();
    expect(d.dialect).toContain('Deadline: 1,234 ms');
    expect(d.dialect).toContain('- 7 tool calls;');
    expect(d.dialect).toContain('Strings of 5,000 characters or more in tool results arrive as references');
    expect(d.limits.timeout).toBe(1234);
    expect(new Enclave().describe().dialect).not.toContain('$ref');
  });
});

describe('describeDialect(level)', () => {
  const section = (text: string, title: string) => {
    const start = text.indexOf(`## ${title}`);
    const end = text.indexOf('\n## ', start + 1);
    return text.slice(start, end === -1 ? undefined : end);
  };

  it.each(SECURITY_LEVELS)('%s: each dialect switch is listed as allowed or not allowed, as LEVEL_CONFIGS says', (level) => {
    const text = describeDialect(level);
    const dialect = LEVEL_CONFIGS[level].dialect;
    const allowed = section(text, 'Allowed at this level');
    const denied = section(text, 'Not allowed');
    const probes: Partial<Record<keyof Dialect, string>> = {
      whileLoops: '`while` and `do ... while` loops',
      forIn: '`for (const key in obj)` loops',
      classes: '`class` declarations',
      regexLiterals: 'egular expression literals',
      throwStatements: '`throw` statements',
      generators: 'enerator functions',
    };
    for (const [key, probe] of Object.entries(probes) as [keyof Dialect, string][]) {
      expect(allowed.includes(probe), `${level} ${key} in allowed`).toBe(Boolean(dialect[key]));
      expect(denied.includes(probe), `${level} ${key} in not allowed`).toBe(!dialect[key]);
    }
    for (const g of dialect.globals.filter((n) => !['undefined', 'NaN', 'Infinity'].includes(n))) expect(allowed).toContain(`\`${g}\``);
    const limits = LEVEL_CONFIGS[level].limits;
    expect(text).toContain(`Deadline: ${limits.timeout.toLocaleString('en-US')} ms`);
    expect(text).toContain(`${limits.maxToolCalls.toLocaleString('en-US')} tool calls`);
    expect(text.includes('must be a string literal')).toBe(!dialect.functionDeclarations);
  });

  it.each(SECURITY_LEVELS)('%s: the committed docs/dialect text is what the code generates', async (level) => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
    await expect(`${describeDialect(level)}\n`).toMatchFileSnapshot(path.join(root, 'docs/dialect', `${level}.md`));
  });

  it('differs between levels and rejects an unknown level', () => {
    expect(new Set(SECURITY_LEVELS.map((l) => describeDialect(l))).size).toBe(4);
    expect(() => describeDialect('LOOSE' as never)).toThrow(EnclaveConfigError);
    expect(() => describeDialect('LOOSE' as never)).toThrow(/unknown security level/);
  });
});

describe('typeFromJsonSchema', () => {
  const one = (schema: Record<string, unknown>) => typeFromJsonSchema(schema, { comments: false });

  it('renders objects, optionals, arrays, tuples, unions, enums and literals', () => {
    expect(one({ type: 'object', properties: { a: { type: 'string' }, 'b-c': { type: 'integer' } }, required: ['a'] })).toBe('{ a: string; "b-c"?: number; }');
    expect(one({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'null' }] } })).toBe('(string | null)[]');
    expect(one({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false })).toBe('[string, number]');
    expect(one({ enum: ['a', 1, null] })).toBe('"a" | 1 | null');
    expect(one({ const: 'x' })).toBe('"x"');
    expect(one({ type: ['string', 'null'] })).toBe('string | null');
    expect(one({ type: 'object', additionalProperties: { type: 'number' } })).toBe('{ [key: string]: number; }');
    expect(one({ type: 'object' })).toBe('Record<string, unknown>');
    expect(one({ allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { type: 'object', properties: { b: { type: 'number' } } }] })).toBe('{ a: string; } & { b?: number; }');
    expect(one({})).toBe('unknown');
  });

  it('follows local $refs and stops at recursion', () => {
    const schema = { $ref: '#/$defs/Node', $defs: { Node: { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } }, required: ['name'] } } };
    expect(one(schema)).toBe('{ name: string; children?: unknown[]; }');
    expect(one({ $ref: 'https://example.com/schema' })).toBe('unknown');
  });

  it('keeps descriptions from closing the comment early', () => {
    const text = typeFromJsonSchema({ type: 'object', properties: { a: { type: 'string', description: 'evil */ declare const x: 1; /*' } } }, { comments: true });
    expect(text).toContain('/** evil * / declare const x: 1; /* */');
  });
});
