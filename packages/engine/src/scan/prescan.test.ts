import { parseSync } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import { LEVEL_CONFIGS, SECURITY_LEVELS, type ScanLimits, type SecurityLevel } from '../levels.js';
import type { Issue } from '../source.js';
import { analyzeRegex, prescan } from './index.js';
import { lex, type LexSink } from '../ast/lexer.js';
import { prng } from '../../test/prng.js';

function scan(code: string, level: SecurityLevel = 'STANDARD', overrides: Partial<ScanLimits> = {}): Issue[] {
  return prescan(code, { ...LEVEL_CONFIGS[level].scan, ...overrides }, level);
}

function rules(issues: Issue[]): string[] {
  return issues.map((i) => i.ruleId);
}

function only(issues: Issue[], ruleId: string): Issue[] {
  return issues.filter((i) => i.ruleId === ruleId);
}

function pos(issue: Issue | undefined): [number, number] {
  if (issue === undefined) throw new Error('expected an issue');
  return [issue.line, issue.column];
}

/** 1-based line/column of the n-th occurrence of `needle`, computed independently of LineIndex (LF only). */
function locOf(code: string, needle: string, nth = 0): [number, number] {
  let at = -1;
  for (let k = 0; k <= nth; k++) {
    at = code.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`needle ${JSON.stringify(needle)} not found`);
  }
  const before = code.slice(0, at).split('\n');
  return [before.length, (before[before.length - 1] as string).length + 1];
}

const STRICT_TEXT_LEVELS: SecurityLevel[] = ['STRICT', 'SECURE'];
const LENIENT_TEXT_LEVELS: SecurityLevel[] = ['STANDARD', 'PERMISSIVE'];

const AGENT_SCRIPT = `// Summarize the user's open orders.
const orders = await callTool('orders.list', { userId: input.userId, status: 'open' });
const rows = orders.items
  .filter((o) => o.total > 10 && o.currency === 'EUR')
  .map((o) => ({ id: o.id, total: Math.round(o.total * 100) / 100 }));
let sum = 0;
for (const r of rows) {
  sum += r.total / 2;
}
const label = \`Total: \${sum.toFixed(2)} (\${rows.length} orders)\`;
return { label, rows, note: "Überweisung fällig — 5 € / Stück, 日本語もOK" };
`;

describe('prescan: clean code', () => {
  it.each(SECURITY_LEVELS)('accepts a typical agent script at %s', (level) => {
    expect(scan(AGENT_SCRIPT, level)).toEqual([]);
  });

  it('accepts the empty string and whitespace', () => {
    expect(scan('')).toEqual([]);
    expect(scan('\n\n  \t\n')).toEqual([]);
  });

  it('accepts a byte order mark at the very start', () => {
    expect(scan('\uFEFFconst a = 1;', 'STRICT')).toEqual([]);
  });

  it('accepts a hashbang line', () => {
    expect(scan('#!/usr/bin/env node\nconst a = 1;', 'STRICT')).toEqual([]);
  });

  it('never throws on a non-string (defensive) and reports it', () => {
    const issues = prescan(42 as unknown as string, LEVEL_CONFIGS.STANDARD.scan, 'STANDARD');
    expect(rules(issues)).toEqual(['prescan/invalid-input']);
  });
});

describe('prescan: size', () => {
  it('reports code over maxCodeBytes at 1:1 and nothing else', () => {
    const code = `${'\u0000\u202E'}${'x'.repeat(200)}`;
    const issues = scan(code, 'STANDARD', { maxCodeBytes: 100 });
    expect(rules(issues)).toEqual(['prescan/size']);
    expect(pos(issues[0])).toEqual([1, 1]);
    expect(issues[0]?.message).toContain('100');
    expect(issues[0]?.hint).toBeTruthy();
  });

  it('counts UTF-8 bytes, not characters', () => {
    const code = `"${'é'.repeat(38)}"`; // 40 characters, 78 bytes
    expect(code.length).toBe(40);
    const issues = scan(code, 'STANDARD', { maxCodeBytes: 60 });
    expect(rules(issues)).toEqual(['prescan/size']);
    expect(issues[0]?.message).toContain('78 bytes');
    expect(issues[0]?.message).toContain('60');
  });

  it('accepts code exactly at the limit', () => {
    const code = `"${'é'.repeat(38)}"`; // 78 bytes
    expect(scan(code, 'STANDARD', { maxCodeBytes: 78 })).toEqual([]);
    expect(rules(scan(code, 'STANDARD', { maxCodeBytes: 77 }))).toEqual(['prescan/size']);
  });

  it('counts astral characters as 4 bytes', () => {
    const code = `"${'😀'.repeat(10)}"`; // 2 + 40 bytes
    expect(scan(code, 'STANDARD', { maxCodeBytes: 42 })).toEqual([]);
    expect(rules(scan(code, 'STANDARD', { maxCodeBytes: 41 }))).toEqual(['prescan/size']);
  });

  it('rejects a huge input cheaply, reporting only its size', () => {
    const code = 'a'.repeat(5 * 1024 * 1024);
    const issues = scan(code, 'STRICT');
    expect(rules(issues)).toEqual(['prescan/size']);
    expect(issues[0]?.message).toContain(String(5 * 1024 * 1024));
  });
});

describe('prescan: lines', () => {
  it('reports more than maxLines lines at the first line over the limit', () => {
    const code = Array.from({ length: 6 }, (_, i) => `const a${i} = ${i};`).join('\n');
    const issues = scan(code, 'STANDARD', { maxLines: 5 });
    expect(rules(issues)).toEqual(['prescan/lines']);
    expect(pos(issues[0])).toEqual([6, 1]);
    expect(issues[0]?.message).toContain('6 lines');
    expect(issues[0]?.message).toContain('5');
  });

  it('accepts exactly maxLines lines, with or without a final line break', () => {
    const code = Array.from({ length: 5 }, (_, i) => `const a${i} = ${i};`).join('\n');
    expect(scan(code, 'STANDARD', { maxLines: 5 })).toEqual([]);
    expect(scan(`${code}\n`, 'STANDARD', { maxLines: 5 })).toEqual([]);
    expect(rules(scan(`${code}\n\n`, 'STANDARD', { maxLines: 5 }))).toEqual(['prescan/lines']);
  });

  it('counts CRLF, CR, LS and PS as line terminators like LineIndex does', () => {
    // (U+2028 and U+2029 are refused in code for what they are, see below; counting is what matters here.)
    const code = 'a;\r\nb;\rc;\u2028d;\u2029e;';
    expect(rules(scan(code, 'STANDARD', { maxLines: 5 }))).toEqual(['prescan/line-separator', 'prescan/line-separator']);
    const issues = only(scan(code, 'STANDARD', { maxLines: 4 }), 'prescan/lines');
    expect(issues).toHaveLength(1);
    expect(pos(issues[0])).toEqual([5, 1]);
  });
});

describe('prescan: line length', () => {
  it('reports every line over maxLineLength at the first column past the limit', () => {
    const long = `const s = "${'x'.repeat(30)}";`; // 43 characters
    const code = ['const a = 1;', long, 'const b = 2;', long].join('\n');
    const issues = scan(code, 'STANDARD', { maxLineLength: 20 });
    expect(rules(issues)).toEqual(['prescan/line-length', 'prescan/line-length']);
    expect(pos(issues[0])).toEqual([2, 21]);
    expect(pos(issues[1])).toEqual([4, 21]);
    expect(issues[0]?.message).toContain('Line 2 is 43 characters');
  });

  it('accepts lines exactly at the limit, and does not count the line terminator', () => {
    const line = 'x'.repeat(20);
    expect(scan(`${line}\r\n${line}\n${line}`, 'STANDARD', { maxLineLength: 20 })).toEqual([]);
    expect(rules(scan(`${line}y`, 'STANDARD', { maxLineLength: 20 }))).toEqual(['prescan/line-length']);
  });

  it('measures columns in UTF-16 units', () => {
    const code = `"${'😀'.repeat(10)}"`; // 22 units
    expect(scan(code, 'STANDARD', { maxLineLength: 22 })).toEqual([]);
    expect(pos(scan(code, 'STANDARD', { maxLineLength: 21 })[0])).toEqual([1, 22]);
  });

  it('caps the number of reported lines and says more were not listed', () => {
    const code = Array.from({ length: 30 }, () => 'y'.repeat(30)).join('\n');
    const issues = scan(code, 'STANDARD', { maxLineLength: 10 });
    expect(issues.length).toBe(20);
    expect(issues.every((i) => i.ruleId === 'prescan/line-length')).toBe(true);
    expect(issues[19]?.message).toContain('not listed');
  });
});

describe('prescan: NUL', () => {
  it.each(SECURITY_LEVELS)('blocks NUL everywhere at %s', (level) => {
    const code = 'const a\u0000 = "b\u0000"; // c\u0000\nconst t = `d\u0000`; /* e\u0000 */';
    const issues = only(scan(code, level), 'prescan/null-byte');
    expect(issues.map(pos)).toEqual([[1, 8], [1, 14], [1, 22], [2, 13], [2, 21]]);
    expect(issues[1]?.message).toContain('string');
    expect(issues[2]?.message).toContain('comment');
  });

  it('blocks NUL inside a regex literal', () => {
    const issues = scan('x = /a\u0000b/.test(s);');
    expect(rules(issues)).toEqual(['prescan/null-byte']);
    expect(pos(issues[0])).toEqual([1, 7]);
  });
});

describe('prescan: Trojan Source (BiDi controls)', () => {
  const BIDI = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c];

  it.each(SECURITY_LEVELS)('blocks every BiDi control inside string literals at %s', (level) => {
    for (const cp of BIDI) {
      const code = `const s = "a${String.fromCodePoint(cp)}b";`;
      const issues = scan(code, level);
      expect(rules(issues), cp.toString(16)).toEqual(['prescan/bidi']);
      expect(pos(issues[0])).toEqual([1, 13]);
      expect(issues[0]?.message).toContain(`U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    }
  });

  it.each(SECURITY_LEVELS)('blocks BiDi controls in comments, templates, code and regexes at %s', (level) => {
    const code = [
      '// comment \u202E here',
      '/* block \u2066 */',
      'const t = `x\u2067y`;',
      'const u\u200F = 1;',
      'x = /a\u202Db/;',
    ].join('\n');
    const issues = only(scan(code, level), 'prescan/bidi');
    expect(issues.map(pos)).toEqual([locOf(code, '\u202E'), locOf(code, '\u2066'), locOf(code, '\u2067'), locOf(code, '\u200F'), locOf(code, '\u202D')]);
    expect(issues[0]?.message).toContain('comment');
    expect(issues[0]?.message).toContain('RIGHT-TO-LEFT OVERRIDE');
    expect(issues[2]?.message).toContain('template');
  });

  it('catches the classic early-return attack from the Trojan Source paper', () => {
    const code = 'const accessLevel = "user";\nif (accessLevel != "user\u202E \u2066// Check if admin\u2069 \u2066") {\n  return "admin";\n}';
    const issues = scan(code, 'PERMISSIVE');
    expect(rules(issues)).toEqual(['prescan/bidi', 'prescan/bidi', 'prescan/bidi', 'prescan/bidi']);
    expect(pos(issues[0])).toEqual([2, 25]);
  });

  it('gives a hint that proposes an escape inside literals', () => {
    const issues = scan('const s = "\u202E";');
    expect(issues[0]?.hint).toContain('\\u202E');
  });
});

describe('prescan: invisible characters', () => {
  const INVISIBLE = [
    0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x00ad, 0x034f, 0x180e, 0x115f, 0x1160, 0x3164,
    0xffa0, 0x17b4, 0x17b5, 0xfe00, 0xfe0f, 0xfeff, 0xe0001, 0xe0041, 0xe007f,
  ];

  it.each(SECURITY_LEVELS)('blocks every invisible character in comments at %s', (level) => {
    for (const cp of INVISIBLE) {
      const code = `// a${String.fromCodePoint(cp)}b\nconst x = 1;`;
      const issues = scan(code, level);
      expect(rules(issues), cp.toString(16)).toEqual(['prescan/invisible']);
      expect(pos(issues[0])).toEqual([1, 5]);
    }
  });

  it.each(SECURITY_LEVELS)('blocks every invisible character inside string literals at %s', (level) => {
    for (const cp of INVISIBLE) {
      const issues = scan(`const s = 'a${String.fromCodePoint(cp)}b';`, level);
      expect(rules(issues), cp.toString(16)).toEqual(['prescan/invisible']);
      expect(pos(issues[0])).toEqual([1, 13]);
      expect(issues[0]?.message).toContain('string literal');
    }
  });

  it.each(SECURITY_LEVELS)('blocks every invisible character inside template literals at %s', (level) => {
    for (const cp of INVISIBLE) {
      const issues = scan(`const t = \`a${String.fromCodePoint(cp)}b\`;`, level);
      expect(rules(issues), cp.toString(16)).toEqual(['prescan/invisible']);
      expect(issues[0]?.message).toContain('template literal');
    }
  });

  it.each(SECURITY_LEVELS)('refuses a tool name that reads the same as another one at %s (Trojan Source, invisible variant)', (level) => {
    const code = "const name = 'delete\u200BUser';\nif (name === 'deleteUser') return 0;\nreturn await callTool(name, {});";
    const issues = scan(code, level);
    expect(rules(issues)).toEqual(['prescan/invisible']);
    expect(pos(issues[0])).toEqual([1, 21]);
    expect(issues[0]?.hint).toContain('\\u200B');
  });

  it.each(SECURITY_LEVELS)('keeps emoji: joiners between emoji and variation selectors after one, in strings, templates and comments, at %s', (level) => {
    const emoji = [
      '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', // family: man, woman, girl
      '\u{1F469}\u{1F3FD}\u200D\u{1F4BB}', // technologist with a skin tone
      '\u{1F3F3}\uFE0F\u200D\u{1F308}', // rainbow flag: selector, then joiner
      '\u2764\uFE0F', // red heart
      '\u26A0\uFE0F', // warning sign
      '\u263A\uFE0E', // text presentation selector
      '1\uFE0F\u20E3', // keycap
      '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}', // flag of England
    ];
    for (const e of emoji) {
      const code = `// ${e} done\nconst s = "${e}"; const t = \`${e} \${s}\`; /* ${e} */\nconsole.log(s, t);`;
      expect(scan(code, level), JSON.stringify(e)).toEqual([]);
    }
  });

  it.each(SECURITY_LEVELS)('still refuses joiners and selectors that are not between or after emoji at %s', (level) => {
    const cases = [
      'const s = "a\u200Db";', // joiner between letters
      'const s = "\u{1F600}\u200Db";', // joiner after an emoji, before a letter
      'const s = "a\uFE0F";', // selector after a letter
      'const s = "\u{E0067}\u{E007F}";', // tags without the flag
      'const s = "\u{1F3F4}\u{E0041}\u{E0042}";', // tags without the cancel tag
    ];
    for (const code of cases) expect(rules(scan(code, level)), JSON.stringify(code)).toContain('prescan/invisible');
  });

  it.each(SECURITY_LEVELS)('blocks a zero-width space inside an identifier at %s', (level) => {
    const code = 'const ad\u200Bmin = true;\nif (ad\u200Bmin) {}';
    const issues = only(scan(code, level), 'prescan/invisible');
    expect(issues.map(pos)).toEqual([[1, 9], [2, 7]]);
  });

  it.each(SECURITY_LEVELS)('blocks a zero-width joiner inside an identifier at %s', (level) => {
    const issues = only(scan('let a\u200Db = 1;', level), 'prescan/invisible');
    expect(issues.map(pos)).toEqual([[1, 6]]);
    expect(issues[0]?.message).toContain('identifier');
  });

  it.each(SECURITY_LEVELS)('blocks the Hangul filler used as an invisible variable name at %s', (level) => {
    const code = 'const \u3164 = 1;\nreturn \u3164;';
    const issues = only(scan(code, level), 'prescan/invisible');
    expect(issues.map(pos)).toEqual([[1, 7], [2, 8]]);
  });

  it.each(SECURITY_LEVELS)('blocks stray invisible characters in code and regex literals at %s', (level) => {
    const code = 'const a = 1;\u2060\nconst r = /x\u200By/;';
    const issues = only(scan(code, level), 'prescan/invisible');
    expect(issues.map(pos)).toEqual([[1, 13], [2, 13]]);
  });

  it.each(SECURITY_LEVELS)('treats template expressions as code, not text, at %s', (level) => {
    const code = 'const t = `a\u200B${b\u200Bc}d`;';
    const issues = scan(code, level);
    expect(rules(issues)).toEqual(['prescan/invisible', 'prescan/invisible']);
    expect(issues.map(pos)).toEqual([[1, 13], [1, 17]]);
    expect(issues[0]?.message).toContain('template literal');
    expect(issues[1]?.message).toContain('in the code');
  });

  it.each(SECURITY_LEVELS)('finds invisible characters in strings nested in template expressions at %s', (level) => {
    const issues = scan('const t = `a${"\u200B" + `\u200D${"x"}`}b`;', level);
    expect(rules(issues)).toEqual(['prescan/invisible', 'prescan/invisible']);
    expect(issues.map((i) => i.message.includes('string literal') || i.message.includes('template literal'))).toEqual([true, true]);
  });

  it('blocks a byte order mark that is not the first character', () => {
    const issues = scan('const a = 1;\uFEFFconst b = 2;', 'PERMISSIVE');
    expect(rules(issues)).toEqual(['prescan/invisible']);
    expect(pos(issues[0])).toEqual([1, 13]);
  });

  it('reports tag characters (surrogate pairs) at the column of their first code unit', () => {
    const code = '"😀";// \u{E0041}';
    const issues = scan(code);
    expect(rules(issues)).toEqual(['prescan/invisible']);
    expect(pos(issues[0])).toEqual([1, 9]);
    expect(issues[0]?.message).toContain('U+E0041');
  });

  it('names the character and proposes an escape inside strings', () => {
    const issues = scan('const s = "a\u200Bb";', 'PERMISSIVE');
    expect(issues[0]?.message).toContain('ZERO WIDTH SPACE');
    expect(issues[0]?.hint).toContain('\\u200B');
  });

  it('lets escapes of invisible characters through: only raw characters are blocked', () => {
    expect(scan('const s = "a\\u200Bb\\u202E";', 'STRICT')).toEqual([]);
  });
});

describe('prescan: line separators outside string literals (Trojan Source)', () => {
  it.each(SECURITY_LEVELS)('refuses U+2028 and U+2029 that end a // comment at %s: the rest of the displayed line runs', (level) => {
    for (const sep of ['\u2028', '\u2029']) {
      const code = `const ok = true; // note: the call below stays disabled${sep}await callTool('deleteAll', {});\nreturn ok;`;
      const issues = scan(code, level);
      expect(rules(issues)).toEqual(['prescan/line-separator']);
      expect(pos(issues[0])).toEqual([1, 56]);
      expect(issues[0]?.message).toContain('ends this // comment');
      expect(issues[0]?.hint).toContain(sep === '\u2028' ? '\\u2028' : '\\u2029');
    }
  });

  it.each(SECURITY_LEVELS)('refuses them in code and in block comments at %s', (level) => {
    const issues = scan('const a = 1;\u2028const b = 2; /* x\u2029y */', level);
    expect(rules(issues)).toEqual(['prescan/line-separator', 'prescan/line-separator']);
    expect(issues[1]?.message).toContain('comment');
  });

  it.each(SECURITY_LEVELS)('allows them inside string and template literals at %s (ES2019 allows them there)', (level) => {
    expect(scan('const s = "a\u2028b"; const t = `c\u2029d`;', level)).toEqual([]);
  });
});

describe('prescan: homoglyphs and non-ASCII identifiers', () => {
  it.each(SECURITY_LEVELS)('blocks an identifier mixing Latin and Cyrillic at %s', (level) => {
    const code = 'const ok = 1;\nconst p\u0430ypal = 2;';
    const issues = scan(code, level);
    expect(rules(issues)).toEqual(['prescan/homoglyph']);
    expect(pos(issues[0])).toEqual([2, 7]);
    expect([issues[0]?.endLine, issues[0]?.endColumn]).toEqual([2, 13]);
    expect(issues[0]?.message).toContain('Cyrillic');
    expect(issues[0]?.message).toContain('U+0430');
    expect(issues[0]?.hint).toContain('ASCII');
  });

  it.each(SECURITY_LEVELS)('blocks an identifier mixing Latin and Greek at %s', (level) => {
    const issues = scan('const t\u03BFtal = 1;', level); // Greek omicron
    expect(rules(issues)).toEqual(['prescan/homoglyph']);
    expect(issues[0]?.message).toContain('Greek');
  });

  it('blocks Cyrillic mixed with Greek too', () => {
    expect(rules(scan('const \u0430\u03B1 = 1;', 'PERMISSIVE'))).toEqual(['prescan/homoglyph']);
  });

  it('finds homoglyphs in property names and reports each distinct name once', () => {
    const code = 'user.n\u0430me = 1;\nuser.n\u0430me += 1;\nconst x = user.n\u0430me;';
    const issues = scan(code, 'PERMISSIVE');
    expect(rules(issues)).toEqual(['prescan/homoglyph']);
    expect(pos(issues[0])).toEqual([1, 6]);
  });

  it('decodes \\u escapes in identifiers', () => {
    const issues = scan('const \\u0430dmin = 1;', 'STANDARD');
    expect(rules(issues)).toEqual(['prescan/homoglyph']);
    expect(pos(issues[0])).toEqual([1, 7]);
    expect(scan('const \\u0061dmin = 1;', 'STRICT')).toEqual([]);
  });

  it.each(LENIENT_TEXT_LEVELS)('allows single-script non-ASCII identifiers at %s', (level) => {
    expect(scan('const café = 1; const данные = 2; const 名前 = 3; const π = 3.14;', level)).toEqual([]);
  });

  it.each(STRICT_TEXT_LEVELS)('blocks any non-ASCII identifier at %s', (level) => {
    const code = 'const café = 1;\nconst данные = 2;\nconst x = café + данные;';
    const issues = scan(code, level);
    expect(rules(issues)).toEqual(['prescan/homoglyph', 'prescan/homoglyph']);
    expect(issues[0]?.message).toContain('non-ASCII');
    expect(issues.map(pos)).toEqual([[1, 7], [2, 7]]);
    expect(issues[0]?.message).toContain('U+00E9');
    expect(issues[0]?.message).toContain(level);
  });

  it.each(SECURITY_LEVELS)('does not treat mixed scripts in strings and comments as homoglyphs at %s', (level) => {
    expect(scan('// p\u0430ypal\nconst s = "p\u0430ypal"; const t = `p\u0430ypal`;', level)).toEqual([]);
  });

  it('does not flag Latin letters mixed with digits, _ and $', () => {
    expect(scan('const $a_1 = 1; const _B2$ = 2;', 'STRICT')).toEqual([]);
  });
});

describe('prescan: nesting', () => {
  it('accepts nesting exactly at the limit', () => {
    expect(scan('x = [[[1]]];', 'STANDARD', { maxNesting: 3 })).toEqual([]);
  });

  it('reports once, at the first opener past the limit', () => {
    const code = 'const a = 1;\nx = f([{ a: (1) }]);\ny = [[[[[2]]]]];';
    const issues = scan(code, 'STANDARD', { maxNesting: 3 });
    expect(rules(issues)).toEqual(['prescan/nesting']);
    expect(pos(issues[0])).toEqual([2, 13]); // the `(` around 1, fourth level
    expect(issues[0]?.message).toContain('3');
  });

  it('counts template ${ together with brackets', () => {
    const code = 'x = `${ `${ (1) }` }`;';
    expect(scan(code, 'STANDARD', { maxNesting: 3 })).toEqual([]);
    const issues = scan(code, 'STANDARD', { maxNesting: 2 });
    expect(rules(issues)).toEqual(['prescan/nesting']);
    expect(pos(issues[0])).toEqual([1, 13]);
  });

  it('ignores brackets inside strings, comments, templates text and regexes', () => {
    const code = 'const s = "(((((";\n// [[[[[\n/* {{{{{ */\nconst t = `(((((`;\nconst r = /[(((((]/;';
    expect(scan(code, 'STANDARD', { maxNesting: 1 })).toEqual([]);
  });

  it('resets depth when brackets close', () => {
    const code = `${'f(1);\n'.repeat(100)}`;
    expect(scan(code, 'STANDARD', { maxNesting: 1 })).toEqual([]);
  });

  it('survives 200 KB of open parentheses and reports one problem', () => {
    const issues = scan('('.repeat(200_000), 'PERMISSIVE');
    expect(only(issues, 'prescan/nesting').length).toBe(1);
    expect(pos(only(issues, 'prescan/nesting')[0])).toEqual([1, 97]);
  });
});

describe('prescan: regex literals', () => {
  it.each(['STRICT', 'SECURE'] as const)('blocks every regex literal at %s, with a string-method hint', (level) => {
    const code = 'const a = /abc/.test(s);\nconst b = s.split(/,/);';
    const issues = scan(code, level);
    expect(rules(issues)).toEqual(['prescan/regex-blocked', 'prescan/regex-blocked']);
    expect(issues.map(pos)).toEqual([[1, 11], [2, 19]]);
    expect([issues[0]?.endLine, issues[0]?.endColumn]).toEqual([1, 16]);
    expect(issues[0]?.hint).toContain('includes');
  });

  it('accepts safe regex literals at STANDARD and PERMISSIVE', () => {
    const code = 'const ok = /^\\d{3}-\\d{4}$/.test(s) && /[a-z]+@[a-z]+\\.com/i.test(t);';
    expect(scan(code, 'STANDARD')).toEqual([]);
    expect(scan(code, 'PERMISSIVE')).toEqual([]);
  });

  it('reports catastrophic patterns with their location', () => {
    const code = 'const a = 1;\nconst ok = /(a+)+$/.test(s);\nconst b = /(\\w|\\d)+/g;';
    const issues = scan(code);
    expect(rules(issues)).toEqual(['prescan/regex-redos', 'prescan/regex-redos']);
    expect(issues.map(pos)).toEqual([[2, 12], [3, 11]]);
    expect(issues[0]?.message).toContain('(a+)+');
    expect(issues[0]?.hint).toBeTruthy();
  });

  it('reports the first regex over maxRegexCount once, with the total', () => {
    const code = 'a = /x/;\nb = /y/;\nc = /z/;\nd = /w/;';
    const issues = scan(code, 'STANDARD', { maxRegexCount: 2 });
    expect(rules(issues)).toEqual(['prescan/regex-count']);
    expect(pos(issues[0])).toEqual([3, 5]);
    expect(issues[0]?.message).toContain('4 regex literals');
    expect(scan(code, 'STANDARD', { maxRegexCount: 4 })).toEqual([]);
  });

  it('reports patterns over maxRegexLength', () => {
    const code = `a = /${'x'.repeat(11)}/;\nb = /${'y'.repeat(10)}/;`;
    const issues = scan(code, 'STANDARD', { maxRegexLength: 10 });
    expect(rules(issues)).toEqual(['prescan/regex-length']);
    expect(pos(issues[0])).toEqual([1, 5]);
    expect(issues[0]?.message).toContain('11 characters');
  });

  it('reports invalid patterns as unanalyzable', () => {
    const issues = scan('a = /(abc/;\nb = /x/q;');
    expect(rules(issues)).toEqual(['prescan/regex-invalid', 'prescan/regex-invalid']);
    expect(issues.map(pos)).toEqual([[1, 5], [2, 5]]);
  });

  it('reports all regex problems together', () => {
    const code = `a = /(x*)*/;\nb = /${'z'.repeat(20)}/;\nc = /(y|y)*/;\nd = /ok/;`;
    const issues = scan(code, 'STANDARD', { maxRegexCount: 3, maxRegexLength: 15 });
    expect(rules(issues)).toEqual(['prescan/regex-redos', 'prescan/regex-length', 'prescan/regex-redos', 'prescan/regex-count']);
  });

  describe('tells regexes from divisions', () => {
    const divisions = [
      'x = a / b / c;',
      'x = (a) / 2 / (b);',
      'x = arr[0] / 2 / arr[1];',
      'x = obj.return / 2 / obj.typeof;',
      'x = i++ / 2 / j--;',
      'x = 10 / 2 / 5;',
      'x = "a" / 2 / "b";',
      'x = `a` / 2 / `b`;',
      'x = {} / 2 / {};',
      'x = this.#delete / 2 / y;',
      'x = a /= 2 / b;',
    ];
    it.each(divisions)('%s has no regex', (code) => {
      expect(scan(code, 'STRICT')).toEqual([]);
    });

    const regexes: [string, number][] = [
      ['/ab+c/.test(s);', 1],
      ['x = /a/;', 5],
      ['f(/a/);', 3],
      ['f(a, /b/);', 6],
      ['x = [/a/];', 6],
      ['x = { k: /a/ };', 10],
      ['x = !/a/.test(s);', 6],
      ['x = a && /b/.test(s);', 10],
      ['x = a ? /b/ : /c/;', 9],
      ['return /a/.test(s);', 8],
      ['x = typeof /a/;', 12],
      ['switch (x) { case /a/: }', 19],
      ['if (ok) /a/.test(s);', 9],
      ['while (ok) /a/.exec(s);', 12],
      ['if (ok) { f(); } /a/.test(s);', 18],
      ['x = `${/a/.source}`;', 8],
      ['x = y => /a/.test(y);', 10],
      ['x = 1;\n/a/.test(s);', 1],
    ];
    it.each(regexes)('%s has a regex', (code, column) => {
      const issues = scan(code, 'STRICT');
      expect(rules(issues)).toContain('prescan/regex-blocked');
      expect(issues[0]?.column).toBe(column);
    });

    it('keeps / inside a character class and escaped slashes in the regex', () => {
      const issues = scan('x = /[/]\\/(a+)+/;', 'STANDARD');
      expect(rules(issues)).toEqual(['prescan/regex-redos']);
      expect([issues[0]?.endLine, issues[0]?.endColumn]).toEqual([1, 17]);
    });

    it('does not take comments for regexes', () => {
      expect(scan('x = 1; // /(a+)+/\n/* /(a+)+/ */ y = 2;', 'STRICT')).toEqual([]);
    });

    it('does not take slashes in strings and templates for regexes', () => {
      expect(scan('x = "/(a+)+/" + \'/a/\' + `/b/ ${"/c/"}`;', 'STRICT')).toEqual([]);
    });
  });
});

describe('lexer: regex detection agrees with the real parser', () => {
  function lexerRegexStarts(code: string): number[] {
    const starts: number[] = [];
    const sink: LexSink = {
      full: false,
      special() {},
      lineSeparator() {},
      identifier() {},
      open() {},
      regex(start) {
        starts.push(start);
      },
    };
    lex(code, sink);
    return starts;
  }

  /** Offsets of regex literals according to oxc, or null when the code does not parse. */
  function parserRegexStarts(code: string): number[] | null {
    const prefix = 'async function main() {\n';
    const result = parseSync('agent.js', `${prefix}${code}\n}`, { sourceType: 'script' });
    if (result.errors.length > 0) return null;
    const starts: number[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const child of node) walk(child);
        return;
      }
      if (node === null || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (record.type === 'Literal' && record.regex !== undefined) starts.push((record.start as number) - prefix.length);
      for (const key of Object.keys(record)) walk(record[key]);
    };
    walk(result.program);
    return starts.sort((a, b) => a - b);
  }

  // Statements that put `/` after every kind of token, plus slashes hidden in strings, templates and comments.
  const STATEMENTS = [
    'x = a / b / c;',
    'x = /ab+c/g.test(s);',
    'if (ok) /re/.test(s);',
    'if (ok) { f(); } /a/.exec(s);',
    'y = (a + b) / 2;',
    'z = arr[1] / 2;',
    'return /x/.test(q);',
    'w = {a: 1}.a / 2;',
    'const f = (v) => /v/.test(v);',
    'for (const k of ks) /k/.test(k);',
    'label: { /l/.test(s); }',
    's = `a${ /t/.source }b${ c / 2 }`;',
    'n = i++ / 2;',
    'm = typeof /re/;',
    'switch (v) { case /c/.source: break; default: }',
    'o = { re: /o/, d: a / b };',
    'p = [/p/, 1 / 2];',
    'q = x ? /q/ : a / b;',
    'do /d/.test(s); while (0);',
    'try { t(); } catch (e) { e.message / 2; }',
    'r = !/r/.test(s);',
    'u = a.b(c) / d[e] / f;',
    'v = `${`${a / b}`}` / 2;',
    'if (a) b = 1 / 2; else /e/.test(c);',
    'x = new Date() / 1000;',
    'h = x.return / 2;',
    'k = 1 /* c */ / 2; // /not/',
    'l = "/s/" / 2;',
    'while (a < b) /w/.test(s);',
    'j = (x) / (y) / /z/.lastIndex;',
    '{ f(); }\n/blk/.test(s);',
    'await /aw/.test(s);',
    'const re = new RegExp(/n/);',
    'x = a\n/b/g;',
    'x = [1, 2].map((v) => v / 2);',
    'class K { m() { return /m/; } }',
    'x = async () => { await f(); }',
    'yy = a in /b/;',
    'xx = a instanceof /b/.constructor;',
    'x = {} / 2;',
    'x = a?.b / c ?? /d/;',
    'x = [...a, /s/];',
    'x = 1e3 / 2 / 0x10 / .5;',
    'x = /[/]\\//.test(s);',
    'x = /a/gimsuy;',
    'x = async (v) => /a/.test(v);',
    'x = --y / 2;',
    'const o2 = { get a() { return /g/; }, b: 1 };',
    'x = (() => ({}))() / 2;',
    'x = y / z; // c / d',
    "x = '//' + \"/*\" + `*/`;",
    'if (a) { } else { /e/.test(s); }',
    'x = a\n++b;',
    'x = void /v/;',
    'throw /t/;',
    'x = delete a[/d/.source];',
    // HTML-like comments (Annex B): a script reads them as comments, as V8 runs the rewritten text.
    'x = a <!-- /c/.test(s);\ny = /d/;',
    'x = 1\n--> /c/.test(s);\ny = /d/;',
    'x = 1\n  /* note */ --> /c/\ny = /d/;',
    'x = 1 /* a\nb */ --> /c/\ny = /d/;',
    'x = a /* c */ --> /b/;',
    'x = a --> /b/;',
    'x = a-- > /b/.lastIndex;',
    'x = "<!--" + /s/.source;',
  ];

  it.each(STATEMENTS)('%s', (code) => {
    const expected = parserRegexStarts(code);
    expect(expected).not.toBeNull();
    expect(lexerRegexStarts(code)).toEqual(expected);
  });

  /** What oxc says is at offset `k` (where a character would be inserted): a literal's text, a comment, or code. */
  function parserContextAt(code: string, k: number): 'string' | 'template' | 'regex' | 'comment' | 'code' | null {
    const prefix = 'async function main() {\n';
    const result = parseSync('agent.js', `${prefix}${code}\n}`, { sourceType: 'script' });
    if (result.errors.length > 0) return null;
    const at = k + prefix.length;
    for (const c of result.comments) {
      if (c.type === 'Block' ? at >= c.start + 2 && at <= c.end - 2 : at >= c.start + 2 && at <= c.end) return 'comment';
    }
    let found: 'string' | 'template' | 'regex' | 'code' = 'code';
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const child of node) walk(child);
        return;
      }
      if (node === null || typeof node !== 'object') return;
      const r = node as Record<string, unknown> & { start: number; end: number };
      if (r.type === 'Literal' && typeof r.value === 'string' && at > r.start && at < r.end) found = 'string';
      if (r.type === 'TemplateElement' && at >= r.start && at <= r.end) found = 'template';
      if (r.type === 'Literal' && r.regex !== undefined) {
        const pattern = (r.regex as { pattern: string }).pattern;
        if (at > r.start && at <= r.start + 1 + pattern.length) found = 'regex';
      }
      for (const key of Object.keys(r)) walk(r[key]);
    };
    walk(result.program);
    return found;
  }

  it('puts characters in strings, templates, regexes, comments and code where the parser does', () => {
    const names = ['code', 'identifier', 'comment', 'comment', 'string', 'template', 'regex'];
    const rand = prng(77);
    let compared = 0;
    for (let round = 0; round < 300; round++) {
      const parts: string[] = [];
      for (let i = 0; i < 3; i++) parts.push(STATEMENTS[Math.floor(rand() * STATEMENTS.length)] as string);
      const code = parts.join('\n');
      for (let probe = 0; probe < 10; probe++) {
        const k = Math.floor(rand() * (code.length + 1));
        // Inserting right after these would split `${`, `//`, `/*`, `*/`, `<!--`, `-->` or an escape, and
        // right before a `-->` it would no longer begin its line: a different program.
        if ('$/*\\<!-'.includes(code.charAt(k - 1) || ' ') || code.startsWith('-->', k)) continue;
        const expected = parserContextAt(code, k);
        if (expected === null) continue;
        const contexts: string[] = [];
        const sink: LexSink = {
          full: false,
          special(_offset, _cp, context) {
            contexts.push(names[context] as string);
          },
          lineSeparator() {},
          identifier() {},
          open() {},
          regex() {},
        };
        lex(`${code.slice(0, k)}\u200B${code.slice(k)}`, sink);
        compared++;
        expect(contexts, `${JSON.stringify(code)} at ${k}`).toEqual([expected]);
      }
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it('agrees on 2000 random mixes of those statements', () => {
    const rand = prng(2024);
    let compared = 0;
    for (let round = 0; round < 2000; round++) {
      const parts: string[] = [];
      const count = 1 + Math.floor(rand() * 6);
      for (let i = 0; i < count; i++) parts.push(STATEMENTS[Math.floor(rand() * STATEMENTS.length)] as string);
      const code = parts.join(rand() < 0.5 ? '\n' : ' ');
      const expected = parserRegexStarts(code);
      if (expected === null) continue;
      compared++;
      expect(lexerRegexStarts(code), code).toEqual(expected);
    }
    expect(compared).toBeGreaterThan(1500);
  });
});

describe('prescan: lexer contexts', () => {
  it('handles escaped quotes and backslashes in strings', () => {
    const code = 'const a = "say \\"hi\\" \\\\"; const b = \'it\\\'s\'; x = /(a+)+/;';
    const issues = scan(code);
    expect(rules(issues)).toEqual(['prescan/regex-redos']);
    expect(pos(issues[0])).toEqual(locOf(code, '/(a+)+/'));
  });

  it('handles line continuations in strings', () => {
    const code = 'const a = "one \\\ntwo"; const b = "\u200B";';
    expect(rules(scan(code, 'STRICT'))).toEqual(['prescan/invisible']);
    expect(pos(scan(code, 'STRICT')[0])).toEqual([2, 18]);
  });

  it('resumes after a template expression that holds braces, strings and templates', () => {
    const code = 'const t = `a${ { k: "}" }.k + `b${ [1, 2].map((x) => `${x}`) }` }c\u200B`; x = /(a+)+/;';
    const issues = scan(code, 'STANDARD');
    expect(rules(issues)).toEqual(['prescan/invisible', 'prescan/regex-redos']);
    expect(issues[0]?.message).toContain('template literal');
    expect(rules(scan(code, 'STRICT'))).toEqual(['prescan/invisible', 'prescan/regex-blocked']);
  });

  it('treats an unterminated string as ending at the line break', () => {
    const code = 'const a = "oops\nconst b\u200B = 1;';
    const issues = scan(code, 'PERMISSIVE');
    expect(rules(issues)).toEqual(['prescan/invisible']);
    expect(pos(issues[0])).toEqual([2, 8]);
  });
});

describe('prescan: several problems at once', () => {
  it('reports every problem, sorted by position', () => {
    const code = [
      'const p\u0430ypal = 1;', // homoglyph
      'const s = "\u202E";', // bidi
      'const t = 1;\u200B', // invisible
      'const u = /(a+)+/;', // redos
      `const v = "${'x'.repeat(100)}";`, // long line
      'x\u0000', // NUL
    ].join('\n');
    const issues = scan(code, 'STANDARD', { maxLineLength: 80 });
    expect(rules(issues)).toEqual([
      'prescan/homoglyph',
      'prescan/bidi',
      'prescan/invisible',
      'prescan/regex-redos',
      'prescan/line-length',
      'prescan/null-byte',
    ]);
    expect(issues.map(pos)).toEqual([
      [1, 7],
      [2, 12],
      [3, 13],
      [4, 11],
      [5, 81],
      [6, 2],
    ]);
    for (const issue of issues) {
      expect(issue.message.length).toBeGreaterThan(10);
      expect(issue.hint?.length ?? 0).toBeGreaterThan(10);
    }
  });

  it('caps the result at 50 issues and at 20 per rule', () => {
    const code = [
      ...Array.from({ length: 25 }, () => 'a = "\u202E";'),
      ...Array.from({ length: 25 }, () => 'b = "\u0000";'),
      ...Array.from({ length: 25 }, () => 'c = 1;\u200B'),
    ].join('\n');
    const issues = scan(code, 'STANDARD');
    expect(issues.length).toBe(50);
    expect(only(issues, 'prescan/bidi').length).toBe(20);
    expect(only(issues, 'prescan/null-byte').length).toBe(20);
    expect(only(issues, 'prescan/invisible').length).toBe(10);
    expect(only(issues, 'prescan/bidi')[19]?.message).toContain('not listed');
    expect(issues[49]?.message).toContain('stopped after 50');
    expect(pos(issues[49])).toEqual([60, 7]);
    const sorted = [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
    expect(issues).toEqual(sorted);
  });

  it('interleaves issues of different rules by position', () => {
    const code = Array.from({ length: 10 }, () => 'a = "\u202E"; b = "\u0000"; c = 1;\u200B').join('\n');
    const issues = scan(code, 'STANDARD');
    expect(issues.length).toBe(30);
    expect(rules(issues.slice(0, 3))).toEqual(['prescan/bidi', 'prescan/null-byte', 'prescan/invisible']);
    expect(issues.slice(0, 3).map(pos)).toEqual([[1, 6], [1, 15], [1, 25]]);
  });

  it('keeps reporting other rules when one rule hits its cap', () => {
    const code = `${'"\u202E";\n'.repeat(30)}const p\u0430ypal = 1;`;
    const issues = scan(code, 'STANDARD');
    expect(only(issues, 'prescan/bidi').length).toBe(20);
    expect(only(issues, 'prescan/homoglyph').length).toBe(1);
    expect(only(issues, 'prescan/bidi')[19]?.message).toContain('not listed');
  });
});

describe('prescan: malformed input never throws or hangs', () => {
  const malformed = [
    '"unterminated string',
    "'unterminated",
    '`unterminated template',
    '`a${ unterminated expression',
    '`a${ `b${ `c${',
    '/* unterminated comment',
    '// comment without newline',
    'x = /unterminated regex',
    'x = /[unterminated class/',
    'x = /a\\',
    '"\\',
    '`\\',
    '\\',
    '\\u',
    '\\u{',
    '\\u{110000000000}',
    'a\\u0',
    '}}}}]]]))))',
    ')))(((',
    '${}',
    '`${}}}}`',
    '\uD800',
    'x = "\uDC00"; \uD83D',
    '#!',
    '#',
    '/',
    '/*/',
    '//',
    '""""""',
    '\u2028\u2029\r\r\n\n',
  ];
  it.each(malformed)('%j', (code) => {
    for (const level of SECURITY_LEVELS) {
      expect(() => scan(code, level)).not.toThrow();
      expect(Array.isArray(scan(code, level))).toBe(true);
    }
  });

  it('survives 200 KB of ((((, of )))), of mixed closers and of ${', () => {
    for (const code of ['('.repeat(200_000), ')'.repeat(200_000), `${'('.repeat(100_000)}${']'.repeat(100_000)}`, '${'.repeat(100_000)]) {
      expect(() => scan(code, 'PERMISSIVE')).not.toThrow();
    }
  });

  it('survives lines full of unterminated regexes and templates', () => {
    for (const code of ['/['.repeat(100_000), '(/['.repeat(70_000), '`${'.repeat(70_000), '/*'.repeat(100_000), '"\\'.repeat(100_000)]) {
      expect(() => scan(code, 'PERMISSIVE', { maxLineLength: 1e9 })).not.toThrow();
    }
  });

  it('survives random code units, including lone surrogates', () => {
    const rand = prng(42);
    for (let round = 0; round < 20; round++) {
      let code = '';
      for (let i = 0; i < 5000; i++) code += String.fromCharCode(Math.floor(rand() * 0x10000));
      for (const level of SECURITY_LEVELS) {
        const issues = scan(code, level, { maxCodeBytes: 1e9 });
        expect(issues.length).toBeLessThanOrEqual(50);
        for (const issue of issues) {
          expect(issue.line).toBeGreaterThanOrEqual(1);
          expect(issue.column).toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('survives random JavaScript-ish tokens', () => {
    const rand = prng(7);
    const pieces = ['(', ')', '[', ']', '{', '}', '`', '${', '"', "'", '/', '*', '\\', '\n', 'a', 'return', ' ', '//', '/*', '*/', '\u200B', '\u202E', '\u0430', '1', '.', '=>'];
    for (let round = 0; round < 200; round++) {
      let code = '';
      for (let i = 0; i < 300; i++) code += pieces[Math.floor(rand() * pieces.length)] as string;
      for (const level of SECURITY_LEVELS) expect(() => scan(code, level)).not.toThrow();
    }
  });

  it('survives 1 MB of random bytes decoded as latin1 and as UTF-8', () => {
    const rand = prng(1234);
    const bytes = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    for (const code of [bytes.toString('latin1'), bytes.toString('utf8')]) {
      const issues = scan(code, 'PERMISSIVE', { maxCodeBytes: 1e9 });
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.length).toBeLessThanOrEqual(50);
      expect(rules(scan(code, 'STANDARD'))).toEqual(['prescan/size']);
    }
  });
});

describe('analyzeRegex', () => {
  const SAFE = [
    '^\\d{3}-\\d{4}$',
    '[a-z]+@[a-z]+\\.com',
    '\\s+',
    '^(\\w+)\\s(\\w+)$',
    '(\\d+)-(\\d+)',
    '^[A-Z][a-z]*$',
    '\\b(foo|bar)\\b',
    '(https?):\\/\\/([^/]+)',
    // Star height 2, but the "." pins every iteration: accepted by design (see regex.ts).
    '^(?:[a-z0-9-]+\\.)*example\\.com$',
    '^[\\w.+-]+@[\\w-]+\\.[\\w.-]+$',
    '"(?:\\\\.|[^"\\\\])*"',
    '(\\d)(?=(\\d{3})+(?!\\d))',
    '\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b',
    '^(\\d{4})-(\\d{2})-(\\d{2})$',
    '(?:\\r?\\n)+',
    '(,\\s*\\d+)*',
    '^\\w+(\\s\\w+)*$',
    '(ab|ac)*',
    '(foo|bar)+',
    '([a-f0-9]{2})+',
    '(?:a?b?c)*',
    '^#{1,6}\\s+(.*)$',
    '\\[(.*?)\\]\\((.*?)\\)',
    '<[^>]+>',
    '(a|a){1,10}',
    '(a+){2}',
    '(?<year>\\d{4})-\\k<year>',
    '[(+*]+',
    '\\(+\\)+',
    '\\\\+',
    '(?:\\.\\w+)*',
    '(?:[^,]+,)*',
    '^(?:(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)$',
    '\\b[A-Z][a-z]+(?:\\s[A-Z][a-z]+)*\\b',
    '(?:^|,)("(?:[^"]|"")*"|[^,]*)',
    '^(\\w+\\.)+\\w+$',
    '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$',
    '^(?=.*[A-Z])(?=.*[a-z])(?=.*\\d).{8,}$',
    '(?:\\s*\\w+\\s*,)*',
    '(a?b?){5}',
    '(?:\\d+a?,){3}',
  ];
  it.each(SAFE)('accepts %s', (pattern) => {
    expect(analyzeRegex(pattern)).toEqual({ safe: true });
  });

  const UNSAFE = [
    '(a+)+',
    '(a*)*',
    '(\\w+\\s?)*',
    '((ab)*)+',
    '(?:x+)+y',
    '^(a+)+$',
    '(a|a)*',
    '(a|ab)*',
    '(\\w|\\d)+',
    '(.|\\s)*',
    '(a+){3,}',
    '(a+){1,20}',
    '(a|a){1,11}',
    '(?:\\s*,\\s*)*',
    '(?:a+a+\\.)*',
    '(?:(\\w+|\\d+),)*',
    '(a?b?)*',
    '(?:(?:a?a?)c)*',
    '(\\d{1,3})+',
    '(.*a){12}',
    '^(([a-z])+.)+[A-Z]([a-z])+$',
    '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
    '(x+x+)+y',
    '(?:a+|b)*',
    '((a)\\2)*',
    '(?<x>a)(?:\\k<x>b)+',
    '(?:(?:a+)b)*c(?:(d+)+)',
    '(?=(a+)+)',
  ];
  it.each(UNSAFE)('flags %s', (pattern) => {
    const result = analyzeRegex(pattern);
    expect(result.safe).toBe(false);
    expect(result.reason).toBeTruthy();
  });

  it('explains what it found', () => {
    expect(analyzeRegex('(a+)+').reason).toContain('nested quantifier');
    expect(analyzeRegex('(a|ab)*').reason).toContain('overlapping alternatives');
    expect(analyzeRegex('(a|ab)*').reason).toContain('"a"');
    expect(analyzeRegex('((a)\\2)*').reason).toContain('back-reference');
    expect(analyzeRegex('(a?b?)*').reason).toContain('ambiguous');
  });

  it('takes escapes and character classes literally', () => {
    expect(analyzeRegex('\\(a+\\)+')).toEqual({ safe: true });
    expect(analyzeRegex('[(]a+[)]+')).toEqual({ safe: true });
    expect(analyzeRegex('\\\\(a+)+').safe).toBe(false);
    expect(analyzeRegex('[\\]](a+)+').safe).toBe(false);
    expect(analyzeRegex('[a\\]]+')).toEqual({ safe: true });
  });

  it('applies the i flag to overlap checks', () => {
    expect(analyzeRegex('(a|A)*')).toEqual({ safe: true });
    expect(analyzeRegex('(a|A)*', 'i').safe).toBe(false);
    expect(analyzeRegex('(?i:a|A)*').safe).toBe(false);
    expect(analyzeRegex('(k|\\u212A)*', 'iu').safe).toBe(false);
  });

  it('understands the s, u and v flags', () => {
    expect(analyzeRegex('(.|\\n)*')).toEqual({ safe: true });
    expect(analyzeRegex('(.|\\n)*', 's').safe).toBe(false);
    expect(analyzeRegex('(\\u{1F600}|a)*', 'u')).toEqual({ safe: true });
    expect(analyzeRegex('(\\p{L}+)+', 'u').safe).toBe(false);
    expect(analyzeRegex('[\\p{L}--[a-z]]+', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('([[a-z]&&[aeiou]]+)+', 'v').safe).toBe(false);
  });

  // A class that can match strings (v flag) is an alternation: `[\q{a|aa}]+` backtracks like `(a|aa)+`.
  // Both forms below passed the check, and each took 2.5 to 6.6 s on 36 characters of input (Node 24),
  // doubling with every two more: the deadline stops the run, but the check exists to refuse them first.
  it('reads classes that match strings (v flag) as alternations', () => {
    expect(analyzeRegex('^[\\q{a|aa}]+$', 'v').reason).toContain('overlapping alternatives');
    expect(analyzeRegex('^[\\q{a|aa}]+$', 'v').reason).toContain('"aa"');
    expect(analyzeRegex('[a\\q{ab}]*', 'v').safe).toBe(false);
    expect(analyzeRegex('[\\q{A}\\q{ab}]*', 'vi').safe).toBe(false);
    expect(analyzeRegex('[[\\q{a|aa}]--[b]]+', 'v').safe).toBe(false);
    expect(analyzeRegex('([\\q{ab|cd}]+)+', 'v').safe).toBe(false);
    expect(analyzeRegex('(?:[\\q{\\u0061|aa}]x?)+', 'v').safe).toBe(false);
    // 👍 and 🏽 are each an emoji, and so is 👍🏽: every pair of them matches in two ways.
    expect(analyzeRegex('^\\p{RGI_Emoji}+$', 'v').reason).toContain('property of strings');
    expect(analyzeRegex('^[\\p{RGI_Emoji}\\s]+$', 'v').safe).toBe(false);
    expect(analyzeRegex('(?:\\p{Basic_Emoji}|x){2,}', 'v').safe).toBe(false);
    // Strings that cannot be split or started alike repeat safely, as groups of them do.
    expect(analyzeRegex('^[\\q{abc}]+$', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('^[x\\q{ab|cd}]+$', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('^[\\q{a}b]+$', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('\\p{RGI_Emoji}', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('\\p{Emoji}+', 'v')).toEqual({ safe: true });
    expect(analyzeRegex('[^\\q{ab}]', 'v').reason).toMatch(/invalid/);
  });

  it('compares non-ASCII alternatives exactly', () => {
    expect(analyzeRegex('(é|ü)*')).toEqual({ safe: true });
    expect(analyzeRegex('(é|[à-ÿ])*').safe).toBe(false);
  });

  it('reports invalid patterns and flags as unsafe, without throwing', () => {
    for (const [pattern, flags] of [
      ['(abc', ''],
      ['abc)', ''],
      ['[abc', ''],
      ['a**', ''],
      ['*a', ''],
      ['a{2,1}', ''],
      ['\\', ''],
      ['(?<>a)', ''],
      ['(?x)', ''],
      ['\\u{zz}', 'u'],
      ['a', 'gg'],
      ['a', 'q'],
      ['a', 'uv'],
    ] as const) {
      const result = analyzeRegex(pattern, flags);
      expect(result.safe, `${pattern} /${flags}`).toBe(false);
      expect(result.reason).toMatch(/invalid/);
    }
  });

  it('accepts Annex B syntax outside unicode mode', () => {
    expect(analyzeRegex('a{')).toEqual({ safe: true });
    expect(analyzeRegex('a{,5}')).toEqual({ safe: true });
    expect(analyzeRegex(']')).toEqual({ safe: true });
    expect(analyzeRegex('\\c')).toEqual({ safe: true });
    expect(analyzeRegex('[\\d-z]')).toEqual({ safe: true });
    expect(analyzeRegex('a{', 'u').safe).toBe(false);
  });

  it('never throws on hostile input', () => {
    const inputs = [
      '('.repeat(100_000),
      ')'.repeat(1000),
      '[' .repeat(100_000),
      `${'(?:a|b)'.repeat(10_000)}`,
      `(${'a|'.repeat(10_000)}b)*`,
      `(${'a?'.repeat(10_000)}b)*`,
      '\\u{'.repeat(1000),
      '(?<'.repeat(10_000),
      '{9999999999999999999,99999999999999999999}',
      'a{9999999999999999999,99999999999999999999}',
    ];
    for (const input of inputs) expect(() => analyzeRegex(input)).not.toThrow();
    expect(analyzeRegex('('.repeat(100_000)).safe).toBe(false);
    expect(analyzeRegex(42 as unknown as string).safe).toBe(false);
    const rand = prng(99);
    const alphabet = '()[]{}|*+?.\\^$-,:=!<>a1dwsbkuxp/';
    for (let round = 0; round < 500; round++) {
      let p = '';
      for (let i = 0; i < 30; i++) p += alphabet[Math.floor(rand() * alphabet.length)] as string;
      for (const flags of ['', 'i', 'u', 'v', 'is']) expect(() => analyzeRegex(p, flags)).not.toThrow();
    }
  });

});
