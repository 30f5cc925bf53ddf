/**
 * JSON Schema to a TypeScript type, for the `callTool` declarations of `describe()` and the "Expected
 * arguments" hint of argument errors. Covers what schema libraries emit for data (objects, arrays,
 * tuples, unions, enums, literals, local `$ref`s); anything else becomes `unknown`.
 */

type Schema = Record<string, unknown> | boolean;

const MAX_DEPTH = 12;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export interface TypeOptions {
  /** Multi-line objects with `/** description *\/` comments (true), or one line without comments. */
  comments: boolean;
}

function comment(text: string, indent: string): string {
  const clean = text.replace(/\*\//g, '* /').trim();
  if (clean === '') return '';
  const lines = clean.split(/\r?\n/);
  return lines.length === 1 ? `${indent}/** ${clean} */\n` : `${indent}/**\n${lines.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function literal(value: unknown): string {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value) ? JSON.stringify(value) : 'unknown';
}

function union(parts: string[]): string {
  const unique = [...new Set(parts)];
  if (unique.includes('unknown')) return 'unknown';
  return unique.length === 0 ? 'never' : unique.map((p) => (/[|&]/.test(p) && !p.startsWith('{') ? `(${p})` : p)).join(' | ');
}

export function typeFromJsonSchema(root: Record<string, unknown>, options: TypeOptions): string {
  const resolving = new Set<string>();

  function resolveRef(ref: string): Schema | undefined {
    const m = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref);
    if (!m) return ref === '#' ? root : undefined;
    const defs = root[m[1] as string];
    if (defs === null || typeof defs !== 'object') return undefined;
    const name = decodeURIComponent((m[2] as string).replace(/~1/g, '/').replace(/~0/g, '~'));
    const found = (defs as Record<string, unknown>)[name];
    return typeof found === 'boolean' || (found !== null && typeof found === 'object') ? (found as Schema) : undefined;
  }

  function render(schema: Schema, depth: number, indent: string): string {
    if (schema === true) return 'unknown';
    if (schema === false) return 'never';
    if (schema === null || typeof schema !== 'object' || depth > MAX_DEPTH) return 'unknown';
    const s = schema;
    if (typeof s.$ref === 'string') {
      if (resolving.has(s.$ref)) return 'unknown';
      const target = resolveRef(s.$ref);
      if (target === undefined) return 'unknown';
      resolving.add(s.$ref);
      try {
        return render(target, depth + 1, indent);
      } finally {
        resolving.delete(s.$ref);
      }
    }
    if ('const' in s) return literal(s.const);
    if (Array.isArray(s.enum)) return union(s.enum.map(literal));
    for (const key of ['anyOf', 'oneOf'] as const) {
      const alts = s[key];
      if (Array.isArray(alts)) return union(alts.map((a) => render(a as Schema, depth + 1, indent)));
    }
    if (Array.isArray(s.allOf)) {
      const parts = s.allOf.map((a) => render(a as Schema, depth + 1, indent)).filter((p) => p !== 'unknown');
      return parts.length === 0 ? 'unknown' : parts.map((p) => (p.includes('|') && !p.startsWith('{') ? `(${p})` : p)).join(' & ');
    }
    const type = s.type;
    if (Array.isArray(type)) return union(type.map((t) => render({ ...s, type: t }, depth + 1, indent)));
    switch (type) {
      case 'string':
        return 'string';
      case 'number':
      case 'integer':
        return 'number';
      case 'boolean':
        return 'boolean';
      case 'null':
        return 'null';
      case 'array':
        return renderArray(s, depth, indent);
      case 'object':
        return renderObject(s, depth, indent);
      default:
        if (s.properties !== undefined) return renderObject(s, depth, indent);
        return 'unknown';
    }
  }

  function renderArray(s: Record<string, unknown>, depth: number, indent: string): string {
    if (Array.isArray(s.prefixItems)) {
      const items = s.prefixItems.map((i) => render(i as Schema, depth + 1, indent));
      const rest = s.items === undefined || s.items === false ? '' : `, ...${wrap(render(s.items as Schema, depth + 1, indent))}[]`;
      return `[${items.join(', ')}${rest}]`;
    }
    const item = s.items === undefined ? 'unknown' : render(s.items as Schema, depth + 1, indent);
    return `${wrap(item)}[]`;
  }

  function wrap(t: string): string {
    return /[|&]/.test(t) && !t.startsWith('{') && !t.startsWith('[') ? `(${t})` : t;
  }

  function renderObject(s: Record<string, unknown>, depth: number, indent: string): string {
    const props = s.properties !== null && typeof s.properties === 'object' ? (s.properties as Record<string, Schema>) : {};
    const required = new Set(Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []);
    const inner = `${indent}  `;
    const members: string[] = [];
    for (const [key, sub] of Object.entries(props)) {
      const name = IDENTIFIER.test(key) ? key : JSON.stringify(key);
      const type = render(sub, depth + 1, inner);
      const description = options.comments && sub !== null && typeof sub === 'object' && typeof sub.description === 'string' ? comment(sub.description, inner) : '';
      members.push(`${description}${options.comments ? inner : ''}${name}${required.has(key) ? '' : '?'}: ${type};`);
    }
    const extra = s.additionalProperties;
    if (extra !== undefined && extra !== false) {
      const type = extra === true ? 'unknown' : render(extra as Schema, depth + 1, inner);
      members.push(`${options.comments ? inner : ''}[key: string]: ${type};`);
    } else if (Object.keys(props).length === 0 && extra === undefined) {
      return 'Record<string, unknown>';
    }
    if (members.length === 0) return '{}';
    return options.comments ? `{\n${members.join('\n')}\n${indent}}` : `{ ${members.join(' ')} }`;
  }

  return render(root, 0, '');
}
