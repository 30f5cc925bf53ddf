/**
 * The `enclave` command line: argument parsing and the three commands. Kept apart from the `bin` entry
 * (main.ts) so tests can call `main()` in-process with their own streams and environment.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Enclave } from '../enclave.js';
import { EnclaveConfigError } from '../errors.js';
import type { SecurityLevel } from '../levels.js';
import { SECURITY_LEVELS } from '../levels.js';
import { LineIndex } from '../source.js';
import type { CheckIssue } from '../pipeline.js';
import type { RunOptions, ToolSet } from '../types.js';
import { checkSource } from './check.js';
import { formatIssue } from './frame.js';
import { stringifySafe } from './json-safe.js';
import { serveMcp, stdoutForProtocol } from './mcp.js';
import { formatRunResult, loadTools } from './run.js';
import type { ColorTarget } from './terminal.js';
import { createStyle, escapeJSONText, escapeText, shouldColor } from './terminal.js';
import { UsageError } from './usage.js';

/** Exit codes: 0 success, 1 problems found or the script failed, 2 usage error, 130 interrupted. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

/** An output stream as the CLI uses it. */
export interface OutStream extends ColorTarget {
  write(text: string): unknown;
}

/** Everything the CLI touches of its process, so tests can supply their own. */
export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  /** Read when a file argument is `-`. */
  stdin?: AsyncIterable<string | Uint8Array>;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Aborted on Ctrl-C: an active run ends as ABORTED. */
  signal?: AbortSignal;
}

const LEVELS = SECURITY_LEVELS.join(' | ');

const HELP = `enclave - check and run AgentScript (JavaScript written by LLM agents) in a locked sandbox

Usage:
  enclave check <file...> [--level LEVEL] [--globals a,b] [--json]
  enclave run <file> [--tools tools.mjs] [--input JSON | --input-file in.json]
                     [--level LEVEL] [--timeout ms] [--json]
  enclave mcp [--tools tools.mjs] [--level LEVEL] [--timeout ms]
  enclave --help | --version

Commands:
  check   Validate without running anything: pre-scan, syntax, the level's AgentScript rules.
          Prints every problem with a code frame. Exit 0 when clean, 1 when problems were found.
  run     Run the script in a fresh sandbox. Prints the result value on stdout; the captured
          console output, errors and stats on stderr. Exit 0 on success, 1 when the script failed.
  mcp     Serve the tools module over MCP on stdio in code mode (search_tools, describe_tools,
          execute), for desktop MCP clients. Needs the @enclave-kit/mcp package.

Run "enclave <command> --help" for the command's options.
Use "-" as <file> to read the script from standard input.
Exit codes: 0 ok, 1 problems found / script failed, 2 usage error, 130 interrupted (Ctrl-C).
Colors: on for terminals; NO_COLOR=1 turns them off, FORCE_COLOR=1 forces them on.
`;

const CHECK_HELP = `Usage: enclave check <file...> [options]     ("-" as a file: standard input)

Validates AgentScript without running it, exactly as "enclave run" (and Enclave.run) would before
running: the pre-scan of the raw text, then syntax, then the AST rules of the security level.

Options:
  --level LEVEL     ${LEVELS} (default STANDARD)
  --globals a,b     names the host passes as globals, allowed as identifiers
  --json            print [{ file, level, ok, issues }] as JSON instead of code frames
                    (issues as enclave.check() reports them: ruleId, severity, message, line, ...)
  -h, --help        show this help

Exit codes: 0 clean, 1 problems found, 2 usage error.
`;

const RUN_HELP = `Usage: enclave run <file> [options]     ("-" as <file>: the script from standard input)

Runs AgentScript in a fresh, locked sandbox with the given tools and input.

Options:
  --tools FILE        ES module whose default export (or export "tools") is a record of
                      async functions (args, ctx) => result, callable with callTool(name, args)
  --input JSON        value of the script's global "input"
  --input-file FILE   read "input" from a JSON file ("-" for standard input)
  --level LEVEL       ${LEVELS} (default STANDARD)
  --timeout MS        deadline of the run in milliseconds (default: the level's)
  --json              print the ExecutionResult as JSON (stdout) instead of the readable report
  -h, --help          show this help

Output: the value as JSON on stdout; console output ([log] ...), errors with a code frame, and a
stats line on stderr. A result is JSON data: BigInts arrive as digit strings, Dates as ISO strings,
Maps as [key, value] pairs, Sets as arrays, NaN/Infinity as null; a cycle is OUTPUT_LIMIT_EXCEEDED.
Exit codes: 0 success, 1 the script failed, 2 usage error, 130 interrupted.
`;

const MCP_HELP = `Usage: enclave mcp [options]

Serves MCP on stdin/stdout until the client closes stdin: an MCP client (a desktop app, an agent) gets
three tools instead of one per host tool ("code mode"):
  search_tools    keywords -> the matching tools, best first
  describe_tools  names -> their TypeScript signatures and JSON Schemas, and the script dialect
  execute         runs one script that calls the tools, in a fresh, locked sandbox per call
Speaks MCP 2026-07-28, and 2025 clients that open with "initialize".

Options:
  --tools FILE        ES module whose default export (or export "tools") is a record of
                      async functions (args, ctx) => result, or an array of defineTool() definitions;
                      optional: without it the catalog is empty and execute runs scripts that call no tool
  --level LEVEL       ${LEVELS} (default STANDARD)
  --timeout MS        deadline of each run in milliseconds (default: the level's)
  --max-line-bytes N  bytes of one message read at most; a longer one is dropped unread and
                      answered with a JSON-RPC error (default 1048576)
  --max-concurrent N  requests in flight at once; one more is answered with a JSON-RPC error
                      and not started (default 8)
  -h, --help          show this help

Client configuration (e.g. claude_desktop_config.json):
  { "mcpServers": { "my-tools": { "command": "npx",
      "args": ["enclave", "mcp", "--tools", "/absolute/path/to/tools.mjs"] } } }

Needs @enclave-kit/mcp next to the tools module (npm install @enclave-kit/mcp). Console output of
the tools module goes to stderr: stdout carries only the protocol.
Exit codes: 0 when the client closed the connection, 2 usage error.
`;

function version(): string {
  // The bundle (dist/bundle/) and src/cli/app.ts both sit two levels below the package root.
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** parseArgs reports user mistakes as TypeErrors with an ERR_PARSE_ARGS_* code; those are usage errors. */
/** A flag of one command (node:util's parseArgs options: a string or a boolean). */
type FlagOptions = Record<string, { type: 'string' } | { type: 'boolean'; short?: string }>;

/**
 * A command's flags and positionals, and `--help` (`-h`), which every command takes: its help is then
 * printed and the result is undefined (the command exits 0). Errors are usage errors, as `parse` makes them.
 */
function parseCommand<const O extends FlagOptions>(command: string, args: string[], options: O, help: string, io: CliIO) {
  const parsed = parse(command, () => parseArgs({ args, allowPositionals: true, options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  if ((parsed.values as { help?: boolean }).help !== true) return parsed;
  io.stdout.write(help);
  return undefined;
}

function parse<R>(command: string, parseThunk: () => R): R {
  try {
    return parseThunk();
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw e;
    const message = (e as Error).message;
    // Node's text for an unknown option goes on about positionals; the option is what matters.
    const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']*)'/.exec(message) : null;
    throw new UsageError(unknown ? `${command}: unknown option ${unknown[1]}` : `${command}: ${message}`, command);
  }
}

function parseLevel(value: string | undefined): SecurityLevel {
  if (value === undefined) return 'STANDARD';
  const upper = value.toUpperCase();
  if (!(SECURITY_LEVELS as readonly string[]).includes(upper)) throw new UsageError(`--level must be one of ${LEVELS}, got "${value}"`);
  return upper as SecurityLevel;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function parseGlobals(value: string | undefined): string[] {
  if (value === undefined) return [];
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  for (const n of names) if (!IDENTIFIER.test(n)) throw new UsageError(`--globals: "${n}" is not an identifier`);
  return names;
}

async function readStdin(io: CliIO): Promise<string> {
  if (!io.stdin) throw new UsageError('standard input is not available');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a text file named on the command line (`-` is stdin); a failure is a usage error. */
async function readText(path: string, what: string, io: CliIO): Promise<string> {
  let text: string;
  if (path === '-') {
    text = await readStdin(io);
  } else {
    try {
      text = await readFile(resolve(io.cwd, path), 'utf8');
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const reason =
        code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : ((e as Error).message ?? String(e));
      throw new UsageError(`cannot read ${what} ${path}: ${reason}`);
    }
  }
  // Editors on Windows add a byte order mark; it is an encoding artifact, not part of the script (and
  // the pre-scan would rightly report it as an invisible character).
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function displayName(path: string): string {
  return path === '-' ? '<stdin>' : path;
}

async function checkCommand(args: string[], io: CliIO): Promise<number> {
  const parsed = parseCommand('check', args, { level: { type: 'string' }, globals: { type: 'string' }, json: { type: 'boolean' } }, CHECK_HELP, io);
  if (parsed === undefined) return EXIT.OK;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('check: missing <file> ("-" reads the script from standard input)', 'check');
  if (positionals.filter((p) => p === '-').length > 1) throw new UsageError('check: standard input ("-") can be read only once');
  const level = parseLevel(values.level);
  const globals = parseGlobals(values.globals);
  // Read every file first: a missing file is a usage error, reported before any output.
  const files: { name: string; code: string }[] = [];
  for (const path of positionals) files.push({ name: displayName(path), code: await readText(path, 'file', io) });

  const style = createStyle(!values.json && shouldColor(io.stdout, io.env));
  const reports: { file: string; level: SecurityLevel; ok: boolean; issues: CheckIssue[] }[] = [];
  let failed = false;
  for (const { name, code } of files) {
    const issues = checkSource(code, level, globals);
    reports.push({ file: name, level, ok: issues.length === 0, issues });
    if (issues.length > 0) failed = true;
    if (values.json) continue;
    if (issues.length === 0) {
      io.stdout.write(`${escapeText(name)}: ${style.green('OK')} (level ${level})\n`);
      continue;
    }
    const lines = new LineIndex(code);
    for (const issue of issues) io.stdout.write(`${formatIssue(name, issue, lines, { style, severity: issue.severity })}\n\n`);
    io.stdout.write(`${escapeText(name)}: ${style.red(`${issues.length} problem${issues.length === 1 ? '' : 's'}`)} (level ${level})\n`);
  }
  if (values.json) io.stdout.write(`${escapeJSONText(JSON.stringify(reports, null, 2))}\n`);
  return failed ? EXIT.FAILED : EXIT.OK;
}

function parseTimeout(value: string | undefined): number | undefined {
  return parsePositive('--timeout', value, 'of milliseconds');
}

/** A flag's positive whole number; the flag's text as given is escaped by whoever prints the error. */
function parsePositive(flag: string, value: string | undefined, unit = ''): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag} must be a positive whole number${unit === '' ? '' : ` ${unit}`}, got "${value}"`);
  }
  return Number(value);
}

function parseJSONInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

async function runCommand(args: string[], io: CliIO): Promise<number> {
  const flags = { tools: { type: 'string' }, input: { type: 'string' }, 'input-file': { type: 'string' }, level: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } } as const;
  const parsed = parseCommand('run', args, flags, RUN_HELP, io);
  if (parsed === undefined) return EXIT.OK;
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('run: missing <file> ("-" reads the script from standard input)', 'run');
  if (positionals.length > 1) throw new UsageError(`run: expected one file, got ${positionals.length}`, 'run');
  if (values.input !== undefined && values['input-file'] !== undefined) throw new UsageError('give either --input or --input-file, not both');
  const path = positionals[0] as string;
  if (path === '-' && values['input-file'] === '-') throw new UsageError('the script and --input-file cannot both come from standard input');
  const level = parseLevel(values.level);
  const timeout = parseTimeout(values.timeout);

  const code = await readText(path, 'file', io);
  const runOptions: RunOptions = {};
  if (values.input !== undefined) runOptions.input = parseJSONInput(values.input, '--input');
  if (values['input-file'] !== undefined) {
    runOptions.input = parseJSONInput(await readText(values['input-file'], 'input file', io), `--input-file ${values['input-file']}`);
  }
  let tools: ToolSet | undefined;
  if (values.tools !== undefined) tools = await loadTools(values.tools, io.cwd);
  if (tools) runOptions.tools = tools;
  if (io.signal) runOptions.signal = io.signal;

  let enclave: Enclave;
  try {
    // One run per process: realms built ahead of demand would only cost start-up time.
    enclave = new Enclave({ securityLevel: level, ...(timeout !== undefined ? { timeout } : {}), realmPool: { prewarm: 0 } });
  } catch (e) {
    if (e instanceof EnclaveConfigError) throw new UsageError(e.message);
    throw e;
  }
  try {
    const result = await enclave.run(code, runOptions);
    if (values.json) {
      io.stdout.write(`${escapeJSONText(stringifySafe(result))}\n`);
    } else {
      const text = formatRunResult(result, displayName(path), new LineIndex(code), createStyle(shouldColor(io.stderr, io.env)));
      // Logs come before the value and stats after it, as they happened; the report is colored for
      // stderr, which may be a terminal while stdout is a pipe.
      if (text.head !== '') io.stderr.write(text.head);
      if (text.value !== '') io.stdout.write(text.value);
      io.stderr.write(text.tail);
    }
    if (result.success) return EXIT.OK;
    return result.error.code === 'ABORTED' && io.signal?.aborted ? EXIT.INTERRUPTED : EXIT.FAILED;
  } finally {
    enclave.dispose();
  }
}

async function mcpCommand(args: string[], io: CliIO): Promise<number> {
  const flags = { tools: { type: 'string' }, level: { type: 'string' }, timeout: { type: 'string' }, 'max-line-bytes': { type: 'string' }, 'max-concurrent': { type: 'string' } } as const;
  const parsed = parseCommand('mcp', args, flags, MCP_HELP, io);
  if (parsed === undefined) return EXIT.OK;
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`mcp: unexpected argument "${positionals[0]}"`, 'mcp');
  const level = parseLevel(values.level);
  const timeout = parseTimeout(values.timeout);
  const maxLineBytes = parsePositive('--max-line-bytes', values['max-line-bytes'], 'of bytes');
  const maxConcurrentRequests = parsePositive('--max-concurrent', values['max-concurrent']);
  // A tools module may print as it loads: to stderr as well, before the protocol starts on stdout.
  const tools = values.tools !== undefined ? await stdoutForProtocol(io.stdout, () => loadTools(values.tools as string, io.cwd)) : undefined;
  await serveMcp({
    tools,
    toolsPath: values.tools,
    limits: { ...(maxLineBytes !== undefined && { maxLineBytes }), ...(maxConcurrentRequests !== undefined && { maxConcurrentRequests }) },
    enclave: { securityLevel: level, ...(timeout !== undefined ? { timeout } : {}) },
    cwd: io.cwd,
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    signal: io.signal,
  });
  return EXIT.OK;
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code. User
 * mistakes print a one-line message and return 2; nothing the user does prints a host stack trace.
 */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.stderr.write(HELP);
        return EXIT.USAGE;
      case '-h':
      case '--help':
        io.stdout.write(HELP);
        return EXIT.OK;
      case 'help':
        io.stdout.write(rest[0] === 'check' ? CHECK_HELP : rest[0] === 'run' ? RUN_HELP : rest[0] === 'mcp' ? MCP_HELP : HELP);
        return EXIT.OK;
      case '-v':
      case '--version':
        io.stdout.write(`${version()}\n`);
        return EXIT.OK;
      case 'check':
        return await checkCommand(rest, io);
      case 'run':
        return await runCommand(rest, io);
      case 'mcp':
        return await mcpCommand(rest, io);
      default:
        throw new UsageError(command.startsWith('-') ? `unknown option "${command}"` : `unknown command "${command}" (expected check, run or mcp)`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`enclave: ${escapeText(e.message)}\nRun "enclave ${e.command !== undefined ? `${e.command} ` : ''}--help" for usage.\n`);
      return EXIT.USAGE;
    }
    // A bug of ours, not the user's: say so briefly. ENCLAVE_DEBUG=1 shows the stack for a bug report.
    const detail = io.env.ENCLAVE_DEBUG ? (e instanceof Error ? (e.stack ?? e.message) : String(e)) : e instanceof Error ? e.message : String(e);
    io.stderr.write(`enclave: internal error: ${escapeText(detail, { keepNewlines: true })}\n`);
    return EXIT.FAILED;
  }
}
