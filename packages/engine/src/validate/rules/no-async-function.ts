import type { Node } from '../../ast/nodes.js';
import { flag, functionLabel } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

/** Async functions and arrows. Top-level `await` needs none of these and is always allowed. */
export const noAsyncFunction: Rule = {
  id: 'no-async-function',
  description: 'Async functions and async arrows, unless the dialect allows them (asyncFunctions).',
  create(ctx) {
    if (ctx.dialect.asyncFunctions) return {};
    const check = (node: Node): void => {
      if (!flag(node, 'async')) return;
      const what =
        node.type === 'ArrowFunctionExpression' ? 'Async arrow function' : `Async function ${functionLabel(node)}`;
      ctx.report(
        node,
        `${what} is not allowed at this security level.`,
        "Call tools with top-level `await` instead, e.g. `const r = await callTool('tool:name', { ... });`, " +
          'and use plain arrows for the rest.',
      );
    };
    return { FunctionDeclaration: check, FunctionExpression: check, ArrowFunctionExpression: check };
  },
};
