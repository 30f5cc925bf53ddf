import type { Node } from '../../ast/nodes.js';
import { child, str } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

const HINT = 'Store the value in a new local variable instead, e.g. `const result = ...`.';

/** The identifier at the base of `a.b.c`, if any. */
function baseIdentifier(member: Node): Node | null {
  let n: Node | null = member;
  while (n && n.type === 'MemberExpression') n = child(n, 'object');
  return n && n.type === 'Identifier' ? n : null;
}

/**
 * Globals are read-only for scripts: rebinding `callTool`, `console` or `input` would change what the
 * runtime's own rewritten code calls, and patching built-ins (`Math.max = ...`) is never needed.
 * Names that are not globals at all are left to `unknown-global`.
 */
export const noGlobalAssignment: Rule = {
  id: 'no-global-assignment',
  description: 'Blocks assigning to globals (callTool, console, input, built-ins) and to their properties.',
  create(ctx) {
    // Names the run does not provide are `unknown-global`'s to report.
    const isGlobal = (name: string): boolean => ctx.allowedGlobals.has(name) && !ctx.scope.isBound(name);
    // `input` and user globals are per-run copies of data, so changing their properties is harmless.
    const isBuiltin = (name: string): boolean =>
      isGlobal(name) && (ctx.dialect.globals.includes(name) || name === 'callTool' || name === 'console');

    const checkMember = (target: Node): void => {
      const base = baseIdentifier(target);
      const name = base ? str(base, 'name') : undefined;
      if (name === undefined || !isBuiltin(name)) return;
      ctx.report(target, `Built-in \`${name}\` cannot be modified.`, `Built-ins are read-only. ${HINT}`);
    };

    return {
      Identifier(node, parent, key) {
        if (ctx.scope.roleOf(node, parent, key) !== 'write') return;
        const name = str(node, 'name') ?? '';
        if (!isGlobal(name)) return;
        ctx.report(node, `Global \`${name}\` cannot be assigned to.`, HINT);
      },
      MemberExpression(node, parent, key) {
        const deleted = parent !== null && parent.type === 'UnaryExpression' && parent.operator === 'delete' && key === 'argument';
        if (deleted || ctx.scope.modeOf(node) === 'write') checkMember(node);
      },
    };
  },
};
