import type { OptionChecker } from '../options.js';
import type { ToolDefinition, ToolFunction, ToolSet } from '../types.js';
import type { HostTool } from './define.js';
import { checkToolName, isToolDefinition, toHostTool } from './define.js';

/** The named tools of an instance or a run, by name. */
export type ToolMap = ReadonlyMap<string, HostTool>;

/**
 * Reads a `tools` option: a record of plain functions and `defineTool` definitions keyed by name, or an
 * array of definitions.
 */
export function readToolSet(check: OptionChecker, tools: unknown): ToolMap | undefined {
  if (tools === undefined) return undefined;
  if (tools === null || typeof tools !== 'object') check.fail('tools must be an object of named functions or an array of defineTool() definitions.');
  const map = new Map<string, HostTool>();
  if (Array.isArray(tools)) {
    for (const [i, tool] of (tools as unknown[]).entries()) {
      if (!isToolDefinition(tool)) check.fail(`tools[${i}] must be a defineTool() definition (plain functions need a name: use a record).`);
      if (map.has(tool.name)) check.fail(`tools: two tools are named "${tool.name}".`);
      map.set(tool.name, toHostTool(tool.name, tool));
    }
    return map;
  }
  for (const [name, tool] of Object.entries(tools as Record<string, unknown>)) {
    if (typeof tool !== 'function' && !isToolDefinition(tool)) check.fail(`tools["${name}"] must be a function or a defineTool() definition, got ${tool === null ? 'null' : typeof tool}.`);
    const problem = checkToolName(name);
    if (problem !== undefined) check.fail(`tools: the name "${name.slice(0, 40)}" ${problem}.`);
    if (isToolDefinition(tool) && tool.name !== name) check.fail(`tools["${name}"] is the tool "${tool.name}": use the same name, or pass an array of definitions.`);
    map.set(name, toHostTool(name, tool as ToolFunction | ToolDefinition));
  }
  return map;
}

/** A run's tools layered over the instance's: same name, the run's wins. */
export function mergeTools(base: ToolMap | undefined, over: ToolMap | undefined): ToolMap | undefined {
  if (base === undefined || base.size === 0) return over;
  if (over === undefined || over.size === 0) return base;
  return new Map([...base, ...over]);
}

export type { ToolSet };
