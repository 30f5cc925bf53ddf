/**
 * `@enclave-kit/engine/http`: the plumbing an adapter (or a store package) is built from, below
 * `createEnclaveHandler`: the route matcher, the option check and the one option checker, the body reader
 * and parser, the status table with overrides, and the check of a session id and the failed-result
 * builder that a store applies to what it reads back. Applications mount an adapter or `createEnclaveHandler` from the
 * main entry instead.
 *
 * @example
 * ```ts
 * import { createEnclaveHandler } from '@enclave-kit/engine';
 * import { routePath } from '@enclave-kit/engine/http';
 *
 * const route = routePath(options.path);                 // '/enclave' unless given
 * const handler = createEnclaveHandler(options);
 * // in the framework's middleware: the path below the route's, if the core serves it there
 * const sub = route.below(path);
 * sub !== undefined && handler.accepts(method, sub) ? handler(request, native, sub) : next();
 * ```
 */
export { checkHandlerOptions, createEnclaveHandler } from './handler.js';
// Also on the main entry: DESIGN.md places the status table and the core in http/, and users import them from here too.
export { ENCLAVE_HTTP_STATUS, statusTable } from './status.js';
export type { HttpOutcome, RequestErrorCode } from './status.js';
export { PayloadTooLargeError, RequestTimeoutError, charsetRefusal, contentCodingRefusal, contentTypeRefusal, isJsonContentType, parseRunRequest, readBodyText } from './body.js';
export type { ReadBodyOptions } from './body.js';
export type { RunRequestBody } from './body.js';
export { routePath } from './route.js';
export { checkAllowedOrigins, originAllowed } from './origin.js';
export type { AllowedHosts, AllowedOrigins } from './origin.js';
export type { RoutePath } from './route.js';
export { OptionChecker } from '../options.js';
export { isSessionId } from '../events.js';
export { failure } from '../result.js';
