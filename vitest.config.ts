import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the `dev-source` export condition),
// and dependencies as Node itself resolves them (no bundler "module" builds, which Node's own loader
// may refuse: @opentelemetry/api's uses extensionless imports),
// so no build is needed before `vitest run`; plain `node` (examples, CLI) uses dist/.
const conditions = ['dev-source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
