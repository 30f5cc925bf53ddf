/**
 * The file name V8 gives the rewritten script: it names the user's frames in stack traces, the only
 * frames a script may see. A module of its own, so the worker (which compiles the rewritten source
 * again) needs nothing else of the rewriter, and never loads the parser.
 */
export const TRANSFORM_FILENAME = 'agentscript.js';
