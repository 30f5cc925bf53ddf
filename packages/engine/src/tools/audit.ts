/** One tool call, as the audit hook receives it when the call has ended. */
export interface ToolCallEvent {
  type: 'tool_call';
  runId: string;
  tool: string;
  /** 1-based index of the call within its run. */
  callIndex: number;
  /** Wall-clock time the call reached the host (ms since the epoch). */
  startedAt: number;
  /** Milliseconds from reaching the host to the reply. */
  durationMs: number;
  /** Size of the script's arguments as copied out of the realm (codec text, UTF-16 units). */
  argsBytes: number;
  /** Size of the result copied into the realm; absent when the call failed. */
  resultBytes?: number;
  outcome: 'ok' | 'error';
  /** The code the script saw on `err.code` (`INVALID_ARGUMENTS`, `RATE_LIMITED`, `TOOL_TIMEOUT`, `ABORTED`, a tool's own code, ...). */
  errorCode?: string;
  /** Declared with `defineTool({ sideEffect: true })`. */
  sideEffect?: boolean;
  /** The run's `context` (for example the user): a reference, for the hook to pick fields from. */
  context: unknown;
}

/** Receives every tool call of every run. Errors it throws or rejects with are swallowed: a hook never breaks a run. */
export type ToolCallHook = (event: ToolCallEvent) => void | Promise<void>;

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
 * The run's `context` is left out unless `context` picks what to log from it.
 *
 * @example
 * ```ts
 * new Enclave({ onToolCall: jsonLinesAudit(fs.createWriteStream('tools.log', { flags: 'a' }), { context: (c) => ({ userId: c.userId }) }) });
 * // {"type":"tool_call","runId":"run_...","tool":"orders:get","callIndex":1,"startedAt":1767225600000,"durationMs":3.2,"argsBytes":8,"resultBytes":41,"outcome":"ok","context":{"userId":"u1"}}
 * ```
 */
export function jsonLinesAudit(stream: { write(chunk: string): unknown }, options: { context?: (context: any) => unknown } = {}): ToolCallHook {
  return (event) => {
    const { context, ...rest } = event;
    const line: Record<string, unknown> = rest;
    if (options.context) line.context = options.context(context);
    stream.write(`${JSON.stringify(line)}\n`);
  };
}
