/**
 * The host's side of copy-out. Values cross between the host and a realm only as the wire codec's text
 * (sandbox/realm-runtime/codec.ts, where the format is described); each side builds its own objects from
 * it with its own intrinsics. The host runs the very module the realms run, with the host's intrinsics.
 */
import { createCodec } from '../sandbox/realm-runtime/codec.js';

export type { Codec, EncodeOptions } from '../sandbox/realm-runtime/codec.js';
export { TOO_DEEP, TOO_LARGE } from '../sandbox/realm-runtime/codec.js';

/** The host's own instance of the codec. */
export const hostCodec = createCodec();
