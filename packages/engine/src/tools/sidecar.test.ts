import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Enclave, EnclaveConfigError, SIDECAR_DEFAULTS, defineTool } from '../index.js';

const BIG = 'a'.repeat(300_000) + 'THE-END';

describe('sidecar: huge strings stay on the host', () => {
  const sidecar = { extractionThreshold: 1_000, maxReferenceSize: 500_000, maxTotalSize: 1_000_000, maxResolvedSize: 700_000 };
  let received: string | undefined;
  const tools = {
    'doc:fetch': () => ({ title: 'short stays inline', body: BIG }),
    'doc:count': ({ text }: { text: string }) => {
      received = text;
      return text.length;
    },
    'doc:join': ({ parts }: { parts: string[] }) => parts.join('').length,
  };
  const enclave = new Enclave({ sidecar, tools, maxToolResultBytes: 64 * 1024 });

  it('gives the script a small reference instead of the string, even above maxToolResultBytes', async () => {
    const r = await enclave.run(`const doc = await callTool('doc:fetch', {}); return [typeof doc.body, Object.keys(doc.body), doc.body.length, doc.body.preview.length, doc.title];`);
    expect(r.value).toEqual(['object', ['$ref', 'length', 'preview'], BIG.length, 200, 'short stays inline']);
  });

  it('resolves a reference passed to another tool, anywhere in the arguments', async () => {
    received = undefined;
    const r = await enclave.run(`const doc = await callTool('doc:fetch', {}); return await callTool('doc:count', { text: doc.body });`);
    expect(r.value).toBe(BIG.length);
    expect((received as string | undefined)?.endsWith('THE-END')).toBe(true);
    const joined = await enclave.run(`const doc = await callTool('doc:fetch', {}); return await callTool('doc:join', { parts: [doc.body, '!'] });`);
    expect(joined.value).toBe(BIG.length + 1);
    const shared = await enclave.run(`const doc = await callTool('doc:fetch', {}); return await callTool('doc:join', { parts: [doc.body, doc.body] });`);
    expect(shared.value).toBe(2 * BIG.length);
  });

  it('validates the resolved text with the input schema (the tool declares a string)', async () => {
    const count = defineTool({ name: 'count', input: z.object({ text: z.string().max(400_000) }), handler: ({ text }) => text.length });
    const e = new Enclave({ sidecar, tools: { ...tools, count } });
    expect((await e.run(`const d = await callTool('doc:fetch', {}); return await callTool('count', { text: d.body });`)).value).toBe(BIG.length);
  });

  it('resolves references in the returned value', async () => {
    const r = await enclave.run(`const doc = await callTool('doc:fetch', {}); return { body: doc.body };`);
    expect(r.success).toBe(true);
    expect((r.value as { body: string }).body).toBe(BIG);
  });

  it('bounds what references expand to: in arguments and in the result', async () => {
    const twice = await enclave.run(`const d = await callTool('doc:fetch', {}); const e = await callTool('doc:fetch', {}); try { await callTool('doc:join', { parts: [d.body, e.body, d.body] }); } catch (err) { return err.code; }`);
    expect(twice.value).toBe('INVALID_ARGUMENTS');
    const result = await enclave.run(`const d = await callTool('doc:fetch', {}); const e = await callTool('doc:fetch', {}); const f = await callTool('doc:fetch', {}); return [d.body, e.body, f.body];`);
    expect(result.error?.code).toBe('OUTPUT_LIMIT_EXCEEDED');
  });

  it('fails a call over maxReferenceSize or maxTotalSize with RESULT_TOO_LARGE and keeps nothing of it', async () => {
    const small = new Enclave({ sidecar: { ...sidecar, maxReferenceSize: 100_000 }, tools });
    const r = await small.run(`try { await callTool('doc:fetch', {}); } catch (e) { return [e.code, e.message]; }`);
    expect(r.value).toEqual(['RESULT_TOO_LARGE', expect.stringMatching(/more than the 100000 one reference may hold/)]);
    const total = new Enclave({ sidecar: { ...sidecar, maxTotalSize: 700_000 }, tools });
    const t = await total.run(`
      const out = [];
      for (let i = 0; i < 3; i++) { try { await callTool('doc:fetch', {}); out.push('ok'); } catch (e) { out.push(e.code); } }
      return out;`);
    expect(t.value).toEqual(['ok', 'ok', 'RESULT_TOO_LARGE']);
  });

  it('keeps references per run: another run cannot resolve them, and they end with the run', async () => {
    const first = await enclave.run(`const d = await callTool('doc:fetch', {}); return d.body.$ref;`);
    const ref = first.value as string;
    expect(ref).toMatch(/^ref_1_/);
    received = undefined;
    const second = await enclave.run(`return await callTool('doc:count', { text: { $ref: ${JSON.stringify(ref)} } });`);
    // Not resolved: the tool got the object the script built, not the first run's text.
    expect(received).toEqual({ $ref: ref });
    expect(second.success).toBe(true);
  });

  it('is off by default: a huge result is RESULT_TOO_LARGE', async () => {
    const e = new Enclave({ tools, maxToolResultBytes: 64 * 1024 });
    const r = await e.run(`await callTool('doc:fetch', {});`);
    expect(r.error?.data?.toolErrorCode).toBe('RESULT_TOO_LARGE');
  });

  it('takes the level defaults with sidecar: true, and checks its options', async () => {
    const e = new Enclave({ securityLevel: 'STRICT', sidecar: true, tools: { big: () => 'x'.repeat(SIDECAR_DEFAULTS.STRICT.extractionThreshold) } });
    const r = await e.run(`const b = await callTool('big', {}); return b.length;`);
    expect(r.value).toBe(SIDECAR_DEFAULTS.STRICT.extractionThreshold);
    expect(() => new Enclave({ sidecar: { allowComposites: true } as never })).toThrow(/allowComposites is not supported/);
    expect(() => new Enclave({ sidecar: { maxTotalSize: 0 } })).toThrow(EnclaveConfigError);
    expect(() => new Enclave({ sidecar: { extractionThreshold: 10, maxReferenceSize: 5 } })).toThrow(/maxReferenceSize must be at least/);
    expect(() => new Enclave({ sidecar: { treshold: 5 } as never })).toThrow(/unknown option "treshold"/);
  });
});
