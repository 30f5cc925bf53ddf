import type { Node } from '../../ast/nodes.js';
import type { Rule } from '../rule.js';

function isFieldValue(parent: Node | null, key: string): boolean {
  return parent !== null && key === 'value' && (parent.type === 'PropertyDefinition' || parent.type === 'AccessorProperty');
}

/**
 * `this` is only meaningful inside class members. Elsewhere it is the wrapper's receiver, which in
 * sloppy mode is the realm's global object, so it is blocked outside class bodies. Arrow functions
 * inherit `this`, so they open no context of their own.
 */
export const noThis: Rule = {
  id: 'no-this',
  description: 'Blocks `this` outside class bodies.',
  create(ctx) {
    // True on top when `this` refers to a class instance or the class itself.
    const stack: boolean[] = [false];
    const enterFunction = (_node: Node, parent: Node | null, key: string): void => {
      stack.push(parent !== null && parent.type === 'MethodDefinition' && key === 'value');
    };
    const leave = (): void => {
      stack.pop();
    };
    return {
      '*'(_node, parent, key) {
        if (isFieldValue(parent, key)) stack.push(true);
      },
      '*:exit'(_node, parent, key) {
        if (isFieldValue(parent, key)) stack.pop();
      },
      FunctionDeclaration: enterFunction,
      'FunctionDeclaration:exit': leave,
      FunctionExpression: enterFunction,
      'FunctionExpression:exit': leave,
      StaticBlock() {
        stack.push(true);
      },
      'StaticBlock:exit': leave,
      ThisExpression(node) {
        if (stack[stack.length - 1] === true) return;
        ctx.report(
          node,
          '`this` is not allowed outside class bodies.',
          'Use a variable or a parameter instead of `this`, e.g. `const state = { ... }` and refer to `state`.',
        );
      },
    };
  },
};
