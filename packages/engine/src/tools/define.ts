import type { StandardSchemaV1 } from '../standard-schema.js';
import type { ToolConfig, ToolContext, ToolDefinition, ToolFunction, ToolRateLimit } from '../types.js';
import { TOOL_MARK } from '../types.js';
import { OptionChecker } from '../options.js';
import { isStandardSchema } from './schema.js';

const TOOL_CONFIG_KEYS = ['name', 'description', 'input', 'output', 'handler', 'timeout', 'rateLimit', 'sideEffect', 'needsApproval'];

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
  readonly needsApproval?: boolean | ((args: any, ctx: ToolContext) => boolean | Promise<boolean>) | undefined;
}

export function isToolDefinition(value: unknown): value is ToolDefinition {
  return value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[TOOL_MARK] === true;
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
  const check = new OptionChecker(`defineTool(${typeof config?.name === 'string' ? JSON.stringify(config.name) : '...'})`);
  check.object('the config', config ?? null);
  check.knownKeys('', config, TOOL_CONFIG_KEYS);
  const nameProblem = checkToolName(config.name);
  if (nameProblem !== undefined) check.fail(`name ${nameProblem}.`);
  check.string('description', config.description);
  check.function('handler', config.handler ?? null, '(args, ctx) => result');
  if (config.input !== undefined && !isStandardSchema(config.input)) check.fail('input must be a Standard Schema validator (zod, valibot, arktype, ...).');
  if (config.output !== undefined && !isStandardSchema(config.output)) check.fail('output must be a Standard Schema validator (zod, valibot, arktype, ...).');
  check.delay('timeout', config.timeout);
  check.boolean('sideEffect', config.sideEffect);
  if (config.needsApproval !== undefined && typeof config.needsApproval !== 'boolean' && typeof config.needsApproval !== 'function') check.fail('needsApproval must be true, false or a predicate (args, ctx) => boolean.');
  const rl = check.object('rateLimit', config.rateLimit, 'an object { limit, windowMs, key? }');
  if (rl !== undefined) {
    check.knownKeys('rateLimit', rl, ['limit', 'windowMs', 'key']);
    check.positiveInteger('rateLimit.limit', rl.limit ?? null);
    check.positiveInteger('rateLimit.windowMs', rl.windowMs ?? null, 'ms');
    check.function('rateLimit.key', rl.key, '(ctx) => key');
  }
  const definition = { ...config, rateLimit: config.rateLimit === undefined ? undefined : Object.freeze({ ...config.rateLimit }), [TOOL_MARK]: true as const };
  return Object.freeze(definition) as ToolDefinition<I, O>;
}

/** A plain function or a definition, as the registry holds it. */
export function toHostTool(name: string, tool: ToolFunction | ToolDefinition): HostTool {
  if (isToolDefinition(tool)) return tool as HostTool;
  return { name, handler: tool };
}
