/** `@enclave-kit/client`: a fetch client of an enclave-kit route, for browsers and Node. */
export { NdjsonParser } from './ndjson.js';
export { SseParser } from './sse.js';
export type { SseMessage } from './sse.js';
