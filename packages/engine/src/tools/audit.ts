import { escapeJSONText } from '../safe-text.js';
import { OptionChecker } from '../options.js';
import type { ToolCallEvent, ToolCallHook } from '../types.js';

/** Calls the hook without letting it throw, reject or delay the tool's reply. */
export function emitToolCall(hook: ToolCallHook, event: ToolCallEvent): void {
  try {
    const out = hook(event);
    if (out !== null && typeof out === 'object' && typeof (out as Promise<void>).then === 'function') (out as Promise<void>).then(undefined, () => {});
  } catch {
    // A failing audit hook must not change the run's outcome.
  }
}

/**
 * A ready `onToolCall` hook that writes one JSON line per call to a stream (a file, stdout, a socket).
 * The run's `context` is left out unless `context` picks what to log from it. Text the script chose (a
 * tool name it made up, an error message) cannot reorder or hide what an operator sees: BiDi and other
 * invisible characters and C0/C1 controls are written as `\uXXXX` escapes, as the CLI writes them.
 *
 * @example
 * ```ts
 * new Enclave({ onToolCall: jsonLinesAudit(fs.createWriteStream('tools.log', { flags: 'a' }), { context: (c) => ({ userId: c.userId }) }) });
 * // {"type":"tool_call","runId":"run_...","tool":"orders:get","callIndex":1,"startedAt":1767225600000,"durationMs":3.2,"argsBytes":8,"resultBytes":41,"outcome":"ok","context":{"userId":"u1"}}
 * ```
 */
export function jsonLinesAudit(stream: { write(chunk: string): unknown }, options: { context?: (context: any) => unknown } | null = {}): ToolCallHook {
  // Checked at once: a hook's failures are ignored (README), so a wrong stream would lose every line unseen.
  const check = new OptionChecker('jsonLinesAudit(stream, options)');
  if (check.withMethods('stream', stream, ['write'], 'a write(chunk) method (a file, stdout, a socket)') === undefined) check.fail('stream is required.');
  const o = check.object('options', options ?? undefined) ?? {};
  check.knownKeys('', o, ['context']);
  const pick = check.function<(context: unknown) => unknown>('context', o.context, '(context) => the fields to log');
  return (event) => {
    const { context, ...rest } = event;
    const line: Record<string, unknown> = rest;
    if (pick) line.context = pick(context);
    stream.write(`${escapeJSONText(JSON.stringify(line))}\n`);
  };
}
