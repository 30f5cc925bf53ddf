/**
 * The text a model reads after `execute`: short, and on failure everything it needs to fix the script
 * (code, message, line and column, the validator's hints) without parsing `structuredContent`.
 */
import type { ExecutionResult, LogEntry } from '@enclave-kit/engine';

/** Characters of the value and of the logs shown in the text; the whole result is in `structuredContent`. */
const VALUE_CHARS = 4000;
const LOG_CHARS = 2000;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters; the whole result is in structuredContent)`;
}

function stats(result: ExecutionResult): string {
  const { duration, toolCallCount } = result.stats;
  return `${Math.round(duration)} ms, ${toolCallCount} tool call${toolCallCount === 1 ? '' : 's'}`;
}

function logLines(logs: readonly LogEntry[] | undefined): string[] {
  if (!logs || logs.length === 0) return [];
  return ['Console output:', clip(logs.map((l) => `[${l.level}] ${l.message}`).join('\n'), LOG_CHARS)];
}

/**
 * The value as the text shows it: indented when it fits, compact otherwise. Indentation costs two spaces
 * a level on a line per element, so a value deep and wide within the output cap (652 KB) would be
 * 165 million characters indented, built whole on the main thread to show 4000 of them.
 */
function valueText(value: unknown): string {
  const compact = JSON.stringify(value) ?? String(value);
  return compact.length > VALUE_CHARS ? clip(compact, VALUE_CHARS) : clip(JSON.stringify(value, null, 2), VALUE_CHARS);
}

/** A readable summary of an `ExecutionResult`. */
export function summarize(result: ExecutionResult): string {
  if (result.success) {
    const value = result.value === undefined ? 'undefined (the script returned nothing)' : valueText(result.value);
    return [`OK (${stats(result)}). Value:`, value, ...logLines(result.logs)].join('\n');
  }
  const { error } = result;
  const at = error.location ? ` at line ${error.location.line}, column ${error.location.column}` : '';
  const lines = [`${error.code}${at}: ${error.message}`];
  // A validation message already lists each issue with its rule and hint; other codes carry useful data apart.
  if (!Array.isArray(error.data?.issues) && error.data !== undefined && Object.keys(error.data).length > 0) lines.push(`Details: ${clip(JSON.stringify(error.data), 500)}`);
  lines.push(`(${stats(result)})`, ...logLines(result.logs));
  lines.push(
    ['INTERNAL_ERROR', 'QUEUE_FULL', 'ABORTED', 'RUNTIME_UNAVAILABLE', 'RUNTIME_LOST'].includes(error.code)
      ? 'This is not a problem of the script; try again later.'
      : 'Fix the script and call execute again (describe_tools shows the signatures and the dialect).',
  );
  return lines.join('\n');
}
