import type { StandardSchemaV1 } from '../standard-schema.js';
import type { ToolConfig, ToolDefinition, ToolFunction, ToolRateLimit } from '../types.js';
import { TOOL_MARK } from '../types.js';
import { isStandardSchema } from './schema.js';

/** A tool as the registry holds it, whether defined with `defineTool` or given as a plain function. */
export interface HostTool {
  readonly name: string;
  readonly description?: string | undefined;
  readonly input?: StandardSchemaV1 | undefined;
  readonly output?: StandardSchemaV1 | undefined;
  readonly handler: ToolFunction;
  readonly timeout?: number | undefined;
  readonly rateLimit?: ToolRateLimit | undefined;
  readonly sideEffect?: boolean | undefined;
}

export function isToolDefinition(value: unknown): value is ToolDefinition {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[TOOL_MARK] === true;
}

function positiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/** Tool names the realm accepts: 1 to 256 characters, no control characters. */
export function checkToolName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) return 'must be a string of 1 to 256 characters';
  // oxlint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  return undefined;
}

/**
 * Declares a tool with schemas for its arguments and result, a timeout, a rate limit and a description
 * the model can read. Arguments that fail `input` never reach the handler: the script gets a catchable
 * `ToolError` with code `INVALID_ARGUMENTS` and one line per issue (`id: Expected number`).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const getOrder = defineTool({
 *   name: 'orders:get',
 *   description: 'One order of the current user, by id.',
 *   input: z.object({ id: z.number().int() }),
 *   output: z.object({ id: z.number(), total: z.number() }), // strips every other field
 *   timeout: 2_000,
 *   rateLimit: { limit: 30, windowMs: 60_000, key: (ctx) => ctx.context.userId },
 *   handler: ({ id }, ctx) => db.orders.get(ctx.context.userId, id, { signal: ctx.signal }),
 * });
 * await enclave.run(code, { tools: [getOrder], context: { userId } });
 * ```
 * Defaults: no timeout of its own (the run's deadline bounds it), no rate limit, `sideEffect: false`.
 */
export function defineTool<I extends StandardSchemaV1 | undefined = undefined, O extends StandardSchemaV1 | undefined = undefined>(config: ToolConfig<I, O>): ToolDefinition<I, O> {
  const where = `defineTool(${typeof config?.name === 'string' ? JSON.stringify(config.name) : '...'})`;
  const fail = (message: string): never => {
    throw new TypeError(`${where}: ${message}`);
  };
  if (config === null || typeof config !== 'object') fail('the config must be an object.');
  const known = new Set(['name', 'description', 'input', 'output', 'handler', 'timeout', 'rateLimit', 'sideEffect']);
  for (const key of Object.keys(config)) if (!known.has(key)) fail(`unknown option "${key}". Known options: ${[...known].join(', ')}.`);
  const nameProblem = checkToolName(config.name);
  if (nameProblem !== undefined) fail(`name ${nameProblem}.`);
  if (config.description !== undefined && typeof config.description !== 'string') fail('description must be a string.');
  if (typeof config.handler !== 'function') fail('handler must be a function.');
  if (config.input !== undefined && !isStandardSchema(config.input)) fail('input must be a Standard Schema validator (zod, valibot, arktype, ...).');
  if (config.output !== undefined && !isStandardSchema(config.output)) fail('output must be a Standard Schema validator (zod, valibot, arktype, ...).');
  if (config.timeout !== undefined && !positiveInteger(config.timeout)) fail('timeout must be a positive integer (ms).');
  if (config.sideEffect !== undefined && typeof config.sideEffect !== 'boolean') fail('sideEffect must be a boolean.');
  const rl = config.rateLimit;
  if (rl !== undefined) {
    if (rl === null || typeof rl !== 'object') fail('rateLimit must be an object { limit, windowMs, key? }.');
    if (!positiveInteger(rl.limit)) fail('rateLimit.limit must be a positive integer.');
    if (!positiveInteger(rl.windowMs)) fail('rateLimit.windowMs must be a positive integer (ms).');
    if (rl.key !== undefined && typeof rl.key !== 'function') fail('rateLimit.key must be a function of the call context.');
  }
  const definition = { ...config, rateLimit: rl === undefined ? undefined : Object.freeze({ ...rl }), [TOOL_MARK]: true as const };
  return Object.freeze(definition) as ToolDefinition<I, O>;
}

/** A plain function or a definition, as the registry holds it. */
export function toHostTool(name: string, tool: ToolFunction | ToolDefinition): HostTool {
  if (isToolDefinition(tool)) return tool as HostTool;
  return { name, handler: tool };
}
