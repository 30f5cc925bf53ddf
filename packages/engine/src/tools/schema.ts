import type { StandardIssue, StandardResult, StandardSchemaV1 } from '../standard-schema.js';

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return props !== null && typeof props === 'object' && (props as { version?: unknown }).version === 1 && typeof (props as { validate?: unknown }).validate === 'function';
}

/** One issue as the script sees it: where in the arguments, and what is wrong there. */
export interface SchemaIssue {
  /** Dotted path into the value (`items[2].id`), or `''` for the value itself. */
  path: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; issues: SchemaIssue[] };

const MAX_ISSUES = 10;
const MAX_ISSUE_MESSAGE = 300;

function pathText(path: StandardIssue['path']): string {
  if (!Array.isArray(path)) return '';
  let out = '';
  for (const segment of path as unknown[]) {
    const key = segment !== null && typeof segment === 'object' && 'key' in segment ? (segment as { key: unknown }).key : segment;
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string') out += /^[A-Za-z_$][\w$]*$/.test(key) ? `${out === '' ? '' : '.'}${key}` : `[${JSON.stringify(key)}]`;
    else out += '[?]';
  }
  return out;
}

/**
 * Runs a Standard Schema validator. A validator that throws counts as a failure of the value, reported
 * without the validator's own text (it is host code and may say anything).
 */
export async function checkWithSchema<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Promise<Checked<T>> {
  let result: StandardResult<T>;
  try {
    result = await schema['~standard'].validate(value);
  } catch {
    return { ok: false, issues: [{ path: '', message: 'The schema could not check this value.' }] };
  }
  // Some libraries (valibot) return `value` on failure too: `issues` decides.
  if (result.issues !== undefined) {
    const issues = [...result.issues].slice(0, MAX_ISSUES).map((issue) => {
      const message = typeof issue.message === 'string' ? issue.message : 'Invalid value';
      return { path: pathText(issue.path), message: message.length > MAX_ISSUE_MESSAGE ? `${message.slice(0, MAX_ISSUE_MESSAGE)}...` : message };
    });
    return { ok: false, issues: issues.length > 0 ? issues : [{ path: '', message: 'Invalid value' }] };
  }
  return { ok: true, value: result.value };
}

export function formatIssues(issues: readonly SchemaIssue[]): string {
  // Joined by "; " into one sentence that the caller ends: a message's own final period would double it.
  // Trimmed by hand: a message may echo the script's argument, and /\.+$/ is quadratic over a run of dots.
  const text = (message: string) => {
    let end = message.length;
    while (end > 0 && message.charCodeAt(end - 1) === 0x2e) end--;
    return message.slice(0, end);
  };
  return issues.map((i) => (i.path === '' ? text(i.message) : `${i.path}: ${text(i.message)}`)).join('; ');
}

/**
 * The JSON Schema of a validator's input or output, from the library's own export (Standard JSON
 * Schema). Undefined when the library has none or it fails (e.g. a schema with transforms that have no
 * JSON Schema form).
 */
export function jsonSchemaOf(schema: StandardSchemaV1, io: 'input' | 'output'): Record<string, unknown> | undefined {
  const convert = schema['~standard'].jsonSchema;
  if (convert === undefined || typeof convert[io] !== 'function') return undefined;
  try {
    const out = convert[io]({ target: 'draft-2020-12' });
    return out !== null && typeof out === 'object' ? out : undefined;
  } catch {
    return undefined;
  }
}
