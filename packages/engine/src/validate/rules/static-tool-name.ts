import type { Node } from '../../ast/nodes.js';
import { children, identifierName } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

const TOOL = 'callTool';

function isStaticName(arg: Node | null | undefined): boolean {
  if (!arg) return false;
  if (arg.type === 'Literal') return typeof arg.value === 'string';
  return arg.type === 'TemplateLiteral' && children(arg, 'expressions').length === 0;
}

/**
 * `callTool` is the only door to the host, so it must stay visible: it may only be called directly,
 * never stored, passed or wrapped (`const f = callTool`, `callTool.call(...)`, `[callTool]`), at every
 * level. In the strictest dialects (no helper functions) the tool name must also be a literal, so the
 * set of tools a script can reach is known before it runs.
 */
export const staticToolName: Rule = {
  id: 'static-tool-name',
  description: 'callTool must be called directly; at STRICT/SECURE its tool name must be a string literal.',
  create(ctx) {
    const requireLiteral = !ctx.dialect.functionDeclarations;
    return {
      Identifier(node, parent, key) {
        if (identifierName(node) !== TOOL || ctx.scope.roleOf(node, parent, key) !== 'read' || ctx.scope.isBound(TOOL)) return;
        if (!parent || parent.type !== 'CallExpression' || key !== 'callee') {
          ctx.report(
            node,
            '`callTool` may only be called directly, not stored, passed or wrapped.',
            "Call it in place: `await callTool('tool:name', { ... })`.",
          );
          return;
        }
        if (!requireLiteral) return;
        const first = children(parent, 'arguments')[0];
        if (isStaticName(first)) return;
        ctx.report(
          first ?? parent,
          first
            ? 'The tool name passed to `callTool` must be a string literal at this security level.'
            : '`callTool` needs a tool name as its first argument.',
          "Write the tool name literally: `callTool('tool:name', { ... })`; choose between tools with `if`/`else` if needed.",
        );
      },
    };
  },
};
