/**
 * Invariant 8 against the parser: no text, whatever its nesting, kills the host while it is read. oxc-parser
 * reads a script on the host's own thread (in both isolations: checking happens before a worker gets
 * anything), in native code whose recursion has no stack check, so a text nested deeply enough overflowed
 * the thread's stack and the process died of a segmentation fault (exit 139), not of an error.
 *
 * Found by red-teaming: the pre-scan bounds brackets only, and most of JavaScript nests without them.
 * `a=a=a=...` (15,000 of them, 30 KB) killed a host running validated STRICT; at STANDARD, 14,000 levels of
 * `a =`, `a ? 1 :` or `x =>`, 9,000 of `if (a)` or `else if (a)` and 80,000 of `1 +` did too, validated
 * or not, in `vm` and `worker_threads` mode alike; `enclave.check()` and `scoreAgentScript`, which parse
 * without the pre-scan, died of 6,000 nested brackets or getters as well. Every text is now measured
 * before oxc reads it (ast/depth.ts) and refused as `prescan/depth` past a bound far below what overflows.
 *
 * Host-side evidence: each way in runs in a child process, which must exit cleanly with an empty stderr;
 * every shape is refused, and code that nests as real code does still runs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ChildBatch, childResult, describeChild } from '../helpers.js';

/**
 * `piece` `n` times, then `tail`, with a line break every 200 (line lengths stay within every level's
 * limit), except in a chain behind a `/` (see BRACKET_SHAPES), which must stay on the regex's line.
 */
function chain(head: string, piece: string, n: number, tail: string): string {
  const oneLine = head.includes('/ ') && !head.includes('//');
  let s = head;
  for (let i = 0; i < n; i++) s += i % 200 === 199 && !oneLine ? `${piece}\n` : piece;
  return s + tail;
}

type Spec = readonly [head: string, piece: string, n: number, tail: string];

/** Within STRICT's 32 KB. */
const STRICT_SHAPES: Record<string, Spec> = {
  'a=a=a=... (15,000)': ['let a;\na=', 'a=', 15_000, '1;\nreturn a;'],
};

/** Within STANDARD's 256 KB and its nesting limit. */
const SHAPES: Record<string, Spec> = {
  ...STRICT_SHAPES,
  'a = a = ... (14,000)': ['let a;\na = ', 'a = ', 14_000, '1;\nreturn a;'],
  'a ? 1 : a ? 1 : ... (14,000)': ['const a = 0;\nreturn ', 'a ? 1 : ', 14_000, '0;'],
  'x => x => ... (14,000)': ['const f = ', 'x => ', 14_000, '0;\nreturn 1;'],
  'if (a) if (a) ... (9,000)': ['const a = 1;\n', 'if (a) ', 9_000, 'return 1;\nreturn 0;'],
  'else if chains (9,000)': ['const a = 0;\nif (a) {}', ' else if (a) {}', 9_000, '\nreturn 1;'],
  '1 + 1 + ... (80,000)': ['return ', '1+', 80_000, '1;'],
};

/**
 * The pre-scan refuses these on the way to a run (too many brackets, too long a line), but check() and
 * scoring parse them: brackets and bodies, and chains on one line behind a `/` that the lexer read as a
 * regex literal's start and oxc as a division (the estimate skipped what it took for the regex).
 */
const BRACKET_SHAPES: Record<string, Spec> = {
  '6,000 nested parentheses': ['return ', '(', 6000, `1${')'.repeat(6000)};`],
  '4,000 nested getters': ['return ', '{ get a() { return ', 4000, `1${' } }'.repeat(4000)};`],
  'a ? a : ... behind `of /`': ['let of = 1, a = 0;\nconst r = of / ', 'a?a:', 20_000, 'a / 1;\nreturn r;'],
  'a ? a : ... behind `await /`': ['function f(a) { return await / ', 'a?a:', 20_000, 'a / 1; }\nreturn 1;'],
};

/** Code that nests as real code does: it must run. */
const LEGIT = `let a, b, c, d; a = b = c = d = 2;
const x = 55;
const grade = ${Array.from({ length: 60 }, (_, i) => `x > ${100 - i} ? ${i}`).join(' : ')} : -1;
const n = ${chain('', '1 + ', 150, '1')};
let s = '';
s = ${chain('', "'x' + ", 200, "'y'")};
let k = 0;
if (x === -1) k = -1;${Array.from({ length: 300 }, (_, i) => ` else if (x === ${i}) { k = ${i}; }`).join('\n')}
const deep = !!!(-(+(~~(typeof void 0))).length);
return [a + b + c + d, grade, n, s.length, k, deep];`;
/** What V8 makes of it. */
const LEGIT_VALUE = new Function(LEGIT)() as unknown[];

// The texts are built in the child: a process's arguments cannot carry them.
const CHILD = `
const { checkAgentScript, scoreAgentScript } = await import(ENGINE);
${chain.toString()}
const build = (specs) => Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, chain(...spec)]));
const shapes = build(${JSON.stringify(SHAPES)});
const strict = build(${JSON.stringify(STRICT_SHAPES)});
const brackets = build(${JSON.stringify(BRACKET_SHAPES)});
const out = {};
const code = (r) => (r.success ? 'OK' : r.error.code + ':' + (r.error.data?.ruleId ?? r.error.message.match(/\\[([a-z/-]+)\\]/)?.[1] ?? ''));
const rows = [
  ['STANDARD', {}],
  ['STANDARD validate:false transform:false', { validate: false, transform: false }],
  ['worker_threads STANDARD validate:false', { adapter: 'worker_threads', validate: false }],
];
for (const [label, options] of rows) {
  const enclave = new Enclave(options);
  for (const [name, text] of Object.entries(shapes)) out[label + ' | run | ' + name] = code(await enclave.run(text, { timeout: 20000 }));
  for (const [name, text] of Object.entries({ ...shapes, ...brackets })) {
    const report = enclave.check(text);
    out[label + ' | check | ' + name] = report.ok ? 'OK' : report.issues.map((i) => i.ruleId).join(',');
  }
  out[label + ' | legit'] = JSON.stringify((await enclave.run(${JSON.stringify(LEGIT)}, { timeout: 20000 })).value ?? null);
  enclave.dispose();
}
const strictEnclave = new Enclave({ securityLevel: 'STRICT' });
for (const [name, text] of Object.entries(strict)) out['STRICT | run | ' + name] = code(await strictEnclave.run(text, { timeout: 20000 }));
strictEnclave.dispose();
for (const [name, text] of Object.entries({ ...shapes, ...brackets })) {
  out['scoreAgentScript | ' + name] = String(scoreAgentScript(text));
  const r = checkAgentScript(text, { validate: false });
  out['checkAgentScript | ' + name] = r.ok ? 'OK' : r.issues.map((i) => i.ruleId).join(',');
}
console.log('RESULT ' + JSON.stringify(out));
`;

const children = new ChildBatch(1);
const key = children.add('parser depth', CHILD, { killAfterMs: 240_000 });
beforeAll(() => children.start(), 120_000);

describe('invariant 8: no nesting of a text kills the host while it is parsed (child process)', () => {
  it('every deep shape is refused before oxc reads it, by run, check, checkAgentScript and scoreAgentScript; real nesting runs', async () => {
    const child = await children.result(key);
    expect(child.signal, describeChild(child)).toBeNull();
    expect(child.code, describeChild(child)).toBe(0);
    expect(child.stderr, 'the host process wrote to stderr').toBe('');
    const out = childResult(child) as Record<string, string>;
    for (const [name, outcome] of Object.entries(out)) {
      // A chain behind a `/` that reads two ways is refused for that `/`, under its own rule.
      const rule = name.includes('behind `') ? 'prescan/ambiguous-slash' : 'prescan/depth';
      if (name.endsWith('| legit')) expect(outcome, name).toBe(JSON.stringify(LEGIT_VALUE));
      else if (name.includes('| run |')) expect(outcome, name).toBe(`VALIDATION_ERROR:${rule}`);
      else if (name.startsWith('scoreAgentScript')) expect(outcome, name).toBe('undefined');
      // The pre-scan's own limits may answer first where it runs (check, checkAgentScript).
      else if (Object.keys(BRACKET_SHAPES).some((b) => name.endsWith(b))) expect(outcome, name).toMatch(/^prescan\//);
      else expect(outcome.split(','), name).toContain(rule);
    }
    // Not vacuous: every way in was tried with every shape.
    expect(Object.keys(out)).toHaveLength(3 * (7 + 7 + 4 + 1) + 1 + 2 * (7 + 4));
  }, 250_000);
});
