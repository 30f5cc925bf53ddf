import { types } from '../node-types.js';
import { TOOL_ERROR_CODE, ToolError } from '../errors.js';

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

/** An HTTP error status (an integer 400-599), or undefined. */
function httpErrorStatus(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599 ? value : undefined;
}

/**
 * The HTTP error status an error that is not a ToolError carries as its own data property `status` or
 * `statusCode` (http-errors, Nest's HttpException, most HTTP clients' errors): DESIGN.md's "the status the
 * tool's error carries". Only the number goes on; a getter is never called.
 */
function carriedStatus(err: object): number | undefined {
  for (const key of ['status', 'statusCode']) {
    const own = Object.getOwnPropertyDescriptor(err, key);
    const status = own !== undefined && 'value' in own ? httpErrorStatus(own.value) : undefined;
    if (status !== undefined) return status;
  }
  return undefined;
}

/**
 * What the script and the result learn of what a tool threw: a `ToolError`'s public parts, or that the
 * tool failed (with the HTTP error status the error carries, if any: its message and the rest of it are
 * host text and stay out). Never throws: the thrown value is anything a tool chose (a revoked Proxy,
 * whose every trap throws, or an object whose getters do), so nothing of it is read outside a try, and a
 * Proxy is never asked anything (`instanceof` alone would run its `getPrototypeOf` trap).
 */
export function describeToolError(tool: string, err: unknown): ToolErrorDescription {
  const failed: ToolErrorDescription = ['ToolError', `Tool "${tool}" failed.`, 'TOOL_FAILED'];
  if (err === null || typeof err !== 'object' || types.isProxy(err)) return failed;
  try {
    if (!(err instanceof ToolError)) {
      const status = carriedStatus(err);
      return status === undefined ? failed : ['ToolError', failed[1], 'TOOL_FAILED', { status }];
    }
    const text = err.message;
    const code = err.code;
    if (typeof text !== 'string' || typeof code !== 'string') return failed;
    const message = text.length > MAX_PUBLIC_MESSAGE ? `${text.slice(0, MAX_PUBLIC_MESSAGE)}...` : text;
    // The constructor checks the code, but it is an ordinary property: one set later (of any length) is not passed on.
    const checked = TOOL_ERROR_CODE.test(code) ? code : 'TOOL_ERROR';
    const data = publicData(err);
    return data === undefined ? ['ToolError', message, checked] : ['ToolError', message, checked, data];
  } catch {
    return failed;
  }
}
