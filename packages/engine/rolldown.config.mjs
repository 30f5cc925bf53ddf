// One file for the package entry: Node's ESM loader costs about a millisecond per module, which was
// most of a cold start with ~60 modules. oxc-parser stays external (it loads a native binding).
export default {
  input: 'dist/index.js',
  external: ['oxc-parser', /^node:/],
  platform: 'node',
  output: { file: 'dist/enclave.js', format: 'esm' },
  logLevel: 'warn',
};
