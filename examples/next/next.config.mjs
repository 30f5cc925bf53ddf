// oxc-parser (the engine's parser) loads a native binding: keep it out of Next's server bundle.
export default { serverExternalPackages: ['oxc-parser'] };
