/**
 * The three tools of code mode, registered on an MCP server for one caller: `search_tools`,
 * `describe_tools` and `execute`. What they see of the host is a `CodeModeBackend`: the caller's catalog
 * and a way to run a script with the caller's tools, so HTTP (per request, per user) and stdio (one local
 * tools module) share every line of this file.
 */
import type { EnclaveDescription, ExecutionResult, ToolDescription } from '@enclave-kit/engine';
import { EnclaveHttpError } from '@enclave-kit/engine';
import { McpServer, fromJsonSchema } from '@modelcontextprotocol/server';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { searchTools, searcher } from './search.js';
import { summarize } from './summary.js';

/** What the three tools need of the host, for one caller. */
export interface CodeModeBackend {
  /** The caller's catalog: `enclave.describe()` of their tools. */
  catalog(): Promise<EnclaveDescription>;
  /** Runs a script with the caller's tools. Rejects only with an `EnclaveHttpError` (refused before running; its message is public). */
  run(code: string, input: unknown, signal: AbortSignal): Promise<ExecutionResult>;
}

/** How the server introduces itself. */
export interface CodeModeInfo {
  /** Default `enclave-kit`. */
  name?: string;
  /** Default the package's version. */
  version?: string;
}

export const TOOL_NAMES = ['search_tools', 'describe_tools', 'execute'] as const;

/** Names at most per `describe_tools` call, and hits at most per search: what fits a model's context. */
const MAX_NAMES = 50;
const MAX_LIMIT = 50;
const DEFAULT_LIMIT = 10;
/**
 * Characters of a search query, and of a tool name (the longest a tool may have). Ranking is synchronous
 * work for every query word against every tool: a megabyte of distinct words held the event loop for
 * seconds. A model's query is a few words.
 */
const MAX_QUERY = 1000;
const MAX_NAME = 256;

const INSTRUCTIONS = [
  'Code mode: instead of calling tools one by one, write one short JavaScript program that calls them.',
  '1. search_tools finds the tools for a task by keywords.',
  '2. describe_tools gives their TypeScript signatures, JSON Schemas and the rules of the script dialect.',
  '3. execute runs the script (the body of an async function: `await callTool(name, args)`, `return` the answer) and gives back its value or an error with the line to fix.',
].join('\n');

const text = (value: string) => ({ type: 'text' as const, text: value });

/** A refusal before the run, or a failure building the catalog, as a tool error the model can read. */
function refused(err: unknown): CallToolResult {
  if (err instanceof EnclaveHttpError) {
    const retry = err.headers['retry-after'];
    return { isError: true, content: [text(`${err.code}: ${err.message}${retry !== undefined ? ` Retry after ${retry} s.` : ''}`)] };
  }
  // Only EnclaveHttpError carries a public message; anything else is ours and says nothing.
  return { isError: true, content: [text('INTERNAL_ERROR: An internal error occurred.')] };
}

async function guarded(fn: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await fn();
  } catch (err) {
    return refused(err);
  }
}

function search(catalog: EnclaveDescription, query: string, limit: number): CallToolResult {
  const { matches, matched, total } = searchTools(catalog.tools, query, limit);
  const lines = matches.map((m) => `- ${m.name}${m.description !== '' ? `: ${m.description}` : ''}`);
  let head: string;
  if (total === 0) head = catalog.openToolNames ? 'The host serves tools by name but lists none; execute may still call a tool you know.' : 'No tools are available.';
  else if (matched === 0) head = `No tool matches "${query}" among ${total} tools. Try other words, or an empty query to list them all.`;
  else head = `${matched === total && query.trim() === '' ? `All ${total}` : `${matched} of ${total}`} tools${query.trim() === '' ? '' : ` match "${query}"`}${matches.length < matched ? ` (the best ${matches.length} shown)` : ''}:`;
  const tail = matches.length > 0 ? '\nNext: describe_tools with the names you need.' : '';
  return { content: [text([head, ...lines].join('\n') + tail)], structuredContent: { tools: matches, matched, total } };
}

function describe(catalog: EnclaveDescription, names: readonly string[]): CallToolResult {
  const byName = new Map(catalog.tools.map((t) => [t.name, t]));
  const wanted = [...new Set(names)];
  const found = wanted.flatMap((n) => byName.get(n) ?? []);
  const unknown = wanted.filter((n) => !byName.has(n));
  // One index of the catalog for every unknown name's suggestions, made for the first of them.
  let suggestions: ReturnType<typeof searcher> | undefined;
  const suggest = (name: string) =>
    (suggestions ??= searcher(catalog.tools))(name, 3)
      .matches.map((m) => m.name)
      .join(', ');
  const unknownLines = unknown.map((n) => {
    const close = suggest(n);
    return `- "${n}" is not a tool of this catalog${close !== '' ? `; did you mean ${close}?` : '.'}${catalog.openToolNames ? ' (The host may still serve it by name, without a schema.)' : ''}`;
  });
  const toolSections = found.map((t: ToolDescription) => `### ${t.name}\n${t.description ?? ''}${t.notes ? `\n${t.notes.join(' ')}` : ''}\n\`\`\`ts\n${t.declaration}\n\`\`\``.replace(/\n\n+/g, '\n'));
  const parts = [
    ...(found.length > 0 ? [`## Tools\n${toolSections.join('\n\n')}`] : []),
    ...(unknown.length > 0 ? [`## Unknown names\n${unknownLines.join('\n')}\nFind names with search_tools.`] : []),
    `## Script dialect\n${catalog.dialect}`,
  ];
  return {
    ...(found.length === 0 ? { isError: true } : {}),
    content: [text(parts.join('\n\n'))],
    structuredContent: { securityLevel: catalog.securityLevel, tools: found, unknown, dialect: catalog.dialect, limits: catalog.limits },
  };
}

const SEARCH_INPUT = {
  type: 'object',
  properties: {
    query: { type: 'string', maxLength: MAX_QUERY, description: 'Keywords for what the tools should do or touch, e.g. "paid orders" or "send invoice email". Empty: list every tool.' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, description: `How many tools at most (default ${DEFAULT_LIMIT}).` },
  },
  required: ['query'],
  additionalProperties: false,
} as const;

const DESCRIBE_INPUT = {
  type: 'object',
  properties: {
    names: { type: 'array', items: { type: 'string', maxLength: MAX_NAME }, minItems: 1, maxItems: MAX_NAMES, description: 'Exact tool names, as search_tools gives them.' },
  },
  required: ['names'],
  additionalProperties: false,
} as const;

const EXECUTE_INPUT = {
  type: 'object',
  properties: {
    code: {
      type: 'string',
      minLength: 1,
      description: 'The script: the body of an async JavaScript function. Call tools with `await callTool("name", { ...args })` and `return` the answer.',
    },
    input: { description: 'Any JSON value; the script reads it as the global `input`.' },
  },
  required: ['code'],
  additionalProperties: false,
} as const;

/** The shape of an `ExecutionResult`, loosely: clients may validate `structuredContent` against it. */
const EXECUTE_OUTPUT = {
  type: 'object',
  properties: {
    success: { type: 'boolean' },
    value: { description: 'What the script returned (on success).' },
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        name: { type: 'string' },
        message: { type: 'string' },
        location: { type: 'object', properties: { line: { type: 'integer' }, column: { type: 'integer' } } },
        data: { type: 'object' },
      },
      required: ['code', 'message'],
    },
    stats: { type: 'object', properties: { duration: { type: 'number' }, toolCallCount: { type: 'integer' }, iterationCount: { type: 'integer' } } },
    logs: { type: 'array', items: { type: 'object' } },
  },
  required: ['success', 'stats'],
} as const;

/** A fresh MCP server with the three tools over `backend`: one per HTTP request, or per stdio connection. */
export function codeModeServer(backend: CodeModeBackend, info: Required<CodeModeInfo>): McpServer {
  // The three tools are the same for the server's whole life: clients are not told to listen for changes.
  const server = new McpServer({ name: info.name, version: info.version }, { instructions: INSTRUCTIONS, capabilities: { tools: { listChanged: false } } });
  let catalog: Promise<EnclaveDescription> | undefined;
  const described = () => (catalog ??= backend.catalog());

  server.registerTool(
    'search_tools',
    {
      title: 'Search tools',
      description: 'Find the tools for a task by keywords: their names and one-line descriptions, best match first. Then call describe_tools with the names you need.',
      inputSchema: fromJsonSchema<{ query: string; limit?: number }>(SEARCH_INPUT),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ query, limit }) => guarded(async () => search(await described(), query, limit ?? DEFAULT_LIMIT)),
  );

  server.registerTool(
    'describe_tools',
    {
      title: 'Describe tools',
      description:
        'The TypeScript signatures (callTool overloads) and JSON Schemas of the named tools, and the rules of the script dialect that execute runs. Read it before writing a script.',
      inputSchema: fromJsonSchema<{ names: string[] }>(DESCRIBE_INPUT),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ names }) => guarded(async () => describe(await described(), names)),
  );

  server.registerTool(
    'execute',
    {
      title: 'Execute a script',
      description: [
        'Run one JavaScript script (the body of an async function) in a sandbox where `await callTool(name, args)` calls the tools described by describe_tools, and nothing else is reachable: no network, files, timers or modules.',
        '`return` the answer; `input` holds the optional input value. Returns the value, the captured console output and stats, or an error with its code, message and line:column in your script to fix.',
      ].join(' '),
      inputSchema: fromJsonSchema<{ code: string; input?: unknown }>(EXECUTE_INPUT),
      outputSchema: fromJsonSchema(EXECUTE_OUTPUT),
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    },
    ({ code, input }, ctx) =>
      guarded(async () => {
        const result = await backend.run(code, input, ctx.mcpReq.signal);
        return {
          ...(result.success ? {} : { isError: true }),
          content: [text(summarize(result))],
          structuredContent: result as unknown as Record<string, unknown>,
        };
      }),
  );
  return server;
}
