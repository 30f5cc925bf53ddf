import { describe, expect, it } from 'vitest';
import { Abort, runEndReason } from './abort.js';
import { Enclave } from './enclave.js';
import { defineTool } from './tools/define.js';

describe('Abort', () => {
  it('makes a real signal only when read, already aborted if the flag was set before', () => {
    const a = new Abort();
    a.abort('why');
    const signal = a.signal;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe('why');
    expect(a.signal).toBe(signal);
  });

  it('aborts a signal read earlier, and fires each listener once', () => {
    const a = new Abort();
    const signal = a.signal;
    const seen: string[] = [];
    const fn = () => seen.push('x');
    a.listen(fn);
    a.listen(fn);
    const remove = a.listen(() => seen.push('removed'));
    remove();
    a.abort(1);
    a.abort(2);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(1);
    expect(a.reason).toBe(1);
    expect(seen).toEqual(['x', 'x']);
  });

  it('calls a listener added after the abort at once', () => {
    const a = new Abort();
    a.abort(undefined);
    let called = 0;
    a.listen(() => called++);
    expect(called).toBe(1);
  });

  it('gives one frozen reason per outcome, with no host stack', () => {
    const r = runEndReason('TIMEOUT');
    expect(runEndReason('TIMEOUT')).toBe(r);
    expect(Object.isFrozen(r)).toBe(true);
    expect(r.message).toBe('run ended: TIMEOUT');
    expect(r.stack).toBe('run ended: TIMEOUT');
  });
});

describe('ctx.signal of a tool', () => {
  it('is aborted for a tool that reads it only after the run has ended', async () => {
    let late: (() => AbortSignal) | undefined;
    const t = defineTool({
      name: 'later',
      handler: (_a, ctx) => {
        late = () => ctx.signal;
        return 1;
      },
    });
    const enclave = new Enclave({ tools: [t] });
    const r = await enclave.run(`return await callTool('later', {});`);
    expect(r.success).toBe(true);
    const signal = late?.();
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as Error | undefined)?.message).toBe('run ended: completed');
    enclave.dispose();
  });
});
