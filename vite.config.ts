import { defineConfig } from 'vitest/config';

// One config for the demo (Vite), the tests (vitest) and the CLI (Vite's module runner), so WGSL
// is imported the same way everywhere: `import src from '../../shaders/x.wgsl?raw'`.
export default defineConfig({
  base: './',
  build: {
    target: 'es2022',
    outDir: 'dist',
  },
  worker: {
    format: 'es',
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Dawn is a native addon: one process per test file keeps each file's GPU instance its own.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
