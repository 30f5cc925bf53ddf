/**
 * oxc-parser's raw transfer on Node 20.
 *
 * With raw transfer the parser writes its tree into a buffer shared with JavaScript and a generated
 * reader builds the ESTree objects from it, where the plain path serialises the tree to JSON in Rust and
 * `JSON.parse`s it here: on Node 20 that JSON is about a fifth of a never-seen script's check, and
 * `JSON.parse` leaves node types longer than ten characters uninternalised, so every `node.type`
 * comparison after it compares characters.
 *
 * oxc-parser turns raw transfer on from Node 22 only, because older V8s cannot make a typed array over
 * the 6 GiB buffer it reserves (the parser wants a 2 GiB block aligned to 4 GiB inside it). Node 20's V8
 * can reserve that buffer and view any 2 GiB of it; only the one view over the whole buffer, which oxc
 * takes to learn the buffer's address, is out of reach, and a one-byte view answers that as well. This
 * module does the rest of what oxc's JavaScript side does, with oxc's own native binding and its own
 * generated reader, both taken from the installed package by path.
 *
 * Those are oxc's internals, so nothing here is trusted blindly: the package must have the shape this
 * was written against, and at first use a probe's tree must come out identical through both paths. Any
 * failure then or later answers null and the caller keeps the JSON path for good.
 */
import path from 'node:path';

/** What the raw path returns: the parts of oxc's `ParseResult` the checker reads. */
export interface RawParse {
  program: unknown;
  comments: unknown;
  errors: unknown;
}

/** The transfer buffer: the 2 GiB window of the reservation oxc's reader and binding work in. */
type TransferBuffer = Uint8Array & { int32: Int32Array; float64: Float64Array; block: Uint8Array };

interface Binding {
  getBufferOffset(view: Uint8Array): number;
  parseRawSync(filename: string, block: Uint8Array, sourceStart: number, sourceBytes: number, options: object): void;
  rawTransferSupported(): boolean;
}
interface Layout {
  BLOCK_SIZE: number;
  BLOCK_ALIGN: number;
  BUFFER_SIZE: number;
  ACTIVE_SIZE: number;
  IS_TS_FLAG_POS: number;
}
type Reader = (buffer: TransferBuffer, source: string, sourceStart: number, sourceBytes: number) => RawParse;

interface Parts {
  binding: Binding;
  layout: Layout;
  read: Reader;
}

/** A buffer unused this long is let go, so the pages a large script touched are given back. */
const IDLE_MS = 10_000;

let parts: Parts | null | undefined;
let buffer: TransferBuffer | null = null;
let uses = 0;
const encoder = new TextEncoder();

/** Loads oxc's binding, layout constants and reader by path; null when the package is not as expected. */
function load(): Parts | null {
  try {
    const { createRequire } = process.getBuiltinModule('node:module') as typeof import('node:module');
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('oxc-parser'));
    const binding = require(path.join(dir, 'bindings.js')) as Partial<Binding>;
    const layout = require(path.join(dir, 'generated', 'constants.js')) as Partial<Layout>;
    const reader = require(path.join(dir, 'generated', 'deserialize', 'js.js')) as { deserialize?: unknown };
    const numbers = [layout.BLOCK_SIZE, layout.BLOCK_ALIGN, layout.BUFFER_SIZE, layout.ACTIVE_SIZE, layout.IS_TS_FLAG_POS];
    if (
      typeof binding.getBufferOffset !== 'function' ||
      typeof binding.parseRawSync !== 'function' ||
      typeof binding.rawTransferSupported !== 'function' ||
      typeof reader.deserialize !== 'function' ||
      !numbers.every((n) => Number.isSafeInteger(n) && (n as number) > 0) ||
      // 64-bit and little-endian, as the binding sees its platform.
      !binding.rawTransferSupported()
    ) {
      return null;
    }
    return { binding: binding as Binding, layout: layout as Layout, read: reader.deserialize as Reader };
  } catch {
    return null;
  }
}

/** Reserves the buffer (address space only: pages are committed as the parser writes them). */
function reserve({ binding, layout }: Parts): TransferBuffer {
  const whole = new ArrayBuffer(layout.BLOCK_SIZE + layout.BLOCK_ALIGN);
  // The binding reads where the view starts, which for a view at 0 is where the reservation starts.
  const offset = binding.getBufferOffset(new Uint8Array(whole, 0, 1));
  const view = new Uint8Array(whole, offset, layout.BUFFER_SIZE) as TransferBuffer;
  view.int32 = new Int32Array(whole, offset, layout.BUFFER_SIZE / 4);
  view.float64 = new Float64Array(whole, offset, layout.BUFFER_SIZE / 8);
  view.block = new Uint8Array(whole, offset, layout.BLOCK_SIZE);
  let seen = uses;
  const idle = setInterval(() => {
    if (uses !== seen) {
      seen = uses;
      return;
    }
    buffer = null;
    clearInterval(idle);
  }, IDLE_MS);
  idle.unref();
  return view;
}

function parseRaw(p: Parts, filename: string, source: string, options: object): RawParse {
  uses++;
  buffer ??= reserve(p);
  // The source goes at the end of the active region, with room for three UTF-8 bytes per UTF-16 unit.
  const room = source.length * 3;
  const start = p.layout.ACTIVE_SIZE - room;
  const { read, written } = encoder.encodeInto(source, new Uint8Array(buffer.buffer, buffer.byteOffset + start, room));
  if (read !== source.length) throw new Error('source not written');
  p.binding.parseRawSync(filename, buffer.block, start, written, options);
  if (buffer[p.layout.IS_TS_FLAG_POS] !== 0) throw new Error('not a JavaScript tree');
  return p.read(buffer, source, start, written);
}

/** Texts whose trees must come out the same through both paths before the raw one is used. */
const PROBES = [
  "'use strict'; async function f() {\n// é\nconst { a = 1, ...b } = await g(`x${'ü'}y`, /[\\d]+/giu, 10n, 1e3);\n/* c */ for (const k of [a?.b, ...b]) label: { if (k) break label; }\nreturn class extends A { #p = 1; static { this.q = x => x ** 2; } };\n}",
  "'use strict'; async function f() {\nlet = 1; const x = ;\n}",
];

/**
 * A parse through raw transfer, or null when this process cannot use it (then never again: the caller
 * keeps oxc's JSON path). `json` is that path, which the probes are compared with once.
 */
export function parseRawTransfer(
  filename: string,
  source: string,
  options: object,
  json: (source: string) => RawParse,
): RawParse | null {
  if (parts === undefined) {
    const p = load();
    parts = null;
    if (p === null) return null;
    let same: boolean;
    try {
      same = PROBES.every((text) => treeText(parseRaw(p, filename, text, options)) === treeText(json(text)));
    } catch {
      same = false;
    }
    if (!same) {
      buffer = null;
      return null;
    }
    parts = p;
  }
  if (parts === null) return null;
  try {
    return parseRaw(parts, filename, source, options);
  } catch {
    parts = null;
    buffer = null;
    return null;
  }
}

/**
 * What the checker reads of a parse, as text: two parses agree when these are equal. Literal values
 * that JSON cannot write (bigints, RegExp objects, which it would write as `{}`) are written as source.
 */
export function treeText(r: RawParse): string {
  return JSON.stringify({ program: r.program, comments: r.comments, errors: r.errors }, (_, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : v instanceof RegExp ? `${v}` : v,
  );
}
