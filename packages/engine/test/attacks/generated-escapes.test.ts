/**
 * Generated escape attempts (escape-fuzz.ts): a seeded generator composes the known ways to a powerful
 * reference with one to four steps and a sink, and every script runs on every row (vm and worker_threads,
 * STANDARD and PERMISSIVE, validated, validate:false, and neither validation nor the rewriter's guards).
 * Scripts the validator refuses still run on the rows without it.
 *
 * Judged on the host only (runAttack's canaries and escapeCanaries': a host global, process.env, a file
 * written through the builtin loader, a host function called, host prototypes and intrinsics, late tool
 * calls, the event loop, the next tenant on the same Enclave), plus DESIGN 5.2 here: the host's
 * JSON.stringify of the result never throws, and the result, the tool arguments and the logs are plain
 * host data (no realm object, no function, no accessor, no own `__proto__` key, no object under a
 * `constructor` key).
 *
 * CI runs a fixed seed and a small count. A campaign:
 *   ENCLAVE_FUZZ_SEED=1234 ENCLAVE_FUZZ_COUNT=2000 npx vitest run packages/engine/test/attacks/generated-escapes.test.ts
 * A failure names the script's own seed, the campaign's first seed, its row and the hash of the
 * escape-fuzz.ts that made it (a seed replays the same script only with the same generator):
 *   ENCLAVE_FUZZ_SEED=<seed> ENCLAVE_FUZZ_COUNT=1 npx vitest run <this file> -t '<row>'
 * replays it alone; a failure that needs the scripts before it on the row's shared Enclave replays with
 * the campaign's first seed and a count that ends at the failing one.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import type { ExecutionResult, ToolFunction } from '../../src/index.js';
import type { Attack, ToolKit } from '../helpers.js';
import { ANY_END, ESCAPE_ROWS, escapeCanaries, makeToolKit, REUSE_ONE_REALM, rowEnclave, runAttack } from '../helpers.js';
import { generate, REALM_FINGERPRINT, scriptBody } from './escape-fuzz.js';

const canaries = escapeCanaries('generated-escapes');
const target = { payload: canaries.payload, file: canaries.file };

/** Which generator made the scripts: a seed replays the same script only with the same escape-fuzz.ts. */
const GENERATOR = createHash('sha256').update(readFileSync(new URL('escape-fuzz.ts', import.meta.url))).digest('hex').slice(0, 12);
const SEED = Number(process.env.ENCLAVE_FUZZ_SEED ?? 20_261_206);
const COUNT = Number(process.env.ENCLAVE_FUZZ_COUNT ?? 12);
const seeds = Array.from({ length: COUNT }, (_, i) => (SEED + i) >>> 0);

/**
 * Plain host JSON data, nothing else: host Object/Array prototypes (or none), own data properties only,
 * no function, symbol, bigint or undefined, no own `__proto__` key, no object under a `constructor` key.
 */
function expectPlainData(value: unknown, where: string): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown, at: string): void => {
    const type = typeof v;
    if (v === null || type === 'string' || type === 'number' || type === 'boolean') return;
    if (type !== 'object') expect.fail(`${where}: a ${type} at ${at}`);
    if (seen.has(v)) return;
    seen.add(v);
    const o = v as object;
    const proto: unknown = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) expect.fail(`${where}: an object of another realm or class at ${at}`);
    if (Object.hasOwn(o, '__proto__')) expect.fail(`${where}: own __proto__ key at ${at}`);
    for (const key of Reflect.ownKeys(o)) {
      if (typeof key === 'symbol') expect.fail(`${where}: a symbol key at ${at}`);
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d === undefined || !('value' in d)) expect.fail(`${where}: an accessor at ${at}.${String(key)}`);
      if (key === 'constructor' && d.value !== null && typeof d.value === 'object') expect.fail(`${where}: an object under constructor at ${at}`);
      walk(d.value, `${at}.${String(key)}`);
    }
  };
  // Nothing at all (no value, no data, no arguments) is fine; an undefined inside is not JSON.
  if (value !== undefined) walk(value, 'value');
}

function checkBoundary(result: ExecutionResult, kit: ToolKit): void {
  let text = '';
  expect(() => (text = JSON.stringify(result)), 'the host cannot JSON.stringify the result').not.toThrow();
  expect(typeof text).toBe('string');
  expectPlainData(result.value, 'result value');
  expectPlainData(result.error?.data, 'error data');
  for (const log of result.logs ?? []) {
    expect(typeof log.message, 'a log message is a string').toBe('string');
  }
  for (const call of kit.calls) {
    expect(typeof call.name).toBe('string');
    expect(() => JSON.stringify(call.args), 'the host cannot JSON.stringify tool arguments').not.toThrow();
    expectPlainData(call.args, `arguments of ${call.name}`);
  }
}

/**
 * The spy kit's `hostObject` tool without the two fields that hold the secret as plain data (a class
 * instance's field and an Error's message): a tool may return its own secrets, and a script that returns
 * what it got would only show the tool's choice. Its functions, proxy, getters, promise and the rest stay.
 */
function hostObjectWithoutSecrets(kit: ToolKit): ToolFunction {
  const hostObject = (kit.tools as Record<string, ToolFunction>).hostObject as ToolFunction;
  return async (args, ctx) => {
    const { widget: _widget, err: _err, ...rest } = (await hostObject(args, ctx)) as Record<string, unknown>;
    return rest;
  };
}

const attackOf = (seed: number): Attack => ({
  name: `seed ${seed}`,
  code: generate(seed, target),
  expect: ANY_END,
  // A run's deadline only lowers the instance's: the scripts are small, and a hang must not cost 30 s.
  run: (kit) => ({ tools: { ...kit.tools, hostObject: hostObjectWithoutSecrets(kit) }, timeout: 5000 }),
  check: (result, { kit }) => checkBoundary(result, kit),
});

describe('the generator', () => {
  it('is deterministic and varied, and every script parses as the async body the engine runs', () => {
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (body: string) => unknown;
    expect(generate(7, target)).toBe(generate(7, target));
    const scripts = Array.from({ length: 400 }, (_, i) => generate(SEED + i, target));
    expect(new Set(scripts).size).toBe(scripts.length);
    for (const [i, code] of scripts.entries()) {
      expect(() => new AsyncFunction(`'use strict';\n${code}`), `seed ${SEED + i} does not parse:\n${code}`).not.toThrow();
    }
    // Both flavours are there, and each failure report can show the script without its prelude.
    expect(scripts.filter((code) => code.startsWith('const K =')).length).toBeGreaterThan(50);
    expect(scripts.every((code) => scriptBody(code, target).length < code.length)).toBe(true);
  });
});

/**
 * The realm as the next tenant sees it (REALM_FINGERPRINT), on the row's shared Enclave. A loaded
 * machine (a campaign runs at nice 19 beside other work) can starve one walk past its deadline: two more
 * tries tell that from a realm the attack left hanging, which times out every time.
 */
async function fingerprint(enclave: Enclave): Promise<unknown> {
  let r = await enclave.run(REALM_FINGERPRINT, { tools: makeToolKit().tools, timeout: 10_000 });
  for (let tries = 1; tries < 3 && r.error?.code === 'TIMEOUT'; tries++) r = await enclave.run(REALM_FINGERPRINT, { tools: makeToolKit().tools, timeout: 10_000 });
  return r.success ? r.value : r.error;
}

describe('the realm walk the next tenant runs', () => {
  it('sees one own key more on an object a run can reach, and nothing of a harmless run before it', async () => {
    const enclave = new Enclave({ securityLevel: 'PERMISSIVE', validate: false, transform: false, realmPool: REUSE_ONE_REALM });
    try {
      const first = await fingerprint(enclave);
      await enclave.run("const o = { a: [1] }; o.b = o.a.map((x) => x + 1); return JSON.stringify(o);");
      expect(await fingerprint(enclave)).toEqual(first);
      // `input` is the run's own object: one key more there is what an attack's leftover would look like.
      const r = await enclave.run(REALM_FINGERPRINT, { input: { left: 1 } });
      expect(r.value).not.toEqual(first);
    } finally {
      enclave.dispose();
    }
  });
});

describe.each(ESCAPE_ROWS)('generated escapes [$name]', (row) => {
  const shared = rowEnclave(row, { shareVm: true });
  // What a tenant sees before any attack ran: after each attack the next one must see the same. The
  // validator refuses the walk's reflection, so validated rows rely on runAttack's next tenant alone
  // (they run the same runtime as the rows below them, without the scripts it refuses).
  let before: unknown;
  beforeAll(async () => {
    const enclave = shared();
    if (enclave !== undefined && !row.validates) before = await fingerprint(enclave);
  });
  for (const seed of seeds) {
    it(`seed ${seed}`, async () => {
      const attack = attackOf(seed);
      try {
        await runAttack(row, attack, shared);
        const enclave = shared();
        if (before !== undefined && enclave !== undefined) expect(await fingerprint(enclave), 'the realm the next tenant meets changed').toEqual(before);
      } catch (e) {
        const replay = `ENCLAVE_FUZZ_SEED=${seed} ENCLAVE_FUZZ_COUNT=1 (campaign seed ${SEED}, row ${row.name}, escape-fuzz.ts ${GENERATOR})`;
        (e as Error).message = `${(e as Error).message}\n--- replay: ${replay}\n--- script:\n${scriptBody(attack.code, target)}`;
        throw e;
      }
    }, 60_000);
  }
});
