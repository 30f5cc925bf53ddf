/**
 * `enclave run`: loading a tools module, and printing an `ExecutionResult` for a person (value on
 * stdout; logs, errors and stats on stderr, so `enclave run x.js > out.json` keeps only the value).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EnclaveConfigError } from '../errors.js';
import type { LineIndex } from '../source.js';
import type { Issue } from '../source.js';
import { isToolDefinition } from '../tools/define.js';
import type { ExecutionResult, LogEntry, ToolSet } from '../types.js';
import { formatIssue, codeFrame } from './frame.js';
import { stringifySafe } from './json-safe.js';
import type { Style } from './terminal.js';
import { escapeJSONText, escapeText } from './terminal.js';
import { UsageError } from './usage.js';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Imports the tools module at `path` (relative to `cwd`) and returns its tools: the default export, or
 * the named export `tools`, a record of functions `(args, ctx) => result`. Problems with the module are
 * the user's to fix, so they surface as a `UsageError` with a message, never a stack trace.
 */
export async function loadTools(path: string, cwd: string = process.cwd()): Promise<ToolSet> {
  const absolute = resolve(cwd, path);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (e) {
    // A definition the module made with defineTool() is malformed: the message names the option.
    if (e instanceof EnclaveConfigError) throw new UsageError(`tools module ${path}: ${e.message}`);
    const err = e as { code?: unknown; message?: unknown };
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && typeof err.message === 'string' && err.message.includes(absolute)) {
      throw new UsageError(`cannot load tools module ${path}: file not found`);
    }
    const name = e instanceof Error ? e.name : 'Error';
    // Node names the importing file (this CLI's own dist path): noise for the user.
    const message = (typeof err?.message === 'string' ? err.message : String(e)).replace(/ imported from \S+$/, '');
    throw new UsageError(`cannot load tools module ${path}: ${name}: ${message}`);
  }
  const tools = mod.default !== undefined ? mod.default : mod.tools;
  if (tools === undefined) {
    throw new UsageError(
      `tools module ${path} has no default export and no "tools" export; export a record of async functions, e.g. export default { 'users:list': async (args, ctx) => [...] }`,
    );
  }
  if (tools === null || typeof tools !== 'object') {
    throw new UsageError(`tools module ${path} must export a record of functions or an array of defineTool() definitions, got ${describe(tools)}`);
  }
  if (Array.isArray(tools)) {
    for (const [i, tool] of (tools as unknown[]).entries()) {
      if (!isToolDefinition(tool)) throw new UsageError(`tools module ${path}: item ${i} must be a defineTool() definition, got ${describe(tool)}`);
    }
    return tools as ToolSet;
  }
  for (const [name, fn] of Object.entries(tools)) {
    if (typeof fn !== 'function' && !isToolDefinition(fn)) throw new UsageError(`tools module ${path}: tool "${name}" must be a function or a defineTool() definition, got ${describe(fn)}`);
  }
  return tools as ToolSet;
}

function formatDuration(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `duration 3.12 ms · 3 tool calls · 57 iterations` */
export function formatStats(stats: ExecutionResult['stats']): string {
  return `duration ${formatDuration(stats.duration)} · ${plural(stats.toolCallCount, 'tool call')} · ${plural(stats.iterationCount, 'iteration')}`;
}

/** One captured console entry, prefixed with its level; continuation lines are indented under it. */
export function formatLog(entry: LogEntry, style: Style): string {
  const prefix = `[${entry.level}]`;
  const color = entry.level === 'error' ? style.red : entry.level === 'warn' ? style.yellow : style.dim;
  const [first = '', ...rest] = escapeText(entry.message, { keepNewlines: true }).split('\n');
  const indent = ' '.repeat(prefix.length + 1);
  return [`${color(prefix)} ${first}`, ...rest.map((line) => `${indent}${line}`)].join('\n');
}

function isIssueList(value: unknown): value is Issue[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((i) => i !== null && typeof i === 'object' && typeof i.ruleId === 'string' && typeof i.line === 'number' && typeof i.column === 'number')
  );
}

export interface ResultText {
  /** stderr, printed first: console output, and the error report when the run failed. */
  head: string;
  /** stdout: the value as JSON, empty when the run failed. */
  value: string;
  /** stderr, printed last: the stats line. */
  tail: string;
}

/**
 * The human rendering of a run's result. Success: logs, then the value (stdout), then stats. Failure:
 * logs, then `error CODE Name: message` with a code frame at the error's location (every rejected rule
 * with its own frame for a VALIDATION_ERROR), then stats.
 */
export function formatRunResult(result: ExecutionResult, file: string, source: LineIndex, style: Style): ResultText {
  const err: string[] = [];
  for (const entry of result.logs ?? []) err.push(formatLog(entry, style));
  let value = '';
  if (result.success) {
    value = `${escapeJSONText(stringifySafe(result.value))}\n`;
  } else {
    const e = result.error;
    const code = e.code;
    const issues = e.data?.issues;
    if (code === 'VALIDATION_ERROR' && isIssueList(issues)) {
      err.push(`${style.red(style.bold(`error ${code}`))} ${plural(issues.length, 'problem')} in ${escapeText(file)}; nothing ran.`);
      for (const issue of issues) err.push('', formatIssue(file, issue, source, { style }));
      err.push('');
    } else {
      err.push(`${style.red(style.bold(`error ${code}`))} ${escapeText(e.name)}: ${escapeText(e.message, { keepNewlines: true })}`);
      if (e.location) {
        err.push(`  ${style.dim('-->')} ${escapeText(file)}:${e.location.line}:${e.location.column}`);
        const frame = codeFrame(source, e.location, { style });
        if (frame !== '') err.push(frame);
      }
      const data = e.data;
      if (data && Object.keys(data).length > 0) {
        const { tool, toolErrorCode, ...rest } = data as { tool?: unknown; toolErrorCode?: unknown } & Record<string, unknown>;
        if (tool !== undefined || toolErrorCode !== undefined) {
          err.push(`  ${style.cyan('tool:')} ${escapeText(String(tool ?? '?'))}${toolErrorCode !== undefined ? ` (${escapeText(String(toolErrorCode))})` : ''}`);
        }
        if (Object.keys(rest).length > 0) err.push(`  ${style.cyan('data:')} ${escapeJSONText(stringifySafe(rest, { indent: 0 }))}`);
      }
    }
  }
  return { head: err.length > 0 ? `${err.join('\n')}\n` : '', value, tail: `${style.dim(formatStats(result.stats))}\n` };
}
