/** Injection token of the module's options (`EnclaveModuleOptions`). */
export const ENCLAVE_MODULE_OPTIONS = 'ENCLAVE_KIT:MODULE_OPTIONS';
/** Injection token of the Fetch core the controller serves (`EnclaveFetchHandler`). */
export const ENCLAVE_HANDLER = 'ENCLAVE_KIT:HANDLER';
