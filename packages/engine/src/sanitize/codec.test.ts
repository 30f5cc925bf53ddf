import { describe, expect, it } from 'vitest';
import { prng } from '../../test/prng.js';
import { checkMessage } from '../sandbox/worker-protocol.js';
import { decodeToolArgs, jsonWithin, MAX_DECODE_DEPTH, TOO_MANY_VALUES } from './codec.js';

/** The fewest values a text may hold and still decode: its own count. */
function count(text: string): number {
  let n = 1;
  while (decodeToolArgs(text, n) === TOO_MANY_VALUES) n++;
  return n;
}

describe('decodeToolArgs', () => {
  it('counts the text, every array element and every property, once each', () => {
    expect(count('1')).toBe(1);
    expect(count('[]')).toBe(1);
    expect(count('{}')).toBe(1);
    expect(count('[1]')).toBe(2);
    expect(count('[1,2,3]')).toBe(4);
    expect(count('[{},[],{}]')).toBe(4);
    expect(count('{"a":[1,2],"b":{"c":null}}')).toBe(6);
  });

  it('reads whitespace, and commas and brackets inside strings, as JSON does', () => {
    expect(count(' [ ] ')).toBe(1);
    expect(count('[ \n\t1 , 2 ]')).toBe(3);
    expect(count('{ "a" : [ ] }')).toBe(2);
    expect(count('["a,b", "[{,}]", "\\",["]')).toBe(4);
  });

  it('counts long texts on the same terms (no shortcut past the cap)', () => {
    const text = JSON.stringify({ ids: Array.from({ length: 5000 }, (_, i) => `id${i}`) });
    expect(decodeToolArgs(text, 5002)).toEqual(JSON.parse(text));
    expect(decodeToolArgs(text, 5001)).toBe(TOO_MANY_VALUES);
    const empties = `[${Array(3000).fill('{}').join(',')}]`;
    expect(decodeToolArgs(empties, 3001)).toHaveLength(3000);
    expect(decodeToolArgs(empties, 3000)).toBe(TOO_MANY_VALUES);
  });

  it('still refuses text nested too deeply, and text that is not JSON', () => {
    expect(() => decodeToolArgs(`${'['.repeat(MAX_DECODE_DEPTH + 1)}${']'.repeat(MAX_DECODE_DEPTH + 1)}`, 1e9)).toThrow(RangeError);
    expect(() => decodeToolArgs(`[${'1,'.repeat(2000)}`, 1e9)).toThrow();
  });
});

/**
 * The counter that guards the host's JSON.parse of what a worker or a runtime node sent (jsonWithin,
 * checkMessage's cap) against the structure JSON.parse really builds: a text it counts short is a memory
 * bomb past the check. Generated texts (every kind of value, whitespace runs inside empty containers and
 * between tokens, strings of escapes that spell quotes, backslashes and brackets, numbers V8 reads as
 * Infinity or -0, deep chains) and single-character mutations of them, seeded.
 */
describe('jsonWithin against what JSON.parse builds', () => {
  interface Made { text: string; values: number; depth: number }

  const random = prng(0x5eed_0b0b);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const SPACES = [' ', '\t', '\n', '\r', '  \t ', '\r\n', ' '.repeat(40)];
  const gap = () => (random() < 0.3 ? Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(SPACES)).join('') : '');
  const NUMBERS = ['0', '-0', '1e400', '-1e400', '1E+2', '0.5e-10', '123456789012345678901234567890', '-12.75', '4e-400'];
  // Escapes of the characters a counter must not take for structure: quotes, backslashes, brackets, commas.
  const PIECES = ['a', ',', '[', ']', '{', '}', ':', '\\"', '\\\\', '\\/', '\\n', '\\u0022', '\\u005c', '\\u005B', '\\u002c', '\\uD800', '\\\\\\"', 'é', '😀', '\\t'];
  const string = () => `"${Array.from({ length: Math.floor(random() * 6) }, () => pick(PIECES)).join('')}"`;

  /** A JSON text of a value, its count of values as jsonWithin counts them (the text, each element, each property), and its depth. */
  function make(depth: number): Made {
    const r = random();
    if (depth <= 0 || r < 0.3) {
      const text = pick([string, () => pick(NUMBERS), () => pick(['true', 'false', 'null'])])();
      return { text, values: 1, depth: 0 };
    }
    const n = random() < 0.2 ? 0 : Math.floor(random() * 5);
    const items = Array.from({ length: n }, () => make(depth - 1));
    const array = r < 0.65;
    const parts = items.map((m) => `${gap()}${array ? '' : `${string()}${gap()}:${gap()}`}${m.text}${gap()}`);
    const inner = parts.length === 0 ? gap() : parts.join(',');
    return {
      text: array ? `[${inner}]` : `{${inner}}`,
      values: 1 + items.reduce((sum, m) => sum + m.values, 0),
      depth: 1 + items.reduce((most, m) => Math.max(most, m.depth), 0),
    };
  }

  /** What JSON.parse built: values (duplicate keys counted once, as the object holds them) and depth. */
  function built(v: unknown): { values: number; depth: number } {
    if (v === null || typeof v !== 'object') return { values: 1, depth: 0 };
    let values = 1;
    let depth = 0;
    for (const x of Object.values(v)) {
      const b = built(x);
      values += b.values;
      depth = Math.max(depth, b.depth);
    }
    return { values, depth: depth + 1 };
  }

  const texts: Made[] = [];
  for (let i = 0; i < 2500; i++) texts.push(make(1 + Math.floor(random() * 6)));
  // Deep chains around the host's depth cap, with whitespace runs in the empty innermost container.
  for (const d of [MAX_DECODE_DEPTH - 1, MAX_DECODE_DEPTH, MAX_DECODE_DEPTH + 1]) {
    texts.push({ text: `${'['.repeat(d)}${gap()}${']'.repeat(d)}`, values: d === 0 ? 1 : d, depth: d });
    texts.push({ text: `${'{"k":'.repeat(d)}${pick(NUMBERS)}${'}'.repeat(d)}`, values: d + 1, depth: d });
  }

  it('gives the verdict the generated structure calls for, at and around each text\'s own counts', () => {
    let checked = 0;
    for (const { text, values, depth } of texts) {
      const got = built(JSON.parse(text));
      // The generator's counts are the text's: JSON.parse never builds more (a duplicate key keeps one value).
      expect(got.depth).toBeLessThanOrEqual(depth);
      expect(got.values).toBeLessThanOrEqual(values);
      for (const [d, v] of [[depth, values], [depth - 1, values], [depth, values - 1], [depth + 1, values + 1]] as const) {
        if (d < 0 || v < 1) continue;
        expect(jsonWithin(text, d, v), `${JSON.stringify(text.slice(0, 200))} at depth ${d}, ${v} values`).toBe(d >= depth && v >= values);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(7000);
  });

  it('never lets through a mutant JSON.parse accepts with more values or depth than the cap', () => {
    let accepted = 0;
    const CHARS = ['[', ']', '{', '}', ',', '"', '\\', ':', ' ', '0', 'u', '1'];
    for (const { text } of texts.slice(0, 2500)) {
      for (let m = 0; m < 3; m++) {
        const at = Math.floor(random() * (text.length + 1));
        const mutant = random() < 0.5 ? `${text.slice(0, at)}${pick(CHARS)}${text.slice(at)}` : `${text.slice(0, at)}${text.slice(at + 1)}`;
        let parsed: unknown;
        try {
          parsed = JSON.parse(mutant);
        } catch {
          // Not JSON: JSON.parse refuses it after the count, whatever the count said.
          continue;
        }
        accepted++;
        const { values, depth } = built(parsed);
        if (values > 1) expect(jsonWithin(mutant, depth, values - 1), JSON.stringify(mutant.slice(0, 200))).toBe(false);
        if (depth > 0) expect(jsonWithin(mutant, depth - 1, values), JSON.stringify(mutant.slice(0, 200))).toBe(false);
      }
    }
    expect(accepted).toBeGreaterThan(500);
  });

  it('checkMessage refuses the tuple over its cap and parses the one at it', () => {
    for (const { text, values, depth } of texts.slice(0, 500)) {
      if (text.includes('\n') || depth + 1 > MAX_DECODE_DEPTH) continue;
      const message = `["log",${text}]`;
      expect(checkMessage(message, 1e9, values + 2).message[1]).toEqual(JSON.parse(text));
      expect(() => checkMessage(message, 1e9, values + 1)).toThrow(RangeError);
    }
  });
});
