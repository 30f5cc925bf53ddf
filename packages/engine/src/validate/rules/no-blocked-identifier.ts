import { BLOCKED_IDENTIFIERS, CODE_GENERATION_NAMES } from '../names.js';
import type { Rule } from '../rule.js';

const TIMERS = new Set(['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask']);
const NETWORK = new Set(['fetch', 'XMLHttpRequest', 'WebSocket', 'importScripts']);
const GLOBAL_OBJECTS = new Set(['global', 'globalThis', 'window', 'self', 'frames']);

function hintFor(name: string): string {
  if (TIMERS.has(name)) return 'Timers are not available: `await` tool calls directly and use bounded loops to repeat work.';
  if (NETWORK.has(name)) return "Network access goes through tools: `await callTool('tool:name', { ... })`.";
  if (GLOBAL_OBJECTS.has(name)) return 'There is no global object: use the provided globals (e.g. `Math`, `JSON`) by name.';
  if (name === 'arguments') return 'Use rest parameters instead: `(...args) => { ... }`.';
  return 'The host is not reachable from scripts: use `callTool(...)` for host capabilities and `input` for data.';
}

/** Host, timer, network and global-object names from ALWAYS_BLOCKED_IDENTIFIERS (code generation is `no-eval`). */
export const noBlockedIdentifier: Rule = {
  id: 'no-blocked-identifier',
  description: 'Blocks identifiers naming the host, timers, the network or the global object.',
  create(ctx) {
    return {
      Identifier(node, parent, key) {
        const binding = ctx.scope.bindingOf(node, parent, key);
        if (binding === undefined || !BLOCKED_IDENTIFIERS.has(binding.name) || CODE_GENERATION_NAMES.has(binding.name)) return;
        const { name, role } = binding;
        // A local binding named `window` or `process` reaches nothing of the host: only references
        // that would resolve to a global are refused.
        if (role === 'declare' || ctx.scope.isBound(name)) return;
        ctx.report(node, `\`${name}\` is not available in AgentScript.`, hintFor(name));
      },
    };
  },
};
