import { LEVEL_CONFIGS, RESERVED_PREFIX, SECURITY_LEVELS } from '../../levels.js';
import type { Span } from '../../ast/nodes.js';
import { quote, ROOT_TYPE } from '../../ast/nodes.js';
import { BLOCKED_IDENTIFIERS, META_GLOBALS, PLATFORM_GLOBALS } from '../names.js';
import type { Rule } from '../rule.js';
import { MAX_SUGGESTED_NAMES, closeNames } from '../../suggest.js';

const LISTED_GLOBALS = 8;

/**
 * The hint for an unknown name. Declaring it is only suggested for names that are nobody's global: a
 * script that uses `console` at STRICT, or `URL` anywhere, meant the platform's, which is not there.
 */
function hintFor(name: string, closeTo: () => readonly string[], listed: string): string {
  const levels = SECURITY_LEVELS.filter((level) => LEVEL_CONFIGS[level].dialect.globals.includes(name));
  if (levels.length > 0) {
    const instead = name === 'console' ? ' Return what you want to report as part of the result instead.' : '';
    const where = levels.length > 1 ? `${levels.slice(0, -1).join(', ')} and ${levels.at(-1)}` : levels[0];
    return `${quote(name)} is not available at this security level (only at ${where}).${instead} Available globals include ${listed}.`;
  }
  if (PLATFORM_GLOBALS.has(name)) {
    return `${quote(name)} is not available to scripts at any security level; host capabilities are tools: \`await callTool('tool:name', { ... })\`. Available globals include ${listed}.`;
  }
  const close = closeTo();
  return close.length > 0
    ? `Did you mean ${close.map(quote).join(' or ')}? Otherwise declare it first with \`const\` or \`let\`.`
    : `Declare it first with \`const\` or \`let\`. Available globals include ${listed}.`;
}

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
    const suggested = new Map<string, string[]>();
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
        // Most scripts have nothing to report: the lists below are made only for those that do.
        if (pending.length === 0) return;
        const hints = new Map<string, string>();
        const allowed = [...ctx.allowedGlobals];
        // The provided per-run names first: they are what a script most often needs.
        const provided = (n: string): boolean => n === 'callTool' || n === 'input';
        const listed = [...allowed.filter(provided), ...allowed.filter((n) => !provided(n))]
          .slice(0, LISTED_GLOBALS)
          .map((n) => `\`${n}\``)
          .join(', ');
        const candidates = [...allowed, ...ctx.scope.declaredNames];
        for (const { span, name, write } of pending) {
          let hint = hints.get(name);
          if (hint === undefined) {
            hint = hintFor(
              name,
              () => {
                // The closest names are also the structured suggestions (an editor offers them as fixes).
                const close = hints.size < MAX_SUGGESTED_NAMES ? closeNames(name, candidates) : [];
                suggested.set(name, close);
                return close;
              },
              listed,
            );
            hints.set(name, hint);
          }
          ctx.report(
            span,
            write
              ? `Assignment to undeclared variable ${quote(name)}.`
              : `${quote(name)} is not defined: it is neither declared nor an available global.`,
            hint,
            suggested.get(name),
          );
        }
      },
    };
  },
};
