import type { Dialect, RuntimeLimits, SecurityLevel } from '../levels.js';
import { ALWAYS_BLOCKED_IDENTIFIERS, BLOCKED_PROPERTIES, LEVEL_CONFIGS, MAX_TOOL_ARGS_VALUES, RESERVED_PREFIX, SECURITY_LEVELS } from '../levels.js';
import { OptionChecker } from '../options.js';

/** What each dialect switch allows, in words a model reads. Keyed by the `Dialect` field, so a new switch fails to compile until it is described. */
const FEATURES: Readonly<Record<Exclude<keyof Dialect, 'globals'>, string>> = {
  whileLoops: '`while` and `do ... while` loops',
  forIn: '`for (const key in obj)` loops',
  functionDeclarations: '`function name() {}` helper declarations',
  functionExpressions: '`function () {}` expressions and object-literal methods',
  asyncFunctions: '`async` arrow functions and async helpers',
  generators: 'generator functions and `yield`',
  classes: '`class` declarations (and `this` inside them)',
  accessors: 'getters and setters (`get x() {}`)',
  regexLiterals: 'regular expression literals (`/ab+c/i`; no catastrophic backtracking)',
  throwStatements: '`throw` statements',
  labels: 'labeled statements (`outer: for (...)`)',
  bigint: 'BigInt literals (`10n`)',
};

function bytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

export interface DialectTextOptions {
  /** The limits in force (an Enclave's, with its explicit options), all or some: the level's for the rest. */
  limits?: Readonly<Partial<RuntimeLimits>>;
  /** Names of the host's globals, listed as available. */
  globals?: readonly string[];
  /** Strings at least this long in tool results arrive as references (the sidecar is on). */
  sidecarThreshold?: number;
}

/**
 * The options of `describeDialect`, checked as an Enclave's are (an unknown or malformed one names
 * itself), and the limits to describe: the given ones over the level's, so that `{ limits: { timeout } }`
 * alone describes that timeout with the level's other limits (it threw a TypeError before).
 */
function dialectLimits(check: OptionChecker, options: DialectTextOptions, level: Readonly<RuntimeLimits>): Readonly<RuntimeLimits> {
  const o = check.object('options', options) ?? {};
  check.knownKeys('', o, ['limits', 'globals', 'sidecarThreshold']);
  check.names('globals', o.globals);
  check.positiveInteger('sidecarThreshold', o.sidecarThreshold);
  const given = check.object('limits', o.limits) ?? {};
  check.knownKeys('limits', given, Object.keys(level));
  for (const [key, value] of Object.entries(given)) check.positiveInteger(`limits.${key}`, value);
  return { ...level, ...(given as Partial<RuntimeLimits>) };
}

/**
 * An LLM-facing description of the AgentScript dialect of a security level: how a script works, what
 * syntax and globals it may use, what is never allowed, and the limits of one run. Derived from
 * `LEVEL_CONFIGS`, so it cannot drift from what the validator and the runtime enforce. Markdown.
 *
 * @example
 * ```ts
 * const system = `${describeDialect('STRICT')}\n\nWrite a script that ...`;
 * ```
 */
export function describeDialect(level: SecurityLevel, given: DialectTextOptions | null = {}): string {
  const options = given ?? {};
  const check = new OptionChecker('describeDialect');
  if (!SECURITY_LEVELS.includes(level)) check.fail(`unknown security level ${String(level)}.`);
  const config = LEVEL_CONFIGS[level];
  const d = config.dialect;
  const l = dialectLimits(check, options, config.limits);
  const scan = config.scan;
  const switches = Object.keys(FEATURES) as (keyof typeof FEATURES)[];
  const allowed = switches.filter((k) => d[k]).map((k) => FEATURES[k]);
  const denied = switches.filter((k) => !d[k]).map((k) => FEATURES[k]);
  const globals = [...d.globals.filter((g) => g !== 'undefined' && g !== 'NaN' && g !== 'Infinity'), ...(options.globals ?? [])];
  const literalNames = !d.functionDeclarations;

  const out: string[] = [];
  out.push(`# AgentScript (security level ${level})`);
  out.push('');
  out.push(
    'You write the body of an async JavaScript function. It runs in a sandbox with no network, files, timers, modules or host access: the only way to act on the world is `await callTool(name, args)`.',
  );
  out.push('');
  out.push('## How a script works');
  out.push('- Top-level `await` works. `return` the result; a trailing expression statement is returned too. Return plain data: objects, arrays, strings, numbers, booleans, null.');
  out.push('- `input` holds the caller\'s input, if any (a copy).');
  out.push(
    `- \`await callTool('tool:name', { ...args })\` calls a tool and gives a copy of its result. Call it directly, never store or wrap \`callTool\`${literalNames ? '; the tool name must be a string literal (choose between tools with if/else)' : ''}.`,
  );
  out.push(
    '- A failed call rejects with a `ToolError`: `err.code` says why (`UNKNOWN_TOOL`, `INVALID_ARGUMENTS`, `RATE_LIMITED`, `TOOL_TIMEOUT`, `TOOL_FAILED`, or a code of the tool), `err.message` says how to fix the call, and `err.data` may hold details (`issues`, `retryAfterMs`, `status`). Handle it with try/catch, or the run fails with that error.',
  );
  if (d.throwStatements) out.push('- `throw new Error(message)` ends the run with that message unless caught.');
  out.push('- Values cross into and out of the sandbox as copies: functions, class instances and symbols do not survive; a Date, Map, Set or BigInt does.');
  if (globals.includes('console')) out.push('- `console.log/info/warn/error` output is captured and returned to the host with the result (capped).');
  if (options.sidecarThreshold !== undefined) {
    out.push(
      `- Strings of ${count(options.sidecarThreshold)} characters or more in tool results arrive as references \`{ $ref, length, preview }\`. Pass a reference (alone, or inside arrays and objects) in a tool's arguments or in the returned value and it is replaced by the full text; concatenating it does not read the text.`,
    );
  }
  out.push('');
  out.push('## Allowed at this level');
  out.push('- `const`/`let`, `if`/`else`, `switch`, the ternary operator, `for` and `for-of` loops, `break`/`continue`, `try`/`catch`/`finally`.');
  out.push('- Arrow functions (callbacks such as `items.map((x) => x.id)`), destructuring, spread/rest, optional chaining `?.`, `??`, template literals, object and array literals.');
  for (const feature of allowed) out.push(`- ${feature}.`);
  out.push(`- Globals: ${globals.map((g) => `\`${g}\``).join(', ')}, plus \`callTool\` and \`input\`. Methods of strings, arrays, numbers and objects work as usual.`);
  out.push('');
  out.push('## Not allowed');
  for (const feature of denied) out.push(`- ${feature[0]?.toUpperCase()}${feature.slice(1)}.`);
  out.push(
    `- At every level: ${ALWAYS_BLOCKED_IDENTIFIERS.filter((n) => !n.endsWith('Function') || n === 'Function').map((n) => `\`${n}\``).join(', ')}; \`import\`/\`import()\`/\`import.meta\`, \`with\`, \`debugger\`, \`this\` outside classes, decorators.`,
  );
  out.push(
    `- Property names ${BLOCKED_PROPERTIES.map((p) => `\`${p}\``).join(', ')}; \`Object.defineProperty/defineProperties/setPrototypeOf/getPrototypeOf/getOwnPropertyDescriptor(s)\`; assigning to globals or their properties; names starting with \`${RESERVED_PREFIX}\`; loops that can never end.`,
  );
  out.push('- Any name that is neither declared by the script nor listed above as a global.');
  out.push('');
  out.push('## Limits of one run (exceeding one ends the run; it cannot be caught)');
  out.push(`- Deadline: ${count(l.timeout)} ms in total, including the time tools take.`);
  out.push(`- ${count(l.maxIterations)} loop iterations and function calls in total (callbacks included); call nesting depth ${count(l.maxCallDepth)}.`);
  out.push(`- ${count(l.maxToolCalls)} tool calls; arguments of one call up to ${bytes(l.maxToolArgsBytes)} and ${count(MAX_TOOL_ARGS_VALUES[level])} values (array elements and properties), one result up to ${bytes(l.maxToolResultBytes)}.`);
  out.push(`- Memory: ${bytes(l.memoryLimit)}. Returned value: ${bytes(l.maxOutputBytes)}. Console: ${count(l.maxLogEntries)} entries, ${bytes(l.maxLogBytes)}.`);
  out.push(
    `- Code: ${bytes(scan.maxCodeBytes)}, ${count(scan.maxLines)} lines of at most ${count(scan.maxLineLength)} characters, brackets nested ${scan.maxNesting} deep${scan.maxRegexCount > 0 ? `, ${scan.maxRegexCount} regex literals of up to ${scan.maxRegexLength} characters` : ''}.`,
  );
  return out.join('\n');
}
