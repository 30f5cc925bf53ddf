import { ToolError } from '../errors.js';

/*
 * Errors a tool throws are host objects with host text: file paths, SQL, connection strings. Only their
 * redacted description reaches the script and the result (invariant 6), unless the tool throws a
 * `ToolError`, which the host has marked as safe to show.
 */

const MAX_PUBLIC_MESSAGE = 1000;
const MAX_PUBLIC_DATA = 4096;

/**
 * `[errorName, message, code]` as delivered to the realm, plus the error's public data (its `status`
 * and `data`) when it has any.
 */
export type ToolErrorDescription = [name: string, message: string, code: string, data?: Record<string, unknown>];

/** The public data of a ToolError as a fresh JSON copy, or undefined if there is none or it is not JSON-safe. */
function publicData(err: ToolError): Record<string, unknown> | undefined {
  const data: Record<string, unknown> = {};
  if (err.data !== null && typeof err.data === 'object' && !Array.isArray(err.data)) Object.assign(data, err.data);
  if (err.status !== undefined) data.status = err.status;
  if (Object.keys(data).length === 0) return undefined;
  try {
    const text = JSON.stringify(data);
    return text.length <= MAX_PUBLIC_DATA ? (JSON.parse(text) as Record<string, unknown>) : err.status !== undefined ? { status: err.status } : undefined;
  } catch {
    return err.status !== undefined ? { status: err.status } : undefined;
  }
}

export function describeToolError(tool: string, err: unknown): ToolErrorDescription {
  if (err instanceof ToolError) {
    const message = err.message.length > MAX_PUBLIC_MESSAGE ? `${err.message.slice(0, MAX_PUBLIC_MESSAGE)}...` : err.message;
    const data = publicData(err);
    return data === undefined ? ['ToolError', message, err.code] : ['ToolError', message, err.code, data];
  }
  return ['ToolError', `Tool "${tool}" failed.`, 'TOOL_FAILED'];
}
