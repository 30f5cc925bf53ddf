/**
 * The rewriter against plain JavaScript on generated programs: statements that build strings and
 * numbers (`+`, `+=`, template literals, ternaries, calls, member reads), written with and without
 * semicolons, in loops and branches, with a trailing expression as the script's value. Each program
 * runs in the engine (both with and without the budget guards) and as a plain async function in this
 * process; the values and the error names must match. The rewriter inserts text at the start of
 * expressions, and code without semicolons is where an insertion can change how a line joins the one
 * before it (automatic semicolon insertion): a class of bugs that hand-written cases find one by one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Enclave } from '../../src/index.js';
import { prng } from '../prng.js';

const VARS = ['s', 't', 'n'] as const;

function generate(random: () => number, semicolons: boolean): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const end = semicolons ? ';' : '';
  const atom = (): string =>
    pick([
      () => `'${pick(['a', 'b', 'xy', ''])}'`,
      () => String(Math.floor(random() * 9)),
      () => pick(VARS),
      () => `f(${pick(VARS)})`,
      () => `o.${pick(['k', 'm'])}`,
      () => `\`<\${${pick(VARS)}}>\``,
      () => `[${pick(VARS)}].length`,
    ])();
  const expr = (depth: number): string => {
    if (depth <= 0 || random() < 0.3) return atom();
    return pick([
      () => `${expr(depth - 1)} + ${expr(depth - 1)}`,
      () => `(${expr(depth - 1)} + ${expr(depth - 1)})`,
      () => `${expr(depth - 1)} * 2`,
      () => `${expr(depth - 1)} === ${expr(depth - 1)} ? ${expr(depth - 1)} : ${expr(depth - 1)}`,
      () => `\`\${${expr(depth - 1)}}-\${${expr(depth - 1)}}\``,
      () => `String(${expr(depth - 1)}).length`,
    ])();
  };
  const statement = (depth: number): string =>
    pick([
      () => `${pick(VARS)} += ${expr(2)}${end}`,
      () => `${pick(VARS)} = ${expr(2)}${end}`,
      () => `${expr(2)}${end}`,
      () => `${pick(VARS)} = ${pick(VARS)} + ${expr(1)}${end}`,
      () => (depth > 0 ? `if (${expr(1)}) ${statement(depth - 1)}\nelse ${statement(depth - 1)}` : `${pick(VARS)} += 'z'${end}`),
      () => (depth > 0 ? `for (let i = 0; i < 2; i++) ${statement(depth - 1)}` : `n += 1${end}`),
      () => `log.push(${expr(1)})${end}`,
    ])();
  const lines = [`let s = 'a'${end}`, `let t = ''${end}`, `let n = 1${end}`, `const log = []${end}`, `const o = { k: 'v', m: 3 }${end}`, `function f(x) { return x }`];
  const count = 2 + Math.floor(random() * 5);
  for (let i = 0; i < count; i++) lines.push(statement(1));
  // The value: a trailing expression that starts with a name, so that it is one statement in any case.
  lines.push(`${pick([`${pick(VARS)} + ${expr(1)}`, 'String(`${s}|${t}|${n}|${log.length}`)', `Array.of(s, t, n, log.map(String).join(',')).join(';')`])}${end}`);
  return lines.join('\n');
}

/** What plain JavaScript makes of the program, as the engine reports it: the value, or the error's name. */
async function plain(code: string): Promise<{ value?: unknown; error?: string }> {
  // The same shape as an AgentScript: an async function body whose last expression is its value.
  const lines = code.split('\n');
  const last = lines.pop() as string;
  const body = `${lines.join('\n')}\nreturn (\n${last.replace(/;$/, '')}\n)`;
  try {
    const value: unknown = await new Function(`return (async () => {\n${body}\n})()`)();
    return { value: JSON.parse(JSON.stringify(value ?? null)) as unknown };
  } catch (e) {
    return { error: (e as Error).name };
  }
}

describe.each([
  { label: 'guards on', options: {} },
  { label: 'transform off', options: { transform: false, validate: false } },
])('generated string-building programs give what plain JavaScript gives [$label]', ({ options }) => {
  const enclave = new Enclave({ securityLevel: 'PERMISSIVE', ...options });
  afterAll(() => enclave.dispose());

  it.each([
    { semicolons: false, seed: 1 },
    { semicolons: true, seed: 2 },
  ])('300 programs, semicolons: $semicolons', async ({ semicolons, seed }) => {
    const random = prng(seed);
    let compared = 0;
    for (let i = 0; i < 300; i++) {
      const code = generate(random, semicolons);
      const expected = await plain(code);
      const r = await enclave.run(code);
      const actual = r.success ? { value: JSON.parse(JSON.stringify(r.value ?? null)) as unknown } : { error: r.error?.name };
      expect(actual, code).toEqual(expected);
      compared++;
    }
    expect(compared).toBe(300);
  });
});
