import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningPostgres, startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { waitFor } from '../support/wait.js';

async function selectOne(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows[0].one;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Running, not merely a zombie waiting for a parent to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The embedded PostgreSQL that `npm start` uses when DATABASE_URL is unset. */
describe('embedded PostgreSQL', () => {
  let root: string;
  let dataDir: string;
  const pidFile = () => path.join(dataDir, 'postmaster.pid');

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'rowcast-embedded-'));
    dataDir = path.join(root, 'nested', 'postgres');
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('initialises a new cluster on a free port and stops it', async () => {
    const server = await startEmbeddedPostgres({ dataDir });
    expect(await selectOne(server.adminUrl)).toBe(1);
    await server.stop();
    expect(() => readFileSync(pidFile())).toThrow();
  });

  it('keeps its port across restarts while the port is free, and takes another when it is not', async () => {
    const first = await startEmbeddedPostgres({ dataDir });
    const port = new URL(first.adminUrl).port;
    await first.stop();
    const again = await startEmbeddedPostgres({ dataDir });
    expect(new URL(again.adminUrl).port).toBe(port);
    await again.stop();
    // Someone else on that port now: a free one instead, and that one is kept from then on.
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(Number(port), '127.0.0.1', resolve));
    try {
      const moved = await startEmbeddedPostgres({ dataDir });
      expect(new URL(moved.adminUrl).port).not.toBe(port);
      expect(await selectOne(moved.adminUrl)).toBe(1);
      await moved.stop();
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('starts over a stale postmaster.pid whose process is gone', async () => {
    await writeFile(pidFile(), `2147483646\n${dataDir}\n0\n5432\n`);
    const server = await startEmbeddedPostgres({ dataDir });
    expect(await selectOne(server.adminUrl)).toBe(1);
    await server.stop();
  });

  it('starts over a postmaster.pid naming a live process that is not its server, leaving it alone', async () => {
    await writeFile(pidFile(), `${process.ppid}\n${dataDir}\n0\n5432\n`);
    const server = await startEmbeddedPostgres({ dataDir });
    expect(await selectOne(server.adminUrl)).toBe(1);
    expect(alive(process.ppid)).toBe(true);
    await server.stop();
  });

  it('shuts down a server orphaned by a killed process, then starts its own', async () => {
    const embeddedPostgres = fileURLToPath(import.meta.resolve('embedded-postgres'));
    const script = `
      import EmbeddedPostgres from ${JSON.stringify(embeddedPostgres)};
      const server = new EmbeddedPostgres({
        databaseDir: ${JSON.stringify(dataDir)}, port: ${await freePort()}, user: 'postgres', password: 'postgres',
        createPostgresUser: true, onLog: () => {},
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      });
      await server.start();
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    await waitFor(
      () => {
        if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}`);
        return out.includes('ready');
      },
      { timeout: 30_000, what: 'the child to start PostgreSQL' },
    );
    const orphan = Number((await readFile(pidFile(), 'utf8')).split('\n')[0]);
    child.kill('SIGKILL');
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, { what: 'the child to die' });
    expect(alive(orphan)).toBe(true);

    const server = await startEmbeddedPostgres({ dataDir });
    try {
      expect(alive(orphan)).toBe(false);
      expect(await selectOne(server.adminUrl)).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('reuses a server that another live process started, without stopping it', async () => {
    const first: RunningPostgres = await startEmbeddedPostgres({ dataDir });
    try {
      // Pretend another live process (the test runner) started it.
      await writeFile(`${dataDir}.owner`, String(process.ppid));
      const second = await startEmbeddedPostgres({ dataDir });
      expect(second.adminUrl).toBe(first.adminUrl);
      await second.stop();
      expect(await selectOne(first.adminUrl)).toBe(1);
    } finally {
      await first.stop();
    }
  });
});
