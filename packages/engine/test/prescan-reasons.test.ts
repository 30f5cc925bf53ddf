/**
 * The pre-scan exists for resource limits (size, nesting, bidi and invisible characters): with
 * `validate: false` it still refuses what could make the host misread or crash on a text, and each
 * refusal names its true reason under its own rule id. Legal syntax that is no such risk runs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../src/index.js';

const enclaves = [
  ['vm', new Enclave({ adapter: 'vm', validate: false })],
  ['worker_threads', new Enclave({ adapter: 'worker_threads', validate: false, workerPoolConfig: { minWorkers: 1, maxWorkers: 1 } })],
] as const;
afterAll(async () => {
  await Promise.all(enclaves.map(([, e]) => e.dispose()));
});

describe.each(enclaves)('legal names spelled with unicode escapes run with validate: false (%s)', (_name, enclave) => {
  it.each([
    ['an escaped `get` as a property key', 'const o = { \\u{67}et: 1 };\nreturn o.get;', 1],
    ['an escaped `get` as a variable', 'const \\u{67}et = 5;\nreturn \\u0067et + 1;', 6],
    ['an escaped `async` as a variable', 'const \\u0061sync = 2;\nreturn async * 2;', 4],
    ['an escaped keyword as a property name after a dot', 'const o = { if: 3 };\nreturn o.\\u0069f + o?.\\u{69}f;', 6],
  ])('%s', async (_what, src, value) => {
    const r = await enclave.run(src);
    expect(r.error).toBeUndefined();
    expect(r.value).toBe(value);
  });
});

describe.each(enclaves)('what the pre-scan still refuses, under the rule that says why (%s)', (_name, enclave) => {
  it.each([
    ['a keyword spelled with escapes', 'let a = 1;\n  \\u0069f (a) a++;\nreturn a;', 'prescan/escaped-keyword', 2, 3, /`\\u0069f` is the keyword `if` written with unicode escapes/],
    ['an escaped `await`', 'async function f() { return 1; }\nreturn \\u0061wait f();', 'prescan/escaped-keyword', 2, 8, /the keyword `await`/],
    ['a `/` after `of`', 'let of = 4;\nreturn of / 2 / 1;', 'prescan/ambiguous-slash', 2, 11, /right after `of`/],
    ['a regular expression after a block', "if (true) {}\n/re/.test('x');", 'prescan/ambiguous-slash', 2, 1, /right after a `}` that ends a block/],
    ['a hashbang line', '#!/usr/bin/env node\nreturn 1;', 'prescan/hashbang', 1, 1, /starts with `#!`/],
    ['a chain nested past the limit', `let a;\n${'a='.repeat(3000)}1;`, 'prescan/depth', 2, 2050, /^The code nests more than 1024 levels deep without brackets \([^/]*\)\.$/],
  ])('%s', async (_what, src, ruleId, line, column, message) => {
    const r = await enclave.run(src);
    expect(r.error?.code).toBe('VALIDATION_ERROR');
    expect(r.error?.data?.ruleId).toBe(ruleId);
    expect(r.error?.location).toEqual({ line, column });
    const issues = r.error?.data?.issues as { message: string }[];
    expect(issues[0]?.message).toMatch(message);
  });

  it('an escaped `get` written as an accessor keyword is refused (V8 does not allow it)', async () => {
    const r = await enclave.run('const o = { \\u0067et x() { return 1; } };\nreturn o.x;');
    expect(r.success).toBe(false);
    expect(r.error?.code).toBe('VALIDATION_ERROR');
  });
});
