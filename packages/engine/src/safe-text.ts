/**
 * Text a script chose, on its way into an operator's logs: characters that reorder or hide what is
 * shown (BiDi embeddings, overrides and isolates, the direction marks, line and paragraph separators)
 * and C1 controls, which `JSON.stringify` leaves raw, written as `\uXXXX` escapes. The JSON means the
 * same; only what a viewer shows changes.
 */
const REORDERING = /[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `json` (the output of `JSON.stringify`) with those characters escaped. */
export function escapeJsonForLogs(json: string): string {
  return json.replace(REORDERING, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
