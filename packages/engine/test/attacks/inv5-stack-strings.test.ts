/**
 * Invariants 4, 5 and 8 against the stack strings the realm formats. A frame's function name is the
 * script's to choose, up to a string of 16 MB (`Object.defineProperty(f, 'name', ...)`, a computed
 * method key), and the realm's `Error.prepareStackTrace` joined its lines in one native step that no
 * charge saw. Found by red-teaming (Node 20, 22 and 24, STANDARD, validated and with both layers off,
 * both isolations): one stack of 16 frames named by 16 MB was a string of 256 MB built past a 64 MB
 * budget, in 0.3 s that no deadline interrupts; twelve of them read in one expression (code without a
 * checkpoint) held 3 GB and answered OK, and a vm host with a 2 GB heap aborted out of memory. The
 * runtime reads an uncaught error's stack itself (for its location), so a script need not even read
 * one. A script may also call `Error.prepareStackTrace` with frames of its own, as many as it likes.
 *
 * Now a stack shows at most 16 frames (`Error.stackTraceLimit`, frozen) and a name of at most 256
 * characters, whoever calls the formatter: a stack is a few tens of KB at most.
 *
 * Host-side evidence: the vm host survives in a child process with a 512 MB heap (its stderr stays
 * empty); in process, the lengths are small where a regression makes them hundreds of MB.
 */
import { expect } from 'vitest';
import type { Attack } from '../helpers.js';
import { describeOnStandardRows, describeVmHostSurvives } from './host-survival.js';


/** Head line (name and message, 4,000 characters each at most) and 16 frame lines of about 300: far below this. */
const MOST = 16_384;

/** Sixteen frames of a function named by `name` (a variable of the script), the innermost making `errors`. */
const namedFrames = (name: string, errors: string) =>
  `const o = { [${name}]: function (k) { return k === 0 ? ${errors} : o[${name}](k - 1); } };\nconst made = o[${name}](20);`;

const ATTACKS: readonly Attack[] = [
  {
    name: 'two stacks of 16 frames named by a 4 MB string, read in one expression',
    code: `const n = 'n'.repeat(4e6);\n${namedFrames('n', "[new Error('a'), new Error('b')]")}
const stacks = [made[0].stack, made[1].stack];
const line = stacks[0].split('\\n')[1];
return [stacks[0].length, stacks[1].length, stacks[0].split('\\n').length, line.slice(0, 8), line.indexOf('... (agentscript.js:')];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => {
      const [a, b, lines, start, cut] = r.value as [number, number, number, string, number];
      expect(a).toBeLessThan(MOST);
      expect(b).toBeLessThan(MOST);
      expect(lines).toBe(17);
      expect(start).toBe('    at n');
      // The name is shown up to 256 characters, then cut.
      expect(cut).toBe(7 + 256);
    },
  },
  {
    name: 'Error.prepareStackTrace called by the script with 32 frames of its own, each named by a 4 MB string',
    code: `const big = 'x'.repeat(4e6);
const f = { getFileName: () => 'agentscript.js', getLineNumber: () => 1, getColumnNumber: () => 1, getFunctionName: () => big };
const s = Error.prepareStackTrace(new Error('m'), Array(32).fill(f));
return [s.length, s.split('\\n').length];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => {
      const [length, lines] = r.value as [number, number];
      expect(length).toBeLessThan(MOST);
      expect(lines).toBe(17);
    },
  },
  // What the bound must not change.
  {
    name: 'an uncaught error thrown from frames named by a 4 MB string keeps its message and location (the runtime reads its stack)',
    code: `const n = 'n'.repeat(4e6);\n${namedFrames('n', "null")}\nconst e = new Error('thrown'); const keep = [made]; const f = { [n]() { throw e; } }; f[n]();`,
    expect: ['RUNTIME_ERROR'],
    validation: 'accept',
    check: (r) => {
      expect(r.error?.message).toBe('thrown');
      expect(r.error?.location?.line).toBe(4);
    },
  },
  {
    name: 'an ordinary stack still shows the user\'s function names and lines',
    code: `function inner() { return new Error('x').stack; }
function outer() { return inner(); }
const m = 'm'.repeat(300);
const o = { [m]() { return new Error('y').stack; } };
const s = outer().split('\\n');
const t = o[m]().split('\\n')[1];
return [s[0], s[1].slice(0, 13), s[2].slice(0, 13), /agentscript\\.js:1:/.test(s[1]), t.slice(4, 7), t.indexOf('... (')];`,
    expect: ['OK'],
    validation: 'accept',
    check: (r) => expect(r.value).toEqual(['Error: x', '    at inner ', '    at outer ', true, 'at ', 7 + 256]),
  },
];

describeOnStandardRows('invariants 4, 5 and 8 against the stack strings the realm formats', ATTACKS);

/**
 * Twelve stacks of 16 frames named by 16 MB, read in one expression: 3 GB before the fix, which a vm
 * host with a 512 MB heap does not survive.
 */
const HELD = `const n = 'n'.repeat(16e6);\n${namedFrames('n', `[${Array.from({ length: 12 }, () => "new Error('a')").join(', ')}]`)}
const stacks = [${Array.from({ length: 12 }, (_, i) => `made[${i}].stack`).join(', ')}];
return stacks.length;`;

describeVmHostSurvives('invariant 8: stacks named by huge strings do not exhaust a vm host', { held: HELD }, { held: 'OK' });
