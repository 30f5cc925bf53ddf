/**
 * `@enclave-kit/mcp`: code mode over MCP. Any MCP client searches the user's tools, reads their
 * signatures and the script dialect, and runs one script that calls them, through three tools:
 * `search_tools`, `describe_tools` and `execute`.
 *
 * - `mcpRoute()` mounts it in an adapter next to the run route (`routes: { '/mcp': mcpRoute() }`).
 * - `createMcpHandler(options)` is the same as a Fetch handler of its own.
 * - `serveMcpStdio(options)` serves a local tools module over stdio (what `enclave mcp` runs).
 */
export { mcpRoute, createMcpHandler } from './route.js';
export type { McpHandlerOptions, McpRouteOptions } from './route.js';
export { serveMcpStdio } from './stdio.js';
export type { McpStdioOptions, McpStdioServer } from './stdio.js';
export { searchTools } from './search.js';
export type { SearchResult, ToolMatch } from './search.js';
export type { CodeModeInfo } from './code-mode.js';
export { MCP_PACKAGE_VERSION } from './version.js';
