/**
 * The check route's answer as the page reads it, and the playground's switch. The routes themselves
 * run against every adapter in contract.ts; the page in a browser in examples/express/test/playground.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Enclave, createEnclaveHandler } from '../../src/index.js';
import type { CheckReport } from '../../src/index.js';
import type { CheckAnswer } from '../../playground/wire.js';

describe('the check route’s answer', () => {
  const enclave = new Enclave();
  afterAll(() => enclave.dispose());

  it('is what the playground page reads: the engine’s CheckReport fits the page’s own declaration', () => {
    const report: CheckReport = enclave.check('return eval("1")');
    const asRead: CheckAnswer = report;
    expect(asRead.issues[0]?.severity).toBe('error');
  });
});

describe('the playground switch', () => {
  const env = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = env;
  });
  const pageStatus = async (options: Parameters<typeof createEnclaveHandler>[0]) => {
    const handler = createEnclaveHandler(options);
    try {
      const accepted = handler.accepts('GET', '/playground');
      const res = await handler(new Request('http://localhost/enclave/playground'), undefined, '/playground');
      await res.body?.cancel();
      return { accepted, status: res.status };
    } finally {
      handler.dispose();
    }
  };

  it('is on by default, off under NODE_ENV=production unless turned on explicitly', async () => {
    process.env.NODE_ENV = 'development';
    expect(await pageStatus({})).toEqual({ accepted: true, status: 200 });
    expect(await pageStatus({ playground: false })).toEqual({ accepted: false, status: 404 });
    process.env.NODE_ENV = 'production';
    expect(await pageStatus({})).toEqual({ accepted: false, status: 404 });
    expect(await pageStatus({ playground: true })).toEqual({ accepted: true, status: 200 });
  });

  it('check: false turns the check route off; bad values are refused at construction', async () => {
    const handler = createEnclaveHandler({ check: false });
    try {
      expect(handler.accepts('POST', '/check')).toBe(false);
      const res = await handler(new Request('http://localhost/enclave/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":"return 1"}' }), undefined, '/check');
      expect(res.status).toBe(404);
    } finally {
      handler.dispose();
    }
    expect(() => createEnclaveHandler({ playground: 'yes' } as never)).toThrow(/playground must be a boolean/);
    expect(() => createEnclaveHandler({ check: 1 } as never)).toThrow(/check must be a boolean/);
  });

  it('a route of `routes` at /playground or /check takes precedence over the built-in one', async () => {
    const handler = createEnclaveHandler({ playground: true, routes: { '/playground': { serve: async () => new Response('mine') } } });
    try {
      expect(await (await handler(new Request('http://localhost/enclave/playground'), undefined, '/playground')).text()).toBe('mine');
    } finally {
      handler.dispose();
    }
  });
});
