// AgentScript on top of the JavaScript grammar: the names a script gets from the host (`callTool`, the
// request's `input`, `console`) and the tool names it calls stand out, a tool name the catalog lists in
// one colour and any other tool name in another. Found in the syntax tree, so a `callTool` inside a
// string or a comment, or a property named `input`, is left alone.
import { syntaxTree } from '@codemirror/language';
import type { EditorState, Extension, Range } from '@codemirror/state';
import { StateEffect, StateField } from '@codemirror/state';
import type { DecorationSet, EditorView, ViewUpdate } from '@codemirror/view';
import { Decoration, ViewPlugin } from '@codemirror/view';

/** What the host provides to every script, by name. */
const PROVIDED = new Set(['callTool', 'input', 'console']);

const provided = Decoration.mark({ class: 'cm-as-provided' });
const knownTool = Decoration.mark({ class: 'cm-as-tool', attributes: { title: 'A tool of the catalog' } });
const otherTool = Decoration.mark({ class: 'cm-as-tool-unknown', attributes: { title: 'Not a tool of the catalog' } });

/** Sets the tool names of the catalog the editor compares against. */
export const setToolNames = StateEffect.define<readonly string[]>();

const toolNames = StateField.define<ReadonlySet<string>>({
  create: () => new Set(),
  update(names, tr) {
    for (const e of tr.effects) if (e.is(setToolNames)) return new Set(e.value);
    return names;
  },
});

/** The tool name of a string literal (quotes and backquotes without `${`), or undefined. */
function literalText(state: EditorState, from: number, to: number): string | undefined {
  const text = state.doc.sliceString(from, to);
  if (text.length < 2 || text[0] !== text[text.length - 1] || !`'"\``.includes(text[0] as string)) return undefined;
  const body = text.slice(1, -1);
  return body.includes('\\') || body.includes('${') ? undefined : body;
}

function decorate(view: EditorView): DecorationSet {
  const { state } = view;
  const names = state.field(toolNames);
  const marks: Range<Decoration>[] = [];
  for (const { from, to } of view.visibleRanges) {
    syntaxTree(state).iterate({
      from,
      to,
      enter(node) {
        if (node.name !== 'VariableName') return;
        const name = state.doc.sliceString(node.from, node.to);
        if (!PROVIDED.has(name)) return;
        marks.push(provided.range(node.from, node.to));
        // callTool( 'name' ...: the first argument, when it is a literal.
        const call = node.node.parent;
        const args = node.node.nextSibling;
        if (name !== 'callTool' || call?.name !== 'CallExpression' || args?.name !== 'ArgList') return;
        const first = args.firstChild?.nextSibling;
        if (first === null || first === undefined || (first.name !== 'String' && first.name !== 'TemplateString')) return;
        const tool = literalText(state, first.from, first.to);
        if (tool !== undefined) marks.push((names.has(tool) ? knownTool : otherTool).range(first.from, first.to));
      },
    });
  }
  return Decoration.set(marks, true);
}

/** The AgentScript layer: add it after `javascript()`. */
export function agentScript(): Extension {
  return [
    toolNames,
    ViewPlugin.fromClass(
      class {
        decorations: DecorationSet;
        constructor(view: EditorView) {
          this.decorations = decorate(view);
        }
        update(update: ViewUpdate) {
          const namesChanged = update.startState.field(toolNames) !== update.state.field(toolNames);
          const treeChanged = syntaxTree(update.startState) !== syntaxTree(update.state);
          if (update.docChanged || update.viewportChanged || namesChanged || treeChanged) this.decorations = decorate(update.view);
        }
      },
      { decorations: (plugin) => plugin.decorations },
    ),
  ];
}
