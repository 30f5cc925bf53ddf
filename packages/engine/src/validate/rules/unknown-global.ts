import { RESERVED_PREFIX } from '../../levels.js';
import type { Span } from '../../ast/nodes.js';
import { quote, ROOT_TYPE } from '../../ast/nodes.js';
import { BLOCKED_IDENTIFIERS, META_GLOBALS } from '../names.js';
import type { Rule } from '../rule.js';
import { closeNames } from '../../suggest.js';

// Suggestions cost a scan of all candidate names, so only this many distinct names get them; the
// issue list is capped far below that anyway.
const MAX_SUGGESTED_NAMES = 100;
const LISTED_GLOBALS = 8;

/**
 * Every read or write of a name that no enclosing declaration binds and that the run does not
 * provide. Resolution is scope-aware (see ScopeTracker); names other rules already report (blocked
 * identifiers, the reserved prefix, Reflect) are skipped so one mistake gives one issue. The operand of
 * `typeof` is not a reference that can fail: `typeof maybeDefined === 'undefined'` is how JavaScript asks
 * whether a name exists, and it answers 'undefined' in the realm as it does anywhere.
 */
export const unknownGlobal: Rule = {
  id: 'unknown-global',
  description: 'Blocks references to names that are neither declared nor provided globals.',
  create(ctx) {
    const pending: { span: Span; name: string; write: boolean }[] = [];
    const allowed = [...ctx.allowedGlobals];
    // The provided per-run names first: they are what a script most often needs.
    const provided = (n: string): boolean => n === 'callTool' || n === 'input';
    const listed = [...allowed.filter(provided), ...allowed.filter((n) => !provided(n))]
      .slice(0, LISTED_GLOBALS)
      .map((n) => `\`${n}\``)
      .join(', ');
    return {
      Identifier(node, parent, key) {
        const binding = ctx.scope.bindingOf(node, parent, key);
        if (binding === undefined || binding.role === 'declare') return;
        if (parent !== null && key === 'argument' && parent.type === 'UnaryExpression' && parent.operator === 'typeof') return;
        const { name, role } = binding;
        if (ctx.scope.isBound(name) || ctx.allowedGlobals.has(name)) return;
        if (BLOCKED_IDENTIFIERS.has(name) || name.startsWith(RESERVED_PREFIX) || META_GLOBALS.has(name)) return;
        pending.push({ span: node, name, write: role === 'write' });
      },
      // Declarations later in the script are suggestion candidates too, so report at the very end.
      [`${ROOT_TYPE}:exit`]() {
        const hints = new Map<string, string>();
        const candidates = pending.length > 0 ? [...allowed, ...ctx.scope.declaredNames] : [];
        for (const { span, name, write } of pending) {
          let hint = hints.get(name);
          if (hint === undefined) {
            const close = hints.size < MAX_SUGGESTED_NAMES ? closeNames(name, candidates) : [];
            hint =
              close.length > 0
                ? `Did you mean ${close.map(quote).join(' or ')}? Otherwise declare it first with \`const\` or \`let\`.`
                : `Declare it first with \`const\` or \`let\`. Available globals include ${listed}.`;
            hints.set(name, hint);
          }
          ctx.report(
            span,
            write
              ? `Assignment to undeclared variable ${quote(name)}.`
              : `${quote(name)} is not defined: it is neither declared nor an available global.`,
            hint,
          );
        }
      },
    };
  },
};
