import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { nestTypescript } from './test/setup/nest-typescript.plugin.js';

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  plugins: [nestTypescript(root)],
  // The plugin above compiles TypeScript; Vite's own transform (Oxc since Vite 8) must not run again.
  oxc: false,
  test: {
    root,
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    setupFiles: ['reflect-metadata'],
    reporters: ['default', './test/setup/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
