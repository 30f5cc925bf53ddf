import type { RuntimeLimits, SecurityLevel } from '../levels.js';
import { describeDialect } from './dialect.js';
import type { HostTool } from './define.js';
import type { ToolMap } from './registry.js';
import { jsonSchemaOf } from './schema.js';
import { typeFromJsonSchema } from './typescript.js';

/** One tool as `describe()` lists it. */
export interface ToolDescription {
  name: string;
  description?: string;
  /** JSON Schema (draft 2020-12) of the arguments, from the schema library's own export. */
  inputSchema?: Record<string, unknown>;
  /** JSON Schema (draft 2020-12) of the result. */
  outputSchema?: Record<string, unknown>;
  sideEffect?: boolean;
  /**
   * A person approves each call before it runs (`'always'`), or the calls a predicate of the arguments
   * picks (`'conditional'`); the script waits meanwhile, and a denied call rejects with `APPROVAL_DENIED`.
   */
  needsApproval?: 'always' | 'conditional';
  /** Milliseconds one call may take. */
  timeout?: number;
  rateLimit?: { limit: number; windowMs: number };
  /** Why a schema is missing, when one is. */
  notes?: string[];
  /** Its `callTool` overload in TypeScript, with the description as a doc comment: its part of `declarations`. */
  declaration: string;
}

/** What `enclave.describe()` returns: everything a model needs to write a script for this Enclave. JSON-serializable. */
export interface EnclaveDescription {
  securityLevel: SecurityLevel;
  tools: ToolDescription[];
  /** Tool names outside `tools` may still work: a `toolHandler` serves them. */
  openToolNames: boolean;
  /** TypeScript declarations of `callTool` (one overload per tool), `input` and function globals. */
  declarations: string;
  /** The AgentScript dialect of this level, in Markdown, for the model. */
  dialect: string;
  limits: RuntimeLimits;
  /** `dialect`, the tool list and `declarations` as one Markdown section for a system prompt. */
  prompt: string;
}

function describeOne(tool: HostTool): { description: Omit<ToolDescription, 'declaration'>; argsType: string; resultType: string } {
  const d: Omit<ToolDescription, 'declaration'> = { name: tool.name };
  const notes: string[] = [];
  if (tool.description !== undefined) d.description = tool.description;
  let argsType = 'Record<string, unknown>';
  let resultType = 'unknown';
  if (tool.input !== undefined) {
    const schema = jsonSchemaOf(tool.input, 'input');
    if (schema !== undefined) {
      d.inputSchema = schema;
      argsType = typeFromJsonSchema(schema, { comments: true });
    } else notes.push(`The input schema (${tool.input['~standard'].vendor}) has no JSON Schema export; arguments are still validated.`);
  } else notes.push('No input schema: arguments are not validated.');
  if (tool.output !== undefined) {
    const schema = jsonSchemaOf(tool.output, 'output');
    if (schema !== undefined) {
      d.outputSchema = schema;
      resultType = typeFromJsonSchema(schema, { comments: true });
    } else notes.push(`The output schema (${tool.output['~standard'].vendor}) has no JSON Schema export.`);
  }
  if (tool.sideEffect !== undefined) d.sideEffect = tool.sideEffect;
  if (tool.needsApproval === true) d.needsApproval = 'always';
  else if (typeof tool.needsApproval === 'function') d.needsApproval = 'conditional';
  if (tool.timeout !== undefined) d.timeout = tool.timeout;
  if (tool.rateLimit !== undefined) d.rateLimit = { limit: tool.rateLimit.limit, windowMs: tool.rateLimit.windowMs };
  if (notes.length > 0) d.notes = notes;
  return { description: d, argsType, resultType };
}

const APPROVAL_NOTE = {
  always: 'Needs approval: a person approves each call before it runs; the call waits meanwhile and rejects with err.code "APPROVAL_DENIED" if denied.',
  conditional: 'May need approval, depending on the arguments: the call then waits for a person and rejects with err.code "APPROVAL_DENIED" if denied.',
} as const;

function docComment(lines: string[]): string {
  const clean = lines.map((l) => l.replace(/\*\//g, '* /')).filter((l) => l.trim() !== '');
  if (clean.length === 0) return '';
  return `/**\n${clean.map((l) => ` * ${l}`).join('\n')}\n */\n`;
}

export interface DescribeInput {
  level: SecurityLevel;
  limits: Readonly<RuntimeLimits>;
  tools: ToolMap | undefined;
  hasHandler: boolean;
  /** Names of data globals and of function globals. */
  dataGlobals: readonly string[];
  functionGlobals: readonly string[];
  sidecarThreshold?: number | undefined;
}

/** Builds the catalog; `Enclave.describe` supplies the instance's (and a run's) tools and settings. */
export function buildDescription(input: DescribeInput): EnclaveDescription {
  const tools = [...(input.tools?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const described = tools.map(describeOne);
  const declared = described.map(({ description: d, argsType, resultType }): ToolDescription => {
    const about = [
      ...(d.description !== undefined ? d.description.split(/\r?\n/) : []),
      ...(d.sideEffect ? ['Side effect: changes state outside the script; do not call it speculatively or repeat it blindly.'] : []),
      ...(d.needsApproval !== undefined ? [APPROVAL_NOTE[d.needsApproval]] : []),
      ...(d.rateLimit !== undefined ? [`Rate limit: ${d.rateLimit.limit} calls per ${d.rateLimit.windowMs} ms.`] : []),
      ...(d.timeout !== undefined ? [`Timeout: ${d.timeout} ms.`] : []),
    ];
    return { ...d, declaration: `${docComment(about)}declare function callTool(name: ${JSON.stringify(d.name)}, args: ${argsType}): Promise<${resultType}>;` };
  });
  const decl = declared.map((d) => d.declaration);
  if (input.hasHandler) decl.push(`/** Other tools the host serves by name. */\ndeclare function callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;`);
  decl.push(`/** The caller's input, if any. */\ndeclare const input: unknown;`);
  for (const g of input.dataGlobals) decl.push(`declare const ${g}: unknown;`);
  for (const g of input.functionGlobals) decl.push(`declare function ${g}(...args: unknown[]): Promise<unknown>;`);
  const declarations = decl.join('\n\n');

  const dialect = describeDialect(input.level, {
    limits: input.limits,
    globals: [...input.dataGlobals, ...input.functionGlobals],
    ...(input.sidecarThreshold !== undefined ? { sidecarThreshold: input.sidecarThreshold } : {}),
  });
  const list =
    described.length === 0
      ? input.hasHandler
        ? 'The host serves tools by name; none is listed.'
        : 'No tools are available.'
      : described
          .map(({ description: d }) => `- \`${d.name}\`${d.description !== undefined ? `: ${d.description.split(/\r?\n/)[0]}` : ''}${d.sideEffect ? ' (side effect)' : ''}${d.needsApproval !== undefined ? ' (needs approval)' : ''}`)
          .join('\n');
  const prompt = `${dialect}\n\n## Tools\n${list}\n\n## Declarations\n\`\`\`ts\n${declarations}\n\`\`\`\n`;
  return {
    securityLevel: input.level,
    tools: declared,
    openToolNames: input.hasHandler,
    declarations,
    dialect,
    limits: { ...input.limits },
    prompt,
  };
}
