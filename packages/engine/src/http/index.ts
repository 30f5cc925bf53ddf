export { createEnclaveHandler, checkHandlerOptions } from './handler.js';
export type {
  EnclaveFetchHandler,
  EnclaveHandlerBaseOptions,
  EnclaveHandlerOptions,
  EnclaveLogger,
  EnclaveRequestContext,
  RateLimitOptions,
  RunScope,
  ToolSourceOptions,
} from './handler.js';
export { ENCLAVE_HTTP_STATUS, statusTable } from './status.js';
export type { HttpOutcome, RequestErrorCode } from './status.js';
export { EnclaveHttpError } from './errors.js';
export { PayloadTooLargeError, isJsonContentType, parseRunRequest, readBodyText } from './body.js';
export type { RunRequestBody } from './body.js';
export { routePath } from './route.js';
