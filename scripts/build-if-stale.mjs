// Runs before `npm start` and the CLIs: builds dist/ when a source changed since the last build,
// and does nothing (a few milliseconds) when the build is current, or when the Nest CLI is not
// installed (a production install runs the dist/ it was given). `--always`: build anyway
// (`npm run build`).
import { spawnSync } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isStale } from './stale.mjs';

const STAMP = 'dist/.build-stamp';
/** What the build reads: a change to any of them makes dist/ stale. */
const SOURCES = ['src', 'migrations', 'client/src', 'tsconfig.json', 'tsconfig.build.json', 'nest-cli.json', 'scripts/swagger-plugin.cjs', 'package.json', 'package-lock.json'];

const nest = path.join('node_modules', '.bin', 'nest');
if (existsSync(nest)) {
  if (process.argv.includes('--always') || isStale(STAMP, SOURCES)) {
    // Stamped with the time the build started: a file saved during the build makes the next run build again.
    const started = new Date();
    const result = spawnSync(nest, ['build'], { stdio: 'inherit' });
    if (result.status !== 0) process.exit(result.status ?? 1);
    writeFileSync(STAMP, `built from the sources as of ${started.toISOString()}\n`);
    utimesSync(STAMP, started, started);
  }
}
