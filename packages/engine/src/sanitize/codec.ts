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

/** Whether the JSON `text` nests arrays and objects at most `max` deep. Linear, with no allocation. */
export function jsonDepthWithin(text: string, max: number): boolean {
  // Every level takes two characters at least: a text this short cannot be deeper.
  if (text.length <= 2 * max) return true;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: brackets inside it are text.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
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
