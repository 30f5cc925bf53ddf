export { EnclaveModule, EnclaveExceptionFilter } from './enclave.module.js';
export type { EnclaveModuleAsyncOptions, EnclaveModuleOptions, NestNative } from './enclave.module.js';
export { ENCLAVE_HANDLER, ENCLAVE_MODULE_OPTIONS } from './enclave.constants.js';
