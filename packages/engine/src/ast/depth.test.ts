/**
 * The parse-depth estimate must reach its limit well before oxc's native recursion overflows a stack
 * (7,000 levels of the costliest kinds on an 8 MB stack, 3,000 of nested getters), for every way of
 * nesting, and must stay low on flat code, however long.
 */
import { describe, expect, it } from 'vitest';
import { LEVEL_CONFIGS } from '../levels.js';
import { prescan } from '../scan/index.js';
import { MAX_PARSE_DEPTH, lexWithDepth, parseDepthExceeded } from './depth.js';
import { lex, type LexSink } from './lexer.js';
import { parseAgentScript } from './parse.js';

/** The smallest `n` for which `make(n)` is refused (up to `cap`), or Infinity. */
function refusedAt(make: (n: number) => string, cap = 1 << 18): number {
  let n = 1;
  while (n <= cap && parseDepthExceeded(make(n)) < 0) n *= 2;
  if (n > cap) return Infinity;
  let lo = n / 2;
  let hi = n;
  while (hi - lo > 1) {
    const m = Math.floor((lo + hi) / 2);
    if (parseDepthExceeded(make(m)) >= 0) hi = m;
    else lo = m;
  }
  return hi;
}

const rep = (s: string, n: number) => s.repeat(n);

/** Nestings that cost about 1 KB of native stack a level: refused by MAX_PARSE_DEPTH levels. */
const HEAVY: Record<string, (n: number) => string> = {
  assignments: (n) => `a=${rep('a=', n)}1`,
  'compound assignments': (n) => `${rep('a||=', n)}1`,
  conditionals: (n) => `${rep('a?1:', n)}0`,
  arrows: (n) => `f=${rep('async x=>', n)}0`,
  spreads: (n) => `f(${rep('...', n)}a)`,
  'if without braces': (n) => `${rep('if(a)', n)};`,
  'if with braces': (n) => `${rep('if(a){', n)}${rep('}', n)}`,
  'else if': (n) => `if(a);${rep('else if(a);', n)}`,
  'else if with braces': (n) => `if(a){}${rep('else if(a){}', n)}`,
  'loops and labels': (n) => `${Array.from({ length: n }, (_, i) => `l${i}:while(a)for(;;)do `).join('')};`,
  'class heritage': (n) => `x=${rep('class extends ', n)}B${rep('{}', n)}`,
  'keywords spelled with escapes': (n) => `x=${rep('n\\u0065w \\u0069f(a)', n)}D`,
  // A statement whose expression holds a body or an object literal does not end at its braces.
  'else after an object literal': (n) => `${rep(`${rep('if(a)', 100)}x={};else `, Math.ceil(n / 100))};`,
  'else after a function expression': (n) => `${rep(`${rep('if(a)', 100)}g(function(){})+1;else `, Math.ceil(n / 100))};`,
  'else after an arrow body': (n) => `${rep(`${rep('if(a)', 100)}g(()=>{})+1;else `, Math.ceil(n / 100))};`,
  brackets: (n) => `x=${rep('(', n)}1${rep(')', n)}`,
  templates: (n) => `x=${rep('`${', n)}1${rep('}`', n)}`,
  getters: (n) => `x=${rep('{get a(){return ', n)}1${rep('}}', n)}`,
};

/**
 * Cheaper levels, each with the repetitions by which it must be refused: under a third of the levels at
 * which oxc overflowed an 8 MB stack (prefix operators 25,000, `new` 16,000, `**` 20,000).
 */
const MEDIUM: Record<string, [(n: number) => string, number]> = {
  'prefix operators': [(n) => `${rep('- ! ~ ', n)}1`, 8192 / 3],
  'new, typeof, await': [(n) => `async function f(){${rep('new typeof await ', n)}D}`, 2048],
  exponents: [(n) => `${rep('2**', n)}1`, 2731],
};

/** Chains of about 100 bytes of stack a level: refused by eight times as many. */
const LIGHT: Record<string, (n: number) => string> = {
  'binary operators': (n) => `${rep('a+', n)}a`,
  'logical operators': (n) => `${rep('a&&', n)}a`,
  instanceof: (n) => `${rep('a instanceof ', n)}a`,
  calls: (n) => `f${rep('()', n)}`,
  members: (n) => `a${rep('.b', n)}`,
  'optional chains': (n) => `a${rep('?.b', n)}`,
  'tagged templates': (n) => `f${rep('``', n)}`,
  'postfix increments': (n) => `${rep('a++ +', n)}1`,
};

describe('parseDepthExceeded', () => {
  it.each(Object.entries(HEAVY))('refuses %s by MAX_PARSE_DEPTH levels', (_name, make) => {
    expect(refusedAt(make)).toBeLessThanOrEqual(MAX_PARSE_DEPTH + 2);
  });

  it.each(Object.entries(MEDIUM))('refuses %s in time', (_name, [make, by]) => {
    expect(refusedAt(make)).toBeLessThanOrEqual(Math.ceil(by) + 2);
  });

  it.each(Object.entries(LIGHT))('refuses %s by eight times MAX_PARSE_DEPTH', (_name, make) => {
    expect(refusedAt(make)).toBeLessThanOrEqual(8 * MAX_PARSE_DEPTH + 2);
  });

  it('never refuses flat code of thousands of statements, nor depth inside strings, comments and regex literals', () => {
    const flat = [
      'a = b = 1;',
      'if (a) { x(); }',
      'if (a) x();',
      'f(a = 1, b ? c : d, ...e);',
      'const o = { k: v, get g() { return 1; } };',
      'switch (x) { case 1: y = 2; break; }',
      'while (a) { a--; }',
      'class C extends D {}',
      "s = 'a=a=a=a=a=?:?:!!!';",
      '// if(a) if(a) if(a) = = = ? ? ?',
      'r = /=+\\?+!+/g;',
      't = `=${1}=?:`;',
    ];
    for (const line of flat) expect(parseDepthExceeded(`${line}\n`.repeat(5000)), line).toBe(-1);
  });

  it('refuses a `/` that the lexer and a parser may read two ways, and a keyword spelled with escapes, and only those', () => {
    const ambiguous = ['\\u0069f (a) /`/;', 'x = n\\u0065w D;', 'let of = 1; x = of / a / 1;', 'function f() { return await / a / 1; }', 'for await (const x of y) /`/;', 'if (a) {}\n/re/.test(s);', 'while (a) { break\n/`/ }', 'debugger\n/x/;', 'x = {} / 2;', 'for (const x of /re/.exec(s));'];
    for (const text of ambiguous) expect(parseDepthExceeded(text), text).toBeGreaterThanOrEqual(0);
    const plain = ['x = \\u0061bc / 2;', 'x = a.of / 2;', 'x = f(a) / 2;', 'return /re/.test(s);', 'if (a) /re/.test(s);', 'x = a / b / c;', 'x = `${a}/${b}`;', 'x = ({}) / 2;', 'await f(/re/);'];
    for (const text of plain) expect(parseDepthExceeded(text), text).toBe(-1);
  });

  it('locates the token that passes the limit', () => {
    const text = `let a;\n${'a='.repeat(2000)}1;`;
    const at = parseDepthExceeded(text);
    expect(at).toBeGreaterThan(6);
    expect(text[at]).toBe('=');
  });
});

/** A pass's sink that wants nothing, or that is full after `limit` events (as the pre-scan's is at 50 issues). */
function passSink(limit = Infinity): LexSink & { events: string[] } {
  const events: string[] = [];
  const note = (e: string) => {
    events.push(e);
  };
  return {
    events,
    get full() {
      return events.length >= limit;
    },
    special: (o, cp) => note(`special ${o} ${cp}`),
    lineSeparator: (o) => note(`separator ${o}`),
    identifier: (a, b) => note(`identifier ${a} ${b}`),
    open: (o, d) => note(`open ${o} ${d}`),
    regex: (a, b, c) => note(`regex ${a} ${b} ${c}`),
    close: (o, d, st) => note(`close ${o} ${d} ${st}`),
    word: (a, b) => note(`word ${a} ${b}`),
    punctuator: (o, c) => note(`punctuator ${o} ${c}`),
  };
}

describe('lexWithDepth (the estimate taken along with the pre-scan\'s lex)', () => {
  const texts = [
    ...Object.values(HEAVY).flatMap((make) => [make(MAX_PARSE_DEPTH / 2), make(MAX_PARSE_DEPTH + 2)]),
    ...Object.values(MEDIUM).flatMap(([make, by]) => [make(Math.floor(by / 2)), make(Math.ceil(by) + 2)]),
    ...Object.values(LIGHT).flatMap((make) => [make(4 * MAX_PARSE_DEPTH), make(8 * MAX_PARSE_DEPTH + 2)]),
    '\\u0069f (a) /`/;',
    'let of = 1; x = of / a / 1;',
    'x = a / b / c;',
    '#!/usr/bin/env node\nx = 1;',
    `x = 1;\n${'a='.repeat(3000)}1; s = '\u202e\u200b';`,
  ];

  it('reaches the verdict the estimate reaches alone, and hands the pass every event it would get alone', () => {
    for (const text of texts) {
      const alone = parseDepthExceeded(text);
      const solo = passSink();
      lex(text, solo);
      const teed = passSink();
      expect(lexWithDepth(text, teed), text.slice(0, 40)).toBe(alone);
      expect(teed.events).toEqual(solo.events);
      expect(parseDepthExceeded(text)).toBe(alone);
    }
  });

  it('gives no verdict when the pass stopped the lex first, and parseDepthExceeded then reads the whole text itself', () => {
    const text = `x = 1;\n${'a='.repeat(3000)}1;`;
    const alone = parseDepthExceeded(text);
    expect(alone).toBeGreaterThan(8);
    const stopped = passSink(3);
    expect(lexWithDepth(text, stopped)).toBeUndefined();
    expect(stopped.events).toHaveLength(3);
    expect(parseDepthExceeded(text)).toBe(alone);
    // Refused before the pass stopped: that verdict is final.
    const early = `${'a='.repeat(3000)}1;`;
    const refused = parseDepthExceeded(early);
    // Two events (a word, a punctuator) a level: the pass stops some levels after the refusal.
    const pass = passSink(2 * MAX_PARSE_DEPTH + 100);
    expect(lexWithDepth(early, pass)).toBe(refused);
    expect(pass.events.length).toBeLessThan(4000);
  });

  it('a text whose pre-scan stops at 50 problems is still measured before oxc reads it', () => {
    // 60 problems before the chain: the pre-scan's lex stops at the 50th and never sees the chain.
    const text = `const s = '${'\0'.repeat(20)}${'\u202e'.repeat(20)}${'\u200b'.repeat(20)}';\nlet a;\n${'a='.repeat(3000)}1;`;
    const scanned = prescan(text, { ...LEVEL_CONFIGS.STANDARD.scan, maxLineLength: 1 << 20 }, 'STANDARD');
    expect(scanned.length).toBeGreaterThanOrEqual(50);
    expect(parseAgentScript(text).syntaxErrors.map((e) => e.ruleId)).toEqual(['prescan/depth']);
  });
});

describe('keywords spelled with escapes', () => {
  it('refuses them, except a property name right after its dot and the names get, set, async and of', () => {
    const refused = ['\\u0069f (a) b;', 'x = [...\\u0069f];', 'x = o. \\u0069f;', 'x = o./**/\\u0069f;', 'x = \\u0061wait f();', 'l\\u0065t x = 1;', 'x = 1 \\u0069n o;'];
    for (const text of refused) expect(parseDepthExceeded(text), text).toBeGreaterThanOrEqual(0);
    const names = ['x = o.\\u0069f;', 'x = o?.\\u{69}f;', 'const \\u{67}et = 1;', 'x = { \\u0073et: 1 };', 'const \\u0061sync = 1;', 'x = o.\\u0074ypeof / 2;'];
    for (const text of names) expect(parseDepthExceeded(text), text).toBe(-1);
  });
});
