/**
 * The engine's import graph, read from the sources with the parser the engine itself uses: type-only
 * imports and re-exports count, since a circle of types is still a circle a reader has to untangle and
 * one value import away from a module that is undefined at load time.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSync } from 'oxc-parser';
import { describe, expect, it } from 'vitest';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(p);
    // Tests sit next to their modules but nothing imports them, so they cannot close a circle; they may
    // import the suite's helpers outside src/.
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** `import('./x.js').X` in type positions: the module record leaves these out. */
function importTypes(node: unknown, out: string[]): string[] {
  if (node === null || typeof node !== 'object') return out;
  if (Array.isArray(node)) {
    for (const item of node) importTypes(item, out);
    return out;
  }
  const n = node as { type?: unknown; source?: { value?: unknown } };
  if (n.type === 'TSImportType' && typeof n.source?.value === 'string') out.push(n.source.value);
  for (const value of Object.values(n)) importTypes(value, out);
  return out;
}

/** Relative specifiers a file imports or re-exports (static, type-only and dynamic), as `src`-relative `.ts` paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const { program, module, errors } = parseSync(file, text, { sourceType: 'module', lang: 'ts' });
  expect(errors, `${file} does not parse`).toEqual([]);
  const specifiers = [
    ...importTypes(program, []),
    ...module.staticImports.map((i) => i.moduleRequest.value),
    ...module.staticExports.flatMap((e) => e.entries.flatMap((entry) => (entry.moduleRequest ? [entry.moduleRequest.value] : []))),
    // `import('./x.js')` with a literal specifier: the quotes are part of the recorded range.
    ...module.dynamicImports.map((d) => text.slice(d.moduleRequest.start, d.moduleRequest.end)).filter((s) => /^['"]/.test(s)).map((s) => s.slice(1, -1)),
  ];
  return [...new Set(specifiers)]
    .filter((s) => s.startsWith('.'))
    .map((s) => path.relative(src, path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts'))
    // A generated JavaScript module (the playground's assets) is known by its checked-in declarations.
    .map((f) => (existsSync(path.join(src, f)) || !existsSync(path.join(src, f.replace(/\.ts$/, '.d.ts'))) ? f : f.replace(/\.ts$/, '.d.ts')));
}

const graph = new Map<string, string[]>(sourceFiles(src).map((f) => [path.relative(src, f), importsOf(f)]));

/** Strongly connected components with more than one module (or a module importing itself), by Tarjan. */
function circles(): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) found.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One concrete circle through `start` inside its component, for the failure message. */
function circleThrough(start: string, component: ReadonlySet<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const chain = [v];
        while (chain[0] !== start) chain.unshift(previous.get(chain[0] as string) as string);
        return [...chain, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

/** Every module `from` reaches through its imports, itself excluded. */
function reachable(from: string): Set<string> {
  const seen = new Set<string>();
  const pending = [...(graph.get(from) ?? [])];
  while (pending.length > 0) {
    const v = pending.pop() as string;
    if (seen.has(v)) continue;
    seen.add(v);
    pending.push(...(graph.get(v) ?? []));
  }
  return seen;
}

describe('engine import structure', () => {
  it('reads the whole source tree', () => {
    expect(graph.size).toBeGreaterThan(50);
    // A specifier that resolves to no file means the reader above misread an import.
    const dangling = [...graph].flatMap(([file, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${file} -> ${d}`));
    expect(dangling).toEqual([]);
  });

  it('has no import circles, type imports included', () => {
    const report = circles().map((component) => {
      const members = new Set(component);
      const first = [...members].sort()[0] as string;
      return `${[...members].sort().join(', ')}\n    e.g. ${circleThrough(first, members).join(' -> ')}`;
    });
    expect(report, `import circles:\n  ${report.join('\n  ')}`).toEqual([]);
  });

  it('types.ts depends on nothing in sandbox/ or tools/, directly or through another module', () => {
    const bad = [...reachable('types.ts')].filter((f) => f.startsWith(`sandbox${path.sep}`) || f.startsWith(`tools${path.sep}`));
    expect(bad).toEqual([]);
  });

  it('the shared AST helpers sit below the stages that use them', () => {
    const stages = ['scan', 'validate', 'transform', 'score', 'sandbox', 'sanitize', 'tools', 'http', 'node', 'cli'];
    const bad = [...graph]
      .filter(([file]) => file.startsWith(`ast${path.sep}`))
      .flatMap(([file, deps]) => deps.filter((d) => stages.some((s) => d.startsWith(`${s}${path.sep}`))).map((d) => `${file} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('finds a circle when there is one (the checker itself can fail)', () => {
    graph.set('fixture-a.ts', ['fixture-b.ts']);
    graph.set('fixture-b.ts', ['fixture-a.ts']);
    try {
      expect(circles()).toContainEqual(expect.arrayContaining(['fixture-a.ts', 'fixture-b.ts']));
      expect(circleThrough('fixture-a.ts', new Set(['fixture-a.ts', 'fixture-b.ts']))).toEqual(['fixture-a.ts', 'fixture-b.ts', 'fixture-a.ts']);
    } finally {
      graph.delete('fixture-a.ts');
      graph.delete('fixture-b.ts');
    }
  });
});
