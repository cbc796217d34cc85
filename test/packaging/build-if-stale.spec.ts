import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const script = path.resolve(import.meta.dirname, '../../scripts/build-if-stale.mjs');

/** The script that runs before `npm start` and the CLIs, on a project whose "nest build" counts its runs. */
describe('build before start, only when stale', () => {
  let project: string;
  const builds = () => readFileSync(path.join(project, 'builds.log'), 'utf8').split('\n').filter(Boolean).length;
  const run = (...args: string[]) => execFileSync(process.execPath, [script, ...args], { cwd: project, stdio: 'pipe' });

  beforeAll(async () => {
    project = await mkdtemp(path.join(os.tmpdir(), 'rowcast-stale-'));
    mkdirSync(path.join(project, 'src'));
    mkdirSync(path.join(project, 'node_modules/.bin'), { recursive: true });
    writeFileSync(path.join(project, 'src/main.ts'), 'export {};\n');
    writeFileSync(path.join(project, 'builds.log'), '');
    const nest = path.join(project, 'node_modules/.bin/nest');
    writeFileSync(nest, '#!/bin/sh\nmkdir -p dist && echo built >> builds.log\n');
    chmodSync(nest, 0o755);
  });
  afterAll(() => rm(project, { recursive: true, force: true }));

  it('builds the first time, skips while nothing changed, builds again after a source changes', () => {
    run();
    expect(builds()).toBe(1);
    run();
    run();
    expect(builds()).toBe(1);
    // The last build ten seconds ago, a source saved five seconds ago.
    const ago = (ms: number) => new Date(Date.now() - ms);
    utimesSync(path.join(project, 'dist/.build-stamp'), ago(10_000), ago(10_000));
    utimesSync(path.join(project, 'src/main.ts'), ago(5_000), ago(5_000));
    run();
    expect(builds()).toBe(2);
    run();
    expect(builds()).toBe(2);
    run('--always');
    expect(builds()).toBe(3);
  });

  it('does nothing without the Nest CLI (a production install runs the dist/ it has)', () => {
    rmNest();
    const later = new Date(Date.now() + 10_000);
    utimesSync(path.join(project, 'src/main.ts'), later, later);
    const before = builds();
    run();
    expect(builds()).toBe(before);
  });

  function rmNest() {
    execFileSync('rm', [path.join(project, 'node_modules/.bin/nest')]);
  }
});
