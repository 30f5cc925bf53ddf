/**
 * Errors a tool throws are host objects with host text: file paths, SQL, connection strings. Only their
 * redacted description reaches the script and the result (invariant 6), unless the tool throws a
 * `ToolError`, which the host has marked as safe to show.
 *
 * An error a tool throws on purpose: its message and code reach the script (as a catchable `ToolError`
 * with `err.code`) and, if unhandled, the result (`error.code === 'TOOL_ERROR'`,
 * `error.data.toolErrorCode`). Any other error a tool throws is redacted to `Tool "name" failed.`
 *
 * @example
 * ```ts
 * const tools = {
 *   'orders:get': async ({ id }) => {
 *     const order = await db.orders.get(id);
 *     if (!order) throw new ToolError(`No order ${id}`, { code: 'NOT_FOUND', status: 404 });
 *     return order;
 *   },
 * };
 * ```
 */
export class ToolError extends Error {
  override name = 'ToolError';
  /** A stable, machine-readable code the script can branch on (e.g. `NOT_FOUND`). */
  readonly code: string;
  /**
   * An HTTP status the adapters may use when the script does not handle the error; it reaches the
   * script as `err.data.status` and the result as `error.data.status`.
   */
  readonly status: number | undefined;
  /**
   * Public, JSON-serializable details (at most 4 KB as JSON, otherwise dropped): the script sees them
   * as `err.data`, the result as `error.data` (e.g. `{ retryAfterMs }` for a rate limit).
   */
  readonly data: Readonly<Record<string, unknown>> | undefined;
  constructor(message: string, options: { code?: string; status?: number; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code !== undefined && /^[A-Z][A-Z0-9_]{0,63}$/.test(options.code) ? options.code : 'TOOL_ERROR';
    this.status = Number.isInteger(options.status) && (options.status as number) >= 400 && (options.status as number) <= 599 ? options.status : undefined;
    this.data = options.data;
  }
}

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

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Up to three names close to `name`, best first, for "did you mean" hints. */
export function suggestNames(name: string, names: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  return names
    .map((n) => ({ n, d: n.toLowerCase() === lower ? 0 : n.toLowerCase().includes(lower) || lower.includes(n.toLowerCase()) ? 1 : distance(lower, n.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, 3)
    .map((x) => x.n);
}
