import { describe, expect, it } from 'vitest';
import { decodeToolArgs, MAX_DECODE_DEPTH, TOO_MANY_VALUES } from './codec.js';

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
