import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { nestTypescript } from './test/setup/nest-typescript.plugin.js';

const root = path.dirname(fileURLToPath(import.meta.url));
/** The client package (its own tsconfig, no decorators). */
const CLIENT = path.join(root, 'client') + path.sep;

/** The app's TypeScript goes through the Nest compile (decorator metadata, the swagger plugin); the client's through Oxc. */
function appTypescript(): Plugin {
  const nest = nestTypescript(root);
  // The plugin's transform is a plain function of (code, id) that never uses `this`.
  const compile = nest.transform as (code: string, id: string) => { code: string; map: string } | null;
  return { ...nest, transform: (code, id) => (id.startsWith(CLIENT) ? null : compile(code, id)) };
}

export default defineConfig({
  plugins: [appTypescript()],
  // Oxc (Vite's own transform since Vite 8) compiles the client only: the plugin above does the rest.
  oxc: { include: path.join(CLIENT, '{src,test}/**/*.ts') },
  test: {
    root,
    include: ['src/**/*.spec.ts', 'test/**/*.spec.ts', 'client/**/*.spec.ts'],
    exclude: ['**/node_modules/**', 'client/dist/**'],
    globalSetup: ['test/setup/global-setup.ts'],
    setupFiles: ['reflect-metadata'],
    reporters: ['default', './test/setup/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
