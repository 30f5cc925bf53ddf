/**
 * The host's side of copy-out. Values cross between the host and a realm only as the wire codec's text
 * (sandbox/realm-runtime/codec.ts, where the format is described); each side builds its own objects from
 * it with its own intrinsics. The host runs the very module the realms run, with the host's intrinsics.
 */
import type { Codec } from '../sandbox/realm-runtime/codec.js';
import { createCodec } from '../sandbox/realm-runtime/codec.js';
import { types } from '../node-types.js';

import { TOO_DEEP, TOO_LARGE, TOO_LONG, UNREADABLE } from '../sandbox/realm-runtime/codec.js';
import { MAX_STRING_CHARS } from '../sandbox/realm-abi.js';
import type { EncodeFailure, EncodeOptions } from '../sandbox/realm-runtime/codec.js';

export type { Codec, EncodeFailure, EncodeOptions } from '../sandbox/realm-runtime/codec.js';
export { TOO_DEEP, TOO_LARGE, TOO_LONG, UNREADABLE, UNSUPPORTED } from '../sandbox/realm-runtime/codec.js';

/**
 * The deepest JSON text the host reads from an isolation (a result's value, a tool call's arguments, a
 * tool error's data): twice the deepest a realm writes (256 levels). A worker or a runtime node that
 * reports more is lying, and a value that deep makes `JSON.stringify` of the result throw (a stack
 * overflow) in every caller that sends it on: the HTTP response, a session store, the caller's own code.
 */
export const MAX_DECODE_DEPTH = 512;

/** What `jsonShape` finds: within both caps, nested too deeply, or too many values. */
const JSON_OK = 0;
const JSON_TOO_DEEP = 1;
const JSON_TOO_MANY = 2;

/**
 * Whether the JSON `text` nests arrays and objects at most `maxDepth` deep and holds at most
 * `maxValues` values (the text itself counts one, and so does every array element and every property).
 * Linear, with no allocation: it measures the text before anything is built from it.
 */
function jsonShape(text: string, maxDepth: number, maxValues: number): typeof JSON_OK | typeof JSON_TOO_DEEP | typeof JSON_TOO_MANY {
  // Every level takes two characters at least, and so does every value after the first: a text this
  // short can break neither cap.
  if (text.length <= 2 * maxDepth && text.length < 2 * maxValues) return JSON_OK;
  let depth = 0;
  // Values are 1 + the commas + the containers that are not empty.
  let values = 1;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: brackets and commas inside it are text.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x2c) {
      if (++values > maxValues) return JSON_TOO_MANY;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return JSON_TOO_DEEP;
      let j = i + 1;
      while (j < n && isJsonSpace(text.charCodeAt(j))) j++;
      const e = text.charCodeAt(j);
      if (e !== 0x5d && e !== 0x7d && ++values > maxValues) return JSON_TOO_MANY;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return JSON_OK;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Whether the JSON `text` nests arrays and objects at most `max` deep. */
export function jsonDepthWithin(text: string, max: number): boolean {
  return jsonShape(text, max, Infinity) === JSON_OK;
}

/**
 * Whether the JSON `text` nests at most `maxDepth` deep and holds at most `maxValues` values (see
 * jsonShape), measured before anything is built from it. JSON.parse builds an object of 20 bytes and
 * more for each `{}` of three characters: a 27 MB message of them took 600 MB of heap.
 */
export function jsonWithin(text: string, maxDepth: number, maxValues: number): boolean {
  return jsonShape(text, maxDepth, maxValues) === JSON_OK;
}

const codec = createCodec();

/**
 * The host's own instance of the codec. Its `decodeJSON` reads text an isolation sent, so it also
 * refuses (throws on) text nested deeper than MAX_DECODE_DEPTH, as it throws on text that is not JSON.
 */
export const hostCodec: Codec = {
  ...codec,
  decodeJSON(text: string): unknown {
    if (!jsonDepthWithin(text, MAX_DECODE_DEPTH)) throw new RangeError('The JSON text is nested too deeply.');
    return codec.decodeJSON(text);
  },
};

/** What `decodeToolArgs` returns for arguments over its cap. */
export const TOO_MANY_VALUES: unique symbol = Symbol('too many values');

/**
 * A tool call's arguments as an isolation sent them, decoded on the host only when they hold at most
 * `maxValues` values: the work of decoding and of checking them against a schema grows with the
 * values (a schema library builds one issue per bad element), so a call over the cap is refused
 * before either starts. Returns TOO_MANY_VALUES for such a call; throws, as `hostCodec.decodeJSON` does,
 * on text that is not JSON or nests too deeply.
 */
export function decodeToolArgs(text: string, maxValues: number): unknown {
  const shape = jsonShape(text, MAX_DECODE_DEPTH, maxValues);
  if (shape === JSON_TOO_MANY) return TOO_MANY_VALUES;
  if (shape === JSON_TOO_DEEP) throw new RangeError('The JSON text is nested too deeply.');
  return codec.decodeJSON(text);
}

/**
 * Host values the copy refuses rather than write as `{}` (see EncodeOptions.opaque): their content is
 * not readable data, and an empty object is surely not what the host meant (a Promise not awaited).
 */
function opaque(value: object): string | undefined {
  if (types.isPromise(value)) return 'a Promise (await it first)';
  if (types.isWeakMap(value) || types.isWeakSet(value)) return `a ${types.isWeakMap(value) ? 'WeakMap' : 'WeakSet'} (its entries cannot be listed; use a Map or a Set)`;
  if (types.isAnyArrayBuffer(value) || types.isDataView(value)) return 'raw binary data (an ArrayBuffer or a DataView; pass a typed array such as a Uint8Array)';
  if (types.isGeneratorObject(value)) return 'a generator (pass an array of its values)';
  if (typeof WeakRef === 'function' && value instanceof WeakRef) return 'a WeakRef';
  return undefined;
}

/**
 * The options of every copy of the host's own values into a realm: getters and `toJSON` honoured. A
 * `strict` copy (a run's `input` and globals, which the caller hands over directly) also fails on a
 * getter or `toJSON` that throws and on opaque values; a tool's result leaves the first out and copies
 * the others as their own data (`{}`), as it always has. No copy brings in a string the realm could not
 * have built itself (MAX_STRING_CHARS): whatever `maxBytes` allows, one such string would be read in
 * steps that ignore the run's deadline.
 */
export function hostEncodeOptions(maxBytes: number, maxDepth: number, strict: boolean): EncodeOptions {
  const maxStringChars = MAX_STRING_CHARS;
  return strict ? { maxBytes, maxDepth, maxStringChars, getters: true, useToJSON: true, strict, opaque } : { maxBytes, maxDepth, maxStringChars, getters: true, useToJSON: true };
}

/** A TOO_LONG failure at `path`, as a message. */
function tooLong(failure: EncodeFailure, path: string): string {
  const key = failure.what.endsWith(' key');
  return `${key ? `a key of ${path}` : path} is a string of ${key ? failure.what.slice(0, -4) : failure.what} characters, longer than the ${MAX_STRING_CHARS} one string in a script may have.`;
}

/** Longest path a copy failure's message shows (its start and its end). */
const MAX_PATH = 160;

/**
 * What went wrong when the host's value `root` (`input`, `globals`, `result`) could not be copied into a
 * realm, and where: a path below it and what the value there is. Nothing the host's value threw is
 * quoted (its text may name host paths or secrets): only the kind of failure.
 */
export function describeEncodeFailure(failure: EncodeFailure, root: string, maxBytes: number, maxDepth: number): string {
  let path = `${root}${failure.path}`;
  if (path.length > MAX_PATH) path = `${path.slice(0, MAX_PATH / 2)}...${path.slice(-MAX_PATH / 2)}`;
  switch (failure.code) {
    case TOO_LARGE:
      return `${root} is larger than ${maxBytes} bytes.`;
    case TOO_DEEP:
      // A toJSON() that returns a new object with a toJSON() of its own every time nests without end too: `input.toJSON().toJSON()...`.
      return `${root} is nested more than ${maxDepth} levels deep (at ${path}), deeper than it is copied into the script.`;
    case TOO_LONG:
      return tooLong(failure, path);
    case UNREADABLE:
      return failure.what === 'getter'
        ? `${path} could not be read: its getter threw.`
        : failure.what === 'toJSON'
          ? `${path} could not be copied: its toJSON() threw.`
          : `${path} could not be read: it is a revoked Proxy, or a Proxy whose trap threw.`;
    default:
      return `${path} is ${failure.what}, which cannot be copied into the script.`;
  }
}
