/**
 * The host's side of copy-out. Values cross between the host and a realm only as the wire codec's text
 * (sandbox/realm-runtime/codec.ts, where the format is described); each side builds its own objects from
 * it with its own intrinsics. The host runs the very module the realms run, with the host's intrinsics.
 */
import type { Codec } from '../sandbox/realm-runtime/codec.js';
import { createCodec } from '../sandbox/realm-runtime/codec.js';

export type { Codec, EncodeOptions } from '../sandbox/realm-runtime/codec.js';
export { TOO_DEEP, TOO_LARGE } from '../sandbox/realm-runtime/codec.js';

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
