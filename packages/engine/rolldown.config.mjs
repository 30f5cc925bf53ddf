// One file for the package entry: Node's ESM loader costs about a millisecond per module, which was
// most of a cold start with ~60 modules. oxc-parser stays external (it loads a native binding).
// The worker of the worker_threads adapter is a second bundle: it never loads the parser.
const common = { external: ['oxc-parser', /^node:/], platform: 'node', logLevel: 'warn' };
export default [
  { ...common, input: 'dist/index.js', output: { file: 'dist/enclave.js', format: 'esm' } },
  { ...common, input: 'dist/sandbox/worker-main.js', output: { file: 'dist/worker-main.js', format: 'esm' } },
];
