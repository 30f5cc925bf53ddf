/**
 * Durable runs in the engine (`run(code, { durable })`): a call of a tool with `needsApproval` pauses
 * the run, holding no realm or worker; `durable.resume` runs the script again against its journal, so
 * no completed tool runs twice, recorded `Date.now()` / `Math.random()` values come back, and a script
 * that takes another path ends as REPLAY_DIVERGED without running anything further. The same in both
 * isolations. Tools count their own calls: "ran once" is the host's count, never the script's word.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { Enclave, ToolError, defineTool } from '../src/index.js';
import type { CreateEnclaveOptions, EnclaveEvent, ExecutionResult, PausedRun, RunJournal } from '../src/index.js';

const ISOLATIONS: { name: string; options: CreateEnclaveOptions }[] = [
  { name: 'vm', options: {} },
  { name: 'worker_threads', options: { adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 2 } } },
];

const enclaves: Enclave[] = [];
afterAll(() => enclaves.forEach((e) => e.dispose()));
afterEach(() => {
  vi.useRealTimers();
});
const make = (options: CreateEnclaveOptions) => {
  const e = new Enclave(options);
  enclaves.push(e);
  return e;
};

/** Orders tools that count every call the host actually ran. */
function orderTools(options: { slowGetMs?: number } = {}) {
  const ran = { list: 0, get: 0, refund: 0 };
  const refunded: unknown[] = [];
  const tools = [
    defineTool({ name: 'orders:list', handler: async () => (ran.list++, [{ id: 'o1', total: 120 }, { id: 'o3', total: 80 }]) }),
    defineTool({
      name: 'orders:get',
      handler: async ({ id }: { id: string }) => {
        ran.get++;
        if (options.slowGetMs) await new Promise((r) => setTimeout(r, options.slowGetMs));
        return { id, total: id === 'o1' ? 120 : 80, status: 'paid' };
      },
    }),
    defineTool({
      name: 'orders:refund',
      sideEffect: true,
      needsApproval: true,
      handler: async (args: { id: string; amount: number }) => {
        ran.refund++;
        refunded.push(args);
        return { refunded: args.amount };
      },
    }),
  ];
  return { tools, ran, refunded };
}

const REFUND = `const orders = await callTool('orders:list', {});
const order = await callTool('orders:get', { id: orders[0].id });
console.log('before refund');
const r = await callTool('orders:refund', { id: order.id, amount: order.total });
console.log('refunded', r.refunded);
return r.refunded;`;

function pausedOf(result: ExecutionResult): PausedRun {
  expect(result).toMatchObject({ success: false, error: { code: 'APPROVAL_REQUIRED' } });
  if (result.success || result.paused === undefined) throw new Error('not paused');
  return result.paused;
}

/** The journal as a store gives it back: JSON text, parsed again. */
const throughStore = (journal: RunJournal): unknown => JSON.parse(JSON.stringify(journal));

describe.each(ISOLATIONS)('durable runs [$name]', ({ options }) => {
  it('pauses at the call that needs approval, and on approval replays the reads, runs the refund once and goes on live', async () => {
    const enclave = make(options);
    const { tools, ran, refunded } = orderTools();
    const first: EnclaveEvent[] = [];
    const paused = pausedOf(await enclave.run(REFUND, { tools, durable: true, onEvent: (e) => void first.push(e) }));
    expect(paused.approval).toEqual({ callId: 3, tool: 'orders:refund', args: { id: 'o1', amount: 120 } });
    expect(ran).toEqual({ list: 1, get: 1, refund: 0 });
    expect(first.map((e) => e.type)).toEqual(['session_init', 'tool_call', 'tool_result', 'tool_call', 'tool_result', 'log', 'tool_call', 'approval_required']);
    expect(first.at(-1)?.payload).toEqual({ callId: 3, tool: 'orders:refund', args: { id: 'o1', amount: 120 } });
    // Nothing is held while it waits: no run in flight, no busy worker.
    expect(enclave.stats().activeRuns).toBe(0);
    if (options.adapter === 'worker_threads') await expect.poll(() => enclave.stats().workers?.busyWorkers).toBe(0);

    const second: EnclaveEvent[] = [];
    const resumed = await enclave.run(REFUND, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } }, onEvent: (e) => void second.push(e) });
    expect(resumed).toMatchObject({ success: true, value: 120 });
    expect(ran).toEqual({ list: 1, get: 1, refund: 1 });
    expect(refunded).toEqual([{ id: 'o1', amount: 120 }]);
    // The log before the pause is in the result again, not in the events again.
    expect(resumed.logs?.map((l) => l.message)).toEqual(['before refund', 'refunded 120']);
    expect(second.map((e) => e.type)).toEqual(['session_init', 'tool_call', 'tool_result', 'log', 'final']);
    expect(second[1]?.payload).toMatchObject({ callId: 3, tool: 'orders:refund' });
  });

  it('denied: the call rejects in the script with a catchable APPROVAL_DENIED carrying the reason, and the tool never runs', async () => {
    const enclave = make(options);
    const { tools, ran } = orderTools();
    const code = `const o = await callTool('orders:get', { id: 'o3' });
try { await callTool('orders:refund', { id: o.id, amount: o.total }); return 'refunded'; }
catch (e) { return { code: e.code, message: e.message, name: e.name }; }`;
    const paused = pausedOf(await enclave.run(code, { tools, durable: true }));
    const denied = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: false, reason: 'Over the refund limit.' } } } });
    expect(denied).toMatchObject({ success: true, value: { code: 'APPROVAL_DENIED', message: 'Over the refund limit.', name: 'ToolError' } });
    expect(ran).toEqual({ list: 0, get: 1, refund: 0 });
    // Uncaught, the denial is the run's TOOL_ERROR with the call's status.
    const bare = `const o = await callTool('orders:get', { id: 'o3' }); return callTool('orders:refund', { id: o.id, amount: o.total });`;
    const p2 = pausedOf(await enclave.run(bare, { tools, durable: true }));
    const r2 = await enclave.run(bare, { tools, durable: { resume: { journal: throughStore(p2.journal), decision: { approved: false } } } });
    expect(r2).toMatchObject({ success: false, error: { code: 'TOOL_ERROR', data: { toolErrorCode: 'APPROVAL_DENIED', status: 403 } } });
    expect(ran.refund).toBe(0);
  });

  it('a script that picks its path with Math.random() and reads the clock replays the same path and values, an hour later', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T10:00:00Z'));
    const enclave = make(options);
    const { tools, ran } = orderTools();
    const code = `const coin = Math.random();
const t = Date.now(); const d = new Date().toISOString(); const s = typeof Date();
const id = coin < 0.5 ? 'o1' : 'o3';
const order = await callTool('orders:get', { id });
await callTool('orders:refund', { id, amount: order.total });
return { coin, t, d, s, id, after: new Date().getTime() };`;
    const paused = pausedOf(await enclave.run(code, { tools, durable: true }));
    expect(paused.journal.nd.map(([k]) => k)).toEqual(['r', 't', 't', 't']);
    vi.setSystemTime(new Date('2026-01-01T11:00:00Z'));
    const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    if (!resumed.success) throw new Error(resumed.error.message);
    const v = resumed.value as { coin: number; t: number; d: string; s: string; id: string; after: number };
    expect(v.coin).toBe(paused.journal.nd[0]?.[1]);
    expect(v.id).toBe(v.coin < 0.5 ? 'o1' : 'o3');
    expect(v.t).toBe(paused.journal.nd[1]?.[1]);
    expect(v.d).toBe(new Date(paused.journal.nd[2]?.[1] as number).toISOString());
    expect(v.s).toBe('string');
    if (options.adapter === undefined) {
      // (A worker has its own clock, which the fake one of this thread does not reach.)
      expect(v.t).toBe(Date.parse('2026-01-01T10:00:00Z'));
      // After the approved call the run is live again: the clock says an hour later.
      expect(v.after).toBe(Date.parse('2026-01-01T11:00:00Z'));
    } else expect(v.after).toBeGreaterThanOrEqual(v.t);
    expect(ran).toEqual({ list: 0, get: 1, refund: 1 });
  });

  it('Intl.DateTimeFormat without a date formats the journaled time (PERMISSIVE), and replays it as new Date() does', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T10:00:00.123Z'));
    const enclave = make({ ...options, securityLevel: 'PERMISSIVE' });
    const { tools, ran } = orderTools();
    const code = `const f = new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' });
const g = Intl.DateTimeFormat('en-US', { minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, timeZone: 'UTC' });
const a = f.format(); const b = g.formatToParts().map((p) => p.value).join(''); const c = g.format(undefined);
const d = ['x'].map(() => g.format())[0];
await callTool('orders:refund', { id: 'o1', amount: 1 });
return { a, b, c, d, after: g.format() };`;
    const paused = pausedOf(await enclave.run(code, { tools, durable: true }));
    expect(paused.journal.nd.map(([k]) => k)).toEqual(['t', 't', 't', 't']);
    vi.setSystemTime(new Date('2026-01-01T11:00:00.456Z'));
    const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    if (!resumed.success) throw new Error(resumed.error.message);
    const [ta, tb, tc, td] = paused.journal.nd.map(([, v]) => v) as [number, number, number, number];
    const f = new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' });
    const g = new Intl.DateTimeFormat('en-US', { minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, timeZone: 'UTC' });
    expect(resumed.value).toMatchObject({ a: f.format(ta), b: g.format(tb), c: g.format(tc), d: g.format(td) });
    if (options.adapter === undefined) {
      expect(resumed.value).toEqual({ a: f.format(Date.parse('2026-01-01T10:00:00.123Z')), b: '00:00.123', c: '00:00.123', d: '00:00.123', after: '00:00.456' });
    }
    expect(ran.refund).toBe(1);
  });

  it('waits for a call still in flight before it pauses, and never runs it again', async () => {
    const enclave = make(options);
    const { tools, ran } = orderTools({ slowGetMs: 80 });
    const code = `const [o, r] = await Promise.all([callTool('orders:get', { id: 'o1' }), callTool('orders:refund', { id: 'o3', amount: 80 })]);
return [o.total, r.refunded];`;
    const paused = pausedOf(await enclave.run(code, { tools, durable: true }));
    expect(paused.journal.calls.map((c) => c[1])).toEqual(['orders:get']);
    const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    expect(resumed).toMatchObject({ success: true, value: [120, 80] });
    expect(ran).toEqual({ list: 0, get: 1, refund: 1 });
  });

  it('what a person is shown is what runs: a call whose arguments cannot be shown whole (sidecar references) never pauses, and nothing runs with arguments other than those shown', async () => {
    // A tool's huge result stays on the host as a reference; handed to a call that needs approval, the
    // pause showed the resolved text (or, past 1 MiB, no arguments at all: not even the recipient), and
    // the replay, whose sidecar no longer holds it, ran the call with the bare reference instead.
    for (const [securityLevel, size] of [['STANDARD', 1_200_000], ['STRICT', 100_000]] as const) {
      const enclave = make({ ...options, securityLevel, sidecar: true });
      const sent: unknown[] = [];
      const tools = [
        defineTool({ name: 'docs:read', handler: async () => 'D'.repeat(size) }),
        defineTool({ name: 'mail:send', sideEffect: true, needsApproval: true, handler: async (args: unknown) => (sent.push(args), 'sent') }),
      ];
      const code = `const body = await callTool('docs:read', {});
try { return await callTool('mail:send', { to: 'mallory@example.com', body }); } catch (e) { return e.code; }`;
      const first = await enclave.run(code, { tools, durable: true });
      if (first.success) {
        expect(first.value, securityLevel).toBe('APPROVAL_REQUIRED');
        expect(sent).toEqual([]);
        continue;
      }
      const paused = pausedOf(first);
      const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
      expect(resumed.success).toBe(true);
      // The host's record of what the approved call ran with is what the person approved.
      expect(sent, securityLevel).toEqual([paused.approval.args]);
    }
  });

  it('a reply that comes live while the replay still hands back recorded ones waits for them: the script sees its calls answer in the order it saw before the pause', async () => {
    // Before the pause the approved call never answered, so every recorded read came first; a replay
    // that let the live answer overtake them showed the script an order it had never seen, and a
    // script that stops reading once the call answers took another path (REPLAY_DIVERGED), or wrote
    // a journal whose next replay did.
    const enclave = make(options);
    let release!: () => void;
    const decided = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    const sent: unknown[] = [];
    const tools = [
      defineTool({ name: 'read', handler: ({ i }: { i: number }) => (reads++, i) }),
      // Deciding whether the first call needs a person takes a while (a lookup); the reads go on meanwhile.
      defineTool({
        name: 'send',
        needsApproval: async ({ n }: { n: number }) => {
          if (n === 1) await decided;
          return true;
        },
        handler: (args: unknown) => (sent.push(args), 'sent'),
      }),
    ];
    const code = `const first = callTool('send', { n: 1 });
let answered = false;
first.then(() => { answered = true; });
let i = 0;
for (; i < 30 && !answered; i++) await callTool('read', { i });
await first;
return callTool('send', { n: 2, i });`;
    const running = enclave.run(code, { tools, durable: true });
    await expect.poll(() => reads).toBe(30);
    release();
    const paused = pausedOf(await running);
    expect(paused.approval).toMatchObject({ callId: 1, args: { n: 1 } });
    const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    expect(pausedOf(resumed).approval).toMatchObject({ callId: 32, args: { n: 2, i: 30 } });
    expect(sent).toEqual([{ n: 1 }]);
    expect(reads).toBe(30);
  });

  it('recorded replies reach the script in their recorded order, also one whose call lets go of a later reply already asked for', async () => {
    // Before, a recorded reply handed back in the very call that asked for it came after the later
    // replies it let go: the replay showed another order than the journal's and diverged.
    const enclave = make(options);
    let go!: () => void;
    const goCalled = new Promise<void>((resolve) => (go = resolve));
    let yAnswered!: () => void;
    const yDone = new Promise<void>((resolve) => (yAnswered = resolve));
    const tools = [
      // y answers only once the script has seen x and m and called go; go answers after y.
      defineTool({ name: 'read', handler: async ({ k }: { k: string }) => (k === 'y' ? (await goCalled, yAnswered(), k) : k) }),
      defineTool({ name: 'go', handler: async () => (go(), await yDone, 'went') }),
      defineTool({ name: 'send', needsApproval: true, handler: (args: unknown) => args }),
    ];
    const code = `const seen = [];
const y = callTool('read', { k: 'y' }).then(() => { seen.push('y'); });
const x = callTool('read', { k: 'x' }).then(async () => {
  seen.push('x');
  await callTool('read', { k: 'm' });
  seen.push('m');
  await callTool('go', {});
});
await Promise.all([x, y]);
return callTool('send', { seen });`;
    const paused = pausedOf(await enclave.run(code, { tools, durable: true }));
    expect(paused.approval.args).toEqual({ seen: ['x', 'm', 'y'] });
    const resumed = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    expect(resumed).toMatchObject({ success: true, value: { seen: ['x', 'm', 'y'] } });
  });

  it('pauses again for the next approval, and ends as MAX_PAUSES past the limit', async () => {
    const enclave = make(options);
    const { tools, ran } = orderTools();
    const code = `await callTool('orders:refund', { id: 'o1', amount: 1 }); await callTool('orders:refund', { id: 'o3', amount: 2 }); return 'both';`;
    const p1 = pausedOf(await enclave.run(code, { tools, durable: true }));
    const p2 = pausedOf(await enclave.run(code, { tools, durable: { resume: { journal: throughStore(p1.journal), decision: { approved: true } } } }));
    expect(p2.approval).toMatchObject({ callId: 2, args: { id: 'o3', amount: 2 } });
    expect(ran.refund).toBe(1);
    const done = await enclave.run(code, { tools, durable: { resume: { journal: throughStore(p2.journal), decision: { approved: true } } } });
    expect(done).toMatchObject({ success: true, value: 'both' });
    expect(ran.refund).toBe(2);
    const limited = pausedOf(await enclave.run(code, { tools, durable: { maxPauses: 1 } }));
    const over = await enclave.run(code, { tools, durable: { maxPauses: 1, resume: { journal: throughStore(limited.journal), decision: { approved: true } } } });
    expect(over).toMatchObject({ success: false, error: { code: 'MAX_PAUSES' } });
    expect(ran.refund).toBe(3);
  });
});

describe('durable runs: limits, divergence and hostile journals', () => {
  const enclave = make({});

  it('without durable, a call that needs approval fails in the script with APPROVAL_REQUIRED (catchable), and nothing runs', async () => {
    const { tools, ran } = orderTools();
    const r = await enclave.run(`try { await callTool('orders:refund', { id: 'o1', amount: 1 }); } catch (e) { return e.code; }`, { tools });
    expect(r).toMatchObject({ success: true, value: 'APPROVAL_REQUIRED' });
    expect(ran.refund).toBe(0);
  });

  it('mayPause refuses a pause: the call fails in the script with APPROVAL_REQUIRED and its message, is journaled like any reply, and a later pause replays it', async () => {
    const { tools, ran } = orderTools();
    const asked: unknown[] = [];
    let room = false;
    const mayPause = async (call: { callId: number; tool: string }) => (asked.push(call), room ? undefined : 'Too many sessions wait already.');
    const code = `let first;
try { await callTool('orders:refund', { id: 'o1', amount: 1 }); } catch (e) { first = [e.code, e.message]; }
const r = await callTool('orders:refund', { id: 'o3', amount: 2 });
return { first, r };`;
    const events: EnclaveEvent[] = [];
    const refused = await enclave.run(code, { tools, durable: { mayPause }, onEvent: (e) => void events.push(e) });
    // Refused twice: the script's catch saw the first, the second ended the run as a tool error.
    expect(refused).toMatchObject({ success: false, error: { code: 'TOOL_ERROR', data: { toolErrorCode: 'APPROVAL_REQUIRED', status: 429 } } });
    expect(events.filter((e) => e.type === 'tool_result').map((e) => (e.payload as { ok: boolean }).ok)).toEqual([false, false]);
    expect(asked).toEqual([{ callId: 1, tool: 'orders:refund' }, { callId: 2, tool: 'orders:refund' }]);

    // With room for the second: the run pauses there, and its resumption replays the first refusal without asking again.
    asked.length = 0;
    const paused = await enclave.run(code, { tools, durable: { mayPause: async (call) => (asked.push(call), call.callId === 1 ? 'Too many sessions wait already.' : undefined) } });
    expect(pausedOf(paused).approval).toMatchObject({ callId: 2, args: { id: 'o3', amount: 2 } });
    room = true;
    asked.length = 0;
    const resumed = await enclave.run(code, { tools, durable: { mayPause, resume: { journal: throughStore(pausedOf(paused).journal), decision: { approved: true } } } });
    expect(resumed).toMatchObject({ success: true, value: { first: ['APPROVAL_REQUIRED', 'Too many sessions wait already.'], r: { refunded: 2 } } });
    expect(asked).toEqual([]);
    expect(ran.refund).toBe(1);
  });

  it('a predicate asks only for the calls it picks, with the arguments as the handler would get them', async () => {
    let seen: unknown;
    const refund = defineTool({
      name: 'refund',
      needsApproval: (args: { amount: number }, ctx) => {
        seen = { args, tool: ctx.tool };
        return args.amount > 100;
      },
      handler: ({ amount }: { amount: number }) => amount,
    });
    const small = await enclave.run(`return callTool('refund', { amount: 5 })`, { tools: [refund], durable: true });
    expect(small).toMatchObject({ success: true, value: 5 });
    expect(seen).toEqual({ args: { amount: 5 }, tool: 'refund' });
    const big = await enclave.run(`return callTool('refund', { amount: 500 })`, { tools: [refund], durable: true });
    expect(pausedOf(big).approval).toEqual({ callId: 1, tool: 'refund', args: { amount: 500 } });
    const throwing = defineTool({ name: 't', needsApproval: () => { throw new Error('db down'); }, handler: () => 1 });
    expect(pausedOf(await enclave.run(`return callTool('t', {})`, { tools: [throwing], durable: true })).approval.tool).toBe('t');
  });

  it('the approved call runs only with the arguments shown: a schema that makes others of the same call on resume runs nothing', async () => {
    // The schema reads a price the host changes while the person decides: before, the approval showed
    // 120 and the resumed call paid 999.
    const prices: Record<string, number> = { o1: 120 };
    const paid: unknown[] = [];
    const pay = defineTool({
      name: 'orders:pay',
      input: z.object({ id: z.string() }).transform(({ id }) => ({ id, amount: prices[id] })),
      needsApproval: true,
      handler: async (args: { id: string; amount: number | undefined }) => (paid.push(args), 'paid'),
    });
    const code = `try { return await callTool('orders:pay', { id: 'o1' }); } catch (e) { return e.code; }`;
    const first = pausedOf(await enclave.run(code, { tools: [pay], durable: true }));
    expect(first.approval.args).toEqual({ id: 'o1', amount: 120 });
    prices.o1 = 999;
    const resumed = await enclave.run(code, { tools: [pay], durable: { resume: { journal: throughStore(first.journal), decision: { approved: true } } } });
    expect(resumed).toMatchObject({ success: true, value: 'APPROVAL_DENIED' });
    expect(paid).toEqual([]);
    // With the price as shown, the approved call runs, once, with what was shown.
    prices.o1 = 120;
    const second = pausedOf(await enclave.run(code, { tools: [pay], durable: true }));
    const approved = await enclave.run(code, { tools: [pay], durable: { resume: { journal: throughStore(second.journal), decision: { approved: true } } } });
    expect(approved).toMatchObject({ success: true, value: 'paid' });
    expect(paid).toEqual([{ id: 'o1', amount: 120 }]);
  });

  it('arguments a tool’s schema turns into a BigInt or a Set are shown for approval as what they hold, not left out', async () => {
    // Before, a BigInt anywhere made the approval show no arguments at all (the recipient neither), and a Set showed as {}.
    const sent: unknown[] = [];
    const pay = defineTool({
      name: 'payments:send',
      input: z.object({ to: z.array(z.string()).transform((a) => new Set(a)), amount: z.coerce.bigint() }),
      needsApproval: true,
      handler: async (args: { to: Set<string>; amount: bigint }) => (sent.push(args), 'sent'),
    });
    const code = `return callTool('payments:send', { to: ['mallory@example.com'], amount: '5000' })`;
    const paused = pausedOf(await enclave.run(code, { tools: [pay], durable: true }));
    expect(paused.approval.args).toEqual({ to: ['mallory@example.com'], amount: '5000' });
    expect(await enclave.run(code, { tools: [pay], durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } })).toMatchObject({ success: true });
    expect(sent).toEqual([{ to: new Set(['mallory@example.com']), amount: 5000n }]);
  });

  it('a journal over maxJournalBytes ends the run as JOURNAL_LIMIT_EXCEEDED', async () => {
    const big = defineTool({ name: 'big', handler: () => 'x'.repeat(5000) });
    const { tools } = orderTools();
    const r = await enclave.run(`await callTool('big', {}); await callTool('big', {}); return callTool('orders:refund', { id: 'o1', amount: 1 });`, {
      tools: [...tools, big],
      durable: { maxJournalBytes: 8000 },
    });
    expect(r).toMatchObject({ success: false, error: { code: 'JOURNAL_LIMIT_EXCEEDED' } });
  });

  it('values of the clock and Math.random() count against the journal: past it the run ends, and no tool call after them starts', async () => {
    const { tools, ran } = orderTools();
    // 10,000 values, ten times the room of the journal (1,001 values of 24 bytes): each refused one throws,
    // which the script catches. 100,000 took 0.67 s at a load of 8, but 7.7 s alone and 22 s in the suite
    // (past vitest's 20 s) at a load of 16; 10,000 take 85-95 ms at a load of 12-16.
    const code = `let refused = 0; for (let i = 0; i < 10000; i++) { try { Math.random(); } catch { refused++; } }
await callTool('orders:list', {}); return refused;`;
    const r = await enclave.run(code, { tools, durable: { maxJournalBytes: 24_000 } });
    expect(r).toMatchObject({ success: false, error: { code: 'JOURNAL_LIMIT_EXCEEDED' } });
    expect(ran.list).toBe(0);
  });

  it('resumed with another script or input: REPLAY_DIVERGED before anything runs', async () => {
    const { tools, ran } = orderTools();
    const paused = pausedOf(await enclave.run(REFUND, { tools, durable: true }));
    const other = await enclave.run(REFUND.replace('orders[0]', 'orders[1]'), { tools, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    expect(other).toMatchObject({ success: false, error: { code: 'REPLAY_DIVERGED' } });
    const withInput = await enclave.run(REFUND, { tools, input: 1, durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    expect(withInput).toMatchObject({ success: false, error: { code: 'REPLAY_DIVERGED' } });
    expect(ran).toEqual({ list: 1, get: 1, refund: 0 });
  });

  it('a journal whose recorded call or pending call was altered: REPLAY_DIVERGED, and the approved tool never runs with other arguments', async () => {
    const { tools, ran, refunded } = orderTools();
    const paused = pausedOf(await enclave.run(REFUND, { tools, durable: true }));
    // The recorded read says another order: the script's call no longer matches its position.
    const j1 = throughStore(paused.journal) as RunJournal;
    (j1.calls[1] as unknown[])[2] = (j1.calls[1] as unknown[])[2]?.toString().replace('o1', 'o3');
    const r1 = await enclave.run(REFUND, { tools, durable: { resume: { journal: j1, decision: { approved: true } } } });
    expect(r1).toMatchObject({ success: false, error: { code: 'REPLAY_DIVERGED' } });
    // Someone approved a bigger refund than the script asked for: the call does not match, nothing runs.
    const j2 = throughStore(paused.journal) as RunJournal;
    j2.pending[2] = j2.pending[2].replace('120', '99999');
    const r2 = await enclave.run(REFUND, { tools, durable: { resume: { journal: j2, decision: { approved: true } } } });
    expect(r2).toMatchObject({ success: false, error: { code: 'REPLAY_DIVERGED' } });
    // A recorded random number where the script reads the clock.
    const code = `const t = Date.now(); await callTool('orders:refund', { id: 'o1', amount: 1 }); return t;`;
    const p3 = pausedOf(await enclave.run(code, { tools, durable: true }));
    const j3 = throughStore(p3.journal) as RunJournal;
    j3.nd = [['r', 0.5]];
    expect(await enclave.run(code, { tools, durable: { resume: { journal: j3, decision: { approved: true } } } })).toMatchObject({ success: false, error: { code: 'REPLAY_DIVERGED' } });
    expect(ran.refund).toBe(0);
    expect(refunded).toEqual([]);
  });

  it('a path picked by what no journal records (how deep the stack goes, which differs by isolation) is caught on replay: the approved call runs with the approved arguments or nothing runs', async () => {
    const ran: unknown[] = [];
    const pay = defineTool({ name: 'payments:send', needsApproval: true, handler: async (args: unknown) => (ran.push(args), 'sent') });
    // Without the rewriter's call-depth budget the script reads V8's own stack limit.
    const code = `let d = 0; function f() { d++; f(); } try { f(); } catch {} return callTool('payments:send', { to: d % 2 ? 'mallory' : 'bob', d });`;
    const layersOff = { validate: false, transform: false } as const;
    const paused = pausedOf(await make(layersOff).run(code, { tools: [pay], durable: true }));
    const elsewhere = make({ ...layersOff, adapter: 'worker_threads', workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } });
    const resumed = await elsewhere.run(code, { tools: [pay], durable: { resume: { journal: throughStore(paused.journal), decision: { approved: true } } } });
    if (resumed.success) expect(ran).toEqual([paused.approval.args]);
    else {
      expect(resumed.error.code).toBe('REPLAY_DIVERGED');
      expect(ran).toEqual([]);
    }
  });

  it('a journal that is not one (wrong shape, prototype keys, bad values, over its caps) is refused as VALIDATION_ERROR before anything runs', async () => {
    const { tools, ran } = orderTools();
    const paused = pausedOf(await enclave.run(REFUND, { tools, durable: true }));
    const good = JSON.stringify(paused.journal);
    const bad: unknown[] = [
      null,
      'journal',
      { ...JSON.parse(good), v: 2 },
      { ...JSON.parse(good), calls: [[1, 'orders:list', '{}', 1, '{"__proto__":']] },
      { ...JSON.parse(good), calls: [[1, 'orders:list', '{}', 0, '["ToolError","x","lower case"]']] },
      { ...JSON.parse(good), calls: [[3, 'orders:refund', '{}', 1, '1']] },
      { ...JSON.parse(good), nd: [['r', 7]] },
      { ...JSON.parse(good), nd: [['x', 1]] },
      { ...JSON.parse(good), pauses: 11 },
      JSON.parse(good.replace('"pending"', '"__proto__"')),
      // The arguments shown for approval: text, at most what may be shown, and nothing after them.
      { ...JSON.parse(good), pending: [...JSON.parse(good).pending.slice(0, 3), 5] },
      { ...JSON.parse(good), pending: [...JSON.parse(good).pending.slice(0, 3), 'x'.repeat(1024 * 1024 + 1)] },
      { ...JSON.parse(good), pending: [...JSON.parse(good).pending, 'more'] },
      // The paused run's span, for the resumed run's link: two OpenTelemetry ids, lowercase hex of their length.
      ...[['A'.repeat(32), 'b'.repeat(16)], ['a'.repeat(32), 'b'.repeat(15)], ['a'.repeat(33), 'b'.repeat(16)], ['0'.repeat(32), 'b'.repeat(16)], ['a'.repeat(32), '0'.repeat(16)], ['a'.repeat(32)], ['a'.repeat(32), 'b'.repeat(16), 'c'], 'a'.repeat(48), { 0: 'a'.repeat(32), 1: 'b'.repeat(16) }, null].map((trace) => ({ ...JSON.parse(good), trace })),
    ];
    for (const journal of bad) {
      const r = await enclave.run(REFUND, { tools, durable: { resume: { journal, decision: { approved: true } } } });
      expect(r).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    }
    const small = await enclave.run(REFUND, { tools, durable: { maxJournalBytes: 50, resume: { journal: JSON.parse(good), decision: { approved: true } } } });
    expect(small).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    for (const decision of [undefined, { approved: 'yes' }, { approved: true, reason: 'x' }, { approved: false, reason: 5 }, { approved: false, extra: 1 }]) {
      const r = await enclave.run(REFUND, { tools, durable: { resume: { journal: JSON.parse(good), decision: decision as never } } });
      expect(r).toMatchObject({ success: false, error: { code: 'VALIDATION_ERROR' } });
    }
    expect(ran).toEqual({ list: 1, get: 1, refund: 0 });
  });

  it('Date and Math.random behave as scripts know them, durable or not, and a script cannot replace them (runtime only)', async () => {
    const { tools } = orderTools();
    const code = `const r0 = Math.random; const n0 = Date.now; const D0 = Date;
try { Math.random = () => 0.5; } catch {}
try { Date.now = () => 1; } catch {}
class Later extends Date {}
return [Math.random === r0, Date.now === n0, Date === D0, new Later(0).getTime(), new Later(0) instanceof Date, new Date(5).getTime(),
  new Date(2020, 0, 1).getFullYear(), Date.UTC(2020, 0), typeof Date.parse('2020-01-01'), new Date() instanceof Date,
  Date.prototype.constructor === Date, Date.name, Date.length, typeof Date(), Math.random() < 1];`;
    // Without the AST layer, which refuses these assignments and the class before anything runs.
    const runtimeOnly = make({ validate: false });
    for (const durable of [true, false]) {
      const r = await runtimeOnly.run(code, { tools, durable });
      expect(r).toMatchObject({ success: true, value: [true, true, true, 0, true, 5, 2020, 1577836800000, 'number', true, true, 'Date', 7, 'string', true] });
    }
  });

  it('Intl.DateTimeFormat keeps its shape and its clock, durable or not; a script cannot replace its methods (runtime only)', async () => {
    // The year of the clock the run sees: the realm's own, or in a durable run the host's (faked here,
    // in vm mode, to a year the realm's clock is not in), which Date gives too.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2031-06-01T00:00:00Z'));
    const code = `const P = Intl.DateTimeFormat.prototype; const y = new Intl.DateTimeFormat('en-US', { year: 'numeric', timeZone: 'UTC' });
const f = Intl.DateTimeFormat('en-US', { minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, timeZone: 'UTC' });
const getter = Object.getOwnPropertyDescriptor(P, 'format').get; const ftp = P.formatToParts;
try { P.formatToParts = () => []; } catch {}
try { Object.defineProperty(P, 'format', { get: () => () => 'x' }); } catch {}
let foreign = 'none'; try { getter.call({}); } catch (e) { foreign = e.name; }
let foreignParts = 'none'; try { ftp.call({}, 0); } catch (e) { foreignParts = e.name; }
const year = String(new Date().getUTCFullYear());
return [y.format() === year, y.formatToParts()[0].value === year, f.format(0), f.format(new Date(61000)), f.formatToParts(61000).length,
  f.format === f.format, f.format.name, f.format.length, getter.name, getter.length, ftp.name, ftp.length, P.formatToParts === ftp,
  foreign, foreignParts, 'prototype' in f.format, new Intl.DateTimeFormat('en-US', { timeZone: 'UTC' }).formatRange(0, 86400000)];`;
    const runtimeOnly = make({ securityLevel: 'PERMISSIVE', validate: false });
    const expected = [true, true, '00:00.000', '01:01.000', 5, true, '', 1, 'get format', 0, 'formatToParts', 1, true, 'TypeError', 'TypeError', false, new Intl.DateTimeFormat('en-US', { timeZone: 'UTC' }).formatRange(0, 86400000)];
    const { tools } = orderTools();
    for (const durable of [false, true]) {
      const r = await runtimeOnly.run(code, { tools, durable });
      expect(r).toMatchObject({ success: true, value: expected });
    }
  });

  it('the catalog marks tools that need approval', () => {
    const { tools } = orderTools();
    const cond = defineTool({ name: 'maybe', needsApproval: () => true, handler: () => 1 });
    const d = enclave.describe([...tools, cond]);
    expect(d.tools.find((t) => t.name === 'orders:refund')?.needsApproval).toBe('always');
    expect(d.tools.find((t) => t.name === 'maybe')?.needsApproval).toBe('conditional');
    expect(d.tools.find((t) => t.name === 'orders:get')?.needsApproval).toBeUndefined();
    expect(d.prompt).toContain('`orders:refund` (side effect) (needs approval)');
    expect(d.declarations).toContain('APPROVAL_DENIED');
  });

  it('a tool that throws a ToolError with code APPROVAL_DENIED is only a tool error, never a decision', async () => {
    const liar = defineTool({ name: 'liar', handler: () => { throw new ToolError('nope', { code: 'APPROVAL_DENIED' }); } });
    const r = await enclave.run(`try { await callTool('liar', {}); } catch (e) { return e.code; }`, { tools: [liar], durable: true });
    expect(r).toMatchObject({ success: true, value: 'APPROVAL_DENIED' });
  });
});
