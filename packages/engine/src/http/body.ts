import { BoundedBuffer } from '../bytes/bounded-buffer.js';
import { EnclaveHttpError } from './errors.js';

/** The body of `POST {path}` (DESIGN.md section 5). */
export interface RunRequestBody {
  code: string;
  input?: unknown;
  /** Can only lower the server's limits. */
  limits?: { timeout?: number; maxToolCalls?: number; maxIterations?: number };
}

const BODY_KEYS = new Set(['code', 'input', 'limits']);
const CHECK_KEYS = new Set(['code']);
const CLIENT_LIMIT_KEYS = new Set(['timeout', 'maxToolCalls', 'maxIterations']);

/**
 * Charsets a JSON body may declare: JSON between systems is UTF-8 (RFC 8259), which ASCII is part of.
 * The body is read as UTF-8 whatever the header says, so a body declared in another charset (UTF-16,
 * Latin-1) is refused with a 415 instead of being read as something its sender did not write.
 */
const JSON_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The `charset` parameters of a Content-Type, unquoted and lowercased, in order (linear in the header). */
function charsetsOf(value: string): string[] {
  const found: string[] = [];
  const n = value.length;
  let at = value.indexOf(';');
  while (at !== -1) {
    let end = at + 1;
    while (end < n && value[end] !== '=' && value[end] !== ';') end++;
    const name = value.slice(at + 1, end).trim().toLowerCase();
    if (value[end] !== '=') {
      at = end < n ? end : -1;
      continue;
    }
    let k = end + 1;
    while (value[k] === ' ' || value[k] === '\t') k++;
    let param = '';
    if (value[k] === '"') {
      for (k++; k < n && value[k] !== '"'; k++) {
        if (value[k] === '\\') k++;
        param += value[k] ?? '';
      }
    } else {
      const stop = value.indexOf(';', k);
      param = value.slice(k, stop === -1 ? n : stop);
      k = stop === -1 ? n : stop;
    }
    if (name === 'charset') found.push(param.trim().toLowerCase());
    at = value.indexOf(';', k);
  }
  return found;
}

/** A charset parameter that is not UTF-8, as declared (at most 40 characters of it), or undefined. */
function foreignCharset(value: string): string | undefined {
  const other = charsetsOf(value).find((c) => !JSON_CHARSETS.has(c));
  return other === undefined ? undefined : other.slice(0, 40);
}

/**
 * `application/json` or any `application/*+json`, with no charset parameter or a UTF-8 one (`utf-8`,
 * `us-ascii`); other parameters are ignored. A body declared in another charset is not JSON this server
 * reads: see contentTypeRefusal for the 415's message.
 */
export function isJsonContentType(value: string | null): boolean {
  if (value === null) return false;
  const type = (value.split(';', 1)[0] as string).trim().toLowerCase();
  return (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) && foreignCharset(value) === undefined;
}

/**
 * What a 415 says of a Content-Type that isJsonContentType refuses: that the body must be UTF-8 when
 * it declared another charset, else that it must be JSON. `what` names the body (`the request`).
 *
 * @example
 * ```ts
 * if (!isJsonContentType(type)) throw new EnclaveHttpError(415, contentTypeRefusal(type, 'the request'));
 * ```
 */
export function contentTypeRefusal(value: string | null, what: string): string {
  const charset = value === null ? undefined : foreignCharset(value);
  return charset === undefined ? `Send ${what} as Content-Type: application/json.` : charsetRefusal(charset, what);
}

/**
 * What a 415 says of a body declared in `charset`, which is not read: contentTypeRefusal's words, for a
 * body parser before the core that refuses a charset itself (express.json() refuses `us-ascii` too).
 * The charset is named (lowercased, at most 40 characters) when it is a plain token.
 */
export function charsetRefusal(charset: string, what: string): string {
  const shown = charset.trim().toLowerCase().slice(0, 40);
  const named = /^[\w.:+-]+$/.test(shown) ? `charset=${shown}` : 'its charset';
  return `Send ${what} as JSON in UTF-8 (Content-Type: application/json): ${named} is not read (JSON is UTF-8).`;
}

export class PayloadTooLargeError extends EnclaveHttpError {
  constructor(maxBodySize: number) {
    super(413, `The request body is larger than ${maxBodySize} bytes.`, { headers: { connection: 'close' } });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new EnclaveHttpError(400, 'The request body is not valid UTF-8.');
  }
}

/**
 * What a 415 says of a body in the content coding(s) `value` (a Content-Encoding header) names, or
 * undefined if it names none: `identity` (or an empty header) is no coding. The body is read as it
 * arrives: a compressed one (`Content-Encoding: gzip`) would be read as UTF-8 into a 400 about bytes its
 * sender never wrote, and one declared compressed but sent plain would be taken for what it is not.
 * Either is a body in a coding this server does not read: 415 (RFC 9110, 15.5.16), saying so. The first
 * coding is named when it is a plain token of at most 40 characters.
 */
export function contentCodingRefusal(value: string | null): string | undefined {
  if (value === null) return undefined;
  const codings = value.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return undefined;
  const named = /^[\w.+-]{1,40}$/.test(codings[0] as string) ? `Content-Encoding: ${codings[0]}` : 'its Content-Encoding';
  return `Send the request body uncompressed: ${named} is not read.`;
}

/** A body that did not arrive whole within the handler's `bodyTimeoutMs`: 408, and the connection is closed. */
export class RequestTimeoutError extends EnclaveHttpError {
  constructor(timeoutMs: number) {
    super(408, `The request body did not arrive within ${timeoutMs} ms.`, { code: 'REQUEST_TIMEOUT', headers: { connection: 'close' } });
  }
}

/** What `readBodyText` waits for at most: the whole body, in milliseconds (none when absent). */
export interface ReadBodyOptions {
  timeoutMs?: number;
}

/**
 * Reads the body as UTF-8 text, never holding more than `maxBodySize` bytes: a declared length over the
 * cap is refused before reading, and an undeclared one is cut off as soon as it passes the cap; a body in
 * a content coding (`Content-Encoding: gzip`) is refused with 415 before reading (contentCodingRefusal). With
 * `timeoutMs`, a body that has not arrived whole by then is given up with a RequestTimeoutError (408): a
 * client that sends its body a byte at a time (or not at all after its headers) holds a request open
 * only that long, whatever the server's own timeouts are (Node's `requestTimeout` is 5 minutes).
 *
 * A body whose declared length fits is read in one `arrayBuffer()`: the server's HTTP parser holds the
 * body to its `Content-Length`, and servers such as @hono/node-server then read the socket directly
 * instead of building a web stream. The length is checked again after reading all the same.
 */
export async function readBodyText(request: Request, maxBodySize: number, options: ReadBodyOptions = {}): Promise<string> {
  const coded = contentCodingRefusal(request.headers.get('content-encoding'));
  if (coded !== undefined) throw new EnclaveHttpError(415, coded);
  const declared = request.headers.get('content-length');
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : undefined;
  if (length !== undefined && length > maxBodySize) throw new PayloadTooLargeError(maxBodySize);
  if (length === undefined && request.body === null) return '';
  const { timeoutMs } = options;
  if (timeoutMs === undefined) return decodeUtf8(await readBytes(request, maxBodySize, length));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestTimeoutError(timeoutMs)), timeoutMs);
  });
  const reading = readBytes(request, maxBodySize, length, late);
  // Given up on, the read still settles (the server closes the connection after the 408): unobserved.
  reading.catch(() => {});
  try {
    return decodeUtf8(await Promise.race([reading, late]));
  } finally {
    clearTimeout(timer);
  }
}

/** The body's bytes (see readBodyText); a stream read stops at `late`'s rejection and cancels the stream. */
async function readBytes(request: Request, maxBodySize: number, length: number | undefined, late?: Promise<never>): Promise<Uint8Array> {
  if (length !== undefined) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > maxBodySize) throw new PayloadTooLargeError(maxBodySize);
    return bytes;
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  // Copied as it comes, never kept as the chunks: a client controls their size (a chunked body of
  // one-byte chunks: 6 MB on the wire for the default 1 MiB), and a Uint8Array kept per byte held
  // hundreds of megabytes for one request.
  const bytes = new BoundedBuffer({ alloc: (size) => new Uint8Array(size), minCapacity: 16 * 1024 });
  try {
    for (;;) {
      const { done, value } = await (late === undefined ? reader.read() : Promise.race([reader.read(), late]));
      if (done) break;
      if (!bytes.appendWithin(value, maxBodySize)) throw new PayloadTooLargeError(maxBodySize);
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
  return bytes.view();
}

/** The body of `POST {path}/check`. */
export interface CheckRequestBody {
  code: string;
}

function bad(message: string): never {
  throw new EnclaveHttpError(400, message);
}

/** A JSON object with a string `code` and no field outside `keys`; every problem is a 400 that names it. */
function parseCodeObject(text: string, keys: ReadonlySet<string>, shape: string): Record<string, unknown> & { code: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    bad('The request body is not valid JSON.');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) bad(`The request body must be a JSON object: ${shape}.`);
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!keys.has(key)) bad(`Unknown field "${key}"; expected ${[...keys].join(', ')}.`);
  if (!Object.hasOwn(fields, 'code')) bad('Missing field "code".');
  if (typeof fields.code !== 'string') bad(`Field "code" must be a string, got ${fields.code === null ? 'null' : Array.isArray(fields.code) ? 'array' : typeof fields.code}.`);
  return fields as Record<string, unknown> & { code: string };
}

/** Parses and checks the body of `POST {path}/check`: `{ "code": string }`. */
export function parseCheckRequest(text: string): CheckRequestBody {
  return { code: parseCodeObject(text, CHECK_KEYS, '{ "code": string }').code };
}

/** Parses and checks the JSON body; every problem is a 400 whose message names the field. */
export function parseRunRequest(text: string): RunRequestBody {
  const fields = parseCodeObject(text, BODY_KEYS, '{ "code": string, "input"?: any, "limits"?: object }');
  const out: RunRequestBody = { code: fields.code };
  if (Object.hasOwn(fields, 'input')) out.input = fields.input;
  if (Object.hasOwn(fields, 'limits') && fields.limits !== undefined) {
    const limits = fields.limits;
    if (limits === null || typeof limits !== 'object' || Array.isArray(limits)) bad('Field "limits" must be an object.');
    const checked: Record<string, number> = {};
    for (const [key, value] of Object.entries(limits)) {
      if (!CLIENT_LIMIT_KEYS.has(key)) bad(`Unknown limit "${key}"; a client may lower timeout, maxToolCalls and maxIterations.`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) bad(`limits.${key} must be a positive integer.`);
      // It can only lower the server's: one past what a double counts exactly (JSON's 1e20) lowers nothing.
      checked[key] = Math.min(value, Number.MAX_SAFE_INTEGER);
    }
    out.limits = checked;
  }
  return out;
}
