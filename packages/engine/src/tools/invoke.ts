import { hostCodec } from '../sanitize/codec.js';
import { describeToolError, suggestNames } from '../sandbox/tool-errors.js';
import type { ToolContext, ToolFunction } from '../types.js';

/** The tools one run may call, resolved by the Enclave from the instance's and the run's options. */
export interface ToolScope {
  runId: string;
  /** The tool for a name, or undefined when the run has none by that name. */
  lookup: (name: string) => ToolFunction | undefined;
  /** The names offered in "did you mean" hints. */
  names: () => string[];
  /** The per-run context the host passed in `RunOptions.context`. */
  context: unknown;
  maxToolResultBytes: number;
}

/** One call as the realm made it: the arguments are still the realm codec's text. */
export interface ToolCallRequest {
  name: string;
  argsText: string;
  /** 1-based index of the call within its run. */
  callIndex: number;
  /** Aborted when the run ends. */
  signal: AbortSignal;
}

/** What goes back to the realm: `[1, codec text of the value]` or `[0, JSON of [errorName, message, code]]`. */
export type ToolReply = [0 | 1, string];

function errorReply(name: string, message: string, code: string): ToolReply {
  return [0, JSON.stringify([name, message, code])];
}

function unknownTool(name: string, names: readonly string[]): ToolReply {
  const close = suggestNames(name, names);
  const hint =
    close.length > 0
      ? ` Did you mean ${close.map((n) => `"${n}"`).join(' or ')}?`
      : names.length > 0
        ? ` Available tools: ${names.slice(0, 20).join(', ')}.`
        : ' No tools are available in this run.';
  return errorReply('ToolError', `Unknown tool "${name}".${hint}`, 'UNKNOWN_TOOL');
}

/**
 * Runs one tool call on the host, the same way for every isolation adapter: the arguments are decoded
 * into host values, the tool runs with its context, and the value is copied out under the run's byte
 * cap. Never rejects: a tool's own failure becomes a redacted error reply (see `describeToolError`).
 */
export async function invokeHostTool(scope: ToolScope, call: ToolCallRequest): Promise<ToolReply> {
  const tool = scope.lookup(call.name);
  if (!tool) return unknownTool(call.name, scope.names());
  try {
    const args = hostCodec.decode(call.argsText);
    const ctx: ToolContext = Object.freeze({
      signal: call.signal,
      runId: scope.runId,
      callIndex: call.callIndex,
      tool: call.name,
      context: scope.context,
    });
    const value = await tool(args, ctx);
    const text = hostCodec.encode(value, { maxBytes: scope.maxToolResultBytes, maxDepth: 256, getters: true, toJSON: true });
    if (typeof text === 'string') return [1, text];
    return errorReply(
      'ToolError',
      text === -1 ? `Tool "${call.name}" returned more than ${scope.maxToolResultBytes} bytes.` : `Tool "${call.name}" returned a value nested too deeply to copy.`,
      'RESULT_TOO_LARGE',
    );
  } catch (err) {
    return [0, JSON.stringify(describeToolError(call.name, err))];
  }
}
