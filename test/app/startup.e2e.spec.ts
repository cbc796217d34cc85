import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const root = path.resolve(import.meta.dirname, '../..');
const main = path.join(root, 'dist/src/main.js');

interface Started {
  child: ChildProcess;
  base: string;
  stdout: () => string[];
  exited: () => boolean;
}

/** `npm start`, less the build (done once in beforeAll): the built app as its own process. */
async function start(env: Record<string, string>, { ownGroup = false } = {}): Promise<Started> {
  const child = spawn(process.execPath, [main], {
    cwd: root,
    env: { PATH: process.env.PATH, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // The leader of a process group, as a shell makes a foreground job: Ctrl-C signals the group.
    detached: ownGroup,
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const ready = await waitFor(
    () => {
      if (exited()) throw new Error(`the app exited (${child.exitCode}): ${err}`);
      return /dashboard (http:\/\/\S+?)\//.exec(out);
    },
    { timeout: 60_000, what: 'the ready line' },
  );
  return { child, base: ready[1], stdout: () => out.split('\n').filter(Boolean), exited };
}

/** Runs a built CLI on the database; its exit status and output, whatever they are. */
function runCli(script: string, db: TestDatabase, args: string[]): { status: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [path.join(root, 'dist/src', script), ...args], {
    env: { PATH: process.env.PATH, DATABASE_URL: db.url },
    stdio: 'pipe',
  });
  return { status: run.status ?? -1, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

async function stop(app: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  app.child.kill(signal);
  await waitFor(app.exited, { timeout: 20_000, what: `the app to exit on ${signal}` });
  return app.child.exitCode;
}

describe('starting the service', () => {
  let dir: string;
  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(root, 'node_modules/@nestjs/cli/bin/nest.js'), 'build'], {
      cwd: root,
      stdio: 'pipe',
    });
    dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-start-'));
  }, 120_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses a bad setting with one line naming the variable', () => {
    let failure: { status: number; stderr: Buffer } | undefined;
    try {
      execFileSync(process.execPath, [main], { env: { PATH: process.env.PATH, PORT: 'abc' }, stdio: 'pipe' });
    } catch (error) {
      failure = error as typeof failure;
    }
    expect(failure?.status).toBe(1);
    expect(failure!.stderr.toString().trim().split('\n')).toEqual([expect.stringMatching(/^Invalid configuration: PORT /)]);
  });

  it('refuses a busy port with one line naming it and PORT, before starting anything', async () => {
    const squatter = http.createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = String((squatter.address() as { port: number }).port);
    let failure: { status: number; stdout: Buffer; stderr: Buffer } | undefined;
    try {
      execFileSync(process.execPath, [main], { env: { PATH: process.env.PATH, PORT: port, HOST: '127.0.0.1', EMBEDDED_PG_DIR: path.join(dir, 'busy') }, stdio: 'pipe' });
    } catch (error) {
      failure = error as typeof failure;
    } finally {
      squatter.close();
    }
    expect(failure?.status).toBe(1);
    expect(failure!.stderr.toString().trim().split('\n')).toEqual([
      `rowcast did not start: port ${port} on 127.0.0.1 is in use (another rowcast?); stop it, or set PORT to another port (PORT=0 picks a free one)`,
    ]);
    expect(failure!.stdout.toString()).not.toMatch(/started|ready/);
    expect(existsSync(path.join(dir, 'busy'))).toBe(false); // no database was started
  });

  it('on a terminal, prints a short human-readable start-up with the ready line last; JSON lines when asked', async () => {
    // `script` gives the app a pseudo-terminal as stdout, as a person's shell does.
    const onTerminal = (env: string) =>
      new Promise<string>((resolve) => {
        const child = spawn('script', ['-qfec', `env ${env} PORT=0 HOST=127.0.0.1 ${process.execPath} ${main}`, '/dev/null'], {
          cwd: root,
          env: { PATH: process.env.PATH, EMBEDDED_PG_DIR: path.join(dir, 'tty') },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (/ready on/.test(out)) child.kill('SIGINT');
        });
        child.on('exit', () => resolve(out.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '')));
      });
    const pretty = (await onTerminal('')).split('\n').filter((line) => line.trim());
    const upToReady = pretty.slice(0, pretty.findIndex((line) => line.includes('rowcast ready on')) + 1);
    expect(upToReady.at(-1)).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: rowcast ready on embedded PostgreSQL/);
    expect(upToReady.length).toBeLessThan(15);
    expect(upToReady.some((line) => line.trimStart().startsWith('{'))).toBe(false);
    expect(upToReady.join('\n')).not.toMatch(/Mapped \{|dependencies initialized/);

    const json = (await onTerminal('LOG_FORMAT=json')).split('\n').filter((line) => line.trim());
    // Up to the ready line: what comes after it races the terminal's closing (`script` ends when
    // it gets the SIGINT, and may cut the app's last line short).
    const ready = json.findIndex((line) => line.includes('rowcast ready on'));
    expect(ready).toBeGreaterThan(0);
    for (const line of json.slice(0, ready + 1).filter((l) => l.startsWith('{'))) expect(() => JSON.parse(line)).not.toThrow();
    expect(JSON.parse(json[ready])).toMatchObject({ level: 30, msg: expect.stringMatching(/^rowcast ready on/) });
    // JSON for collectors, without Nest's route table at info.
    expect(json.slice(0, ready).join('\n')).not.toMatch(/Mapped \{|dependencies initialized/);
  }, 60_000);

  it('starts on an embedded PostgreSQL, logs requests as JSON lines without bodies, and stops cleanly', async () => {
    const pgDir = path.join(dir, 'embedded', 'postgres');
    const app = await start({ EMBEDDED_PG_DIR: pgDir });
    try {
      expect(app.stdout().join('\n')).toMatch(/ready on embedded PostgreSQL.*API docs http:\/\/\S+\/docs.*WebSocket http:\/\/\S+\/events/);
      expect((await fetch(`${app.base}/health`)).status).toBe(200);
      // The first line after the start-up: whatever the start-up logs comes before it.
      await waitFor(() => app.stdout().some((line) => line.includes('GET /health 200')), { what: 'the request log line' });
      const lines = app.stdout();
      const ready = lines.findIndex((line) => line.includes('rowcast ready on'));
      expect(lines[ready + 1]).toContain('GET /health 200');
      const startup = lines.slice(0, ready + 1).map((line) => JSON.parse(line) as { level: number; msg: string; context?: string });
      // Nest's line per module and per route is at debug, not info: a short start-up, in JSON too.
      expect(startup.filter((line) => /^(InstanceLoader|RoutesResolver|RouterExplorer|NestFactory|NestApplication|WebSocketsController)$/.test(line.context ?? ''))).toEqual([]);
      expect(startup.length).toBeLessThan(25);
      expect(startup.find((line) => line.context === 'LogDrainer')).toMatchObject({ level: 30, msg: 'draining the journal' });
      expect(startup.find((line) => line.msg.includes('no API key exists'))).toMatchObject({ level: 40, msg: expect.stringContaining('npm run keys -- create') });
      expect((await fetch(`${app.base}/docs`)).status).toBe(200);
      const created = await fetch(`${app.base}/invoices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer SECRET-TOKEN' },
        body: JSON.stringify({ invoiceNo: 'SECRET-BODY-MARKER', items: [{ quantity: 2, amountPerUnit: 5 }] }),
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ totalAmount: 10 });
      const duplicate = await fetch(`${app.base}/invoices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ invoiceNo: 'SECRET-BODY-MARKER' }),
      });
      expect(duplicate.status).toBe(409);

      await waitFor(() => app.stdout().some((line) => line.includes('POST /invoices 201')), {
        what: 'the request log line',
      });
      const requestLines = app.stdout().filter((line) => line.includes('POST /invoices 201'));
      expect(requestLines).toHaveLength(1);
      const logged = JSON.parse(requestLines[0]);
      expect(logged).toMatchObject({ req: { method: 'POST', url: '/invoices' }, res: { statusCode: 201 }, responseTime: expect.any(Number) });
      // What the README says a request line holds, not every header.
      expect(Object.keys(logged.req).sort()).toEqual(['id', 'method', 'url']);
      expect(Object.keys(logged.res)).toEqual(['statusCode']);
      expect(requestLines[0].length).toBeLessThan(400);
      await waitFor(() => app.stdout().some((line) => line.includes('POST /invoices 409')), {
        what: 'the refused request log line',
      });
      for (const line of app.stdout()) {
        expect(() => JSON.parse(line), line).not.toThrow();
        expect(line).not.toContain('SECRET-BODY-MARKER');
        expect(line).not.toContain('SECRET-TOKEN');
      }
    } finally {
      expect(await stop(app)).toBe(0);
    }
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
  });

  it('on Ctrl-C (SIGINT to the whole process group), closes the app first and then the embedded database', async () => {
    const pgDir = path.join(dir, 'ctrl-c', 'postgres');
    // debug: the database's own log lines, to see when it was told to stop.
    const app = await start({ EMBEDDED_PG_DIR: pgDir, LOG_LEVEL: 'debug' }, { ownGroup: true });
    expect((await fetch(`${app.base}/health`)).status).toBe(200);
    process.kill(-app.child.pid!, 'SIGINT'); // what a terminal does on Ctrl-C
    await waitFor(app.exited, { timeout: 20_000, what: 'the app to exit on SIGINT' });
    expect(app.child.exitCode).toBe(0);
    const lines = app.stdout();
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    expect(lines.filter((line) => /connection lost|reconnecting/.test(line))).toEqual([]);
    // Nest's start-up lines are kept for whoever asks for debug.
    expect(JSON.parse(lines.find((line) => line.includes('Mapped {/health, GET} route'))!)).toMatchObject({ level: 20, context: 'RouterExplorer' });
    const appClosed = at(/app closed; stopping the embedded PostgreSQL/);
    const databaseTold = at(/received fast shutdown request/);
    expect(appClosed).toBeGreaterThan(at(/SIGINT received, shutting down/));
    expect(databaseTold).toBeGreaterThan(appClosed);
    expect(at(/embedded PostgreSQL stopped/)).toBeGreaterThan(databaseTold);
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(false);
  });

  it('starts again after being killed, keeping its data', async () => {
    const pgDir = path.join(dir, 'killed', 'postgres');
    const first = await start({ EMBEDDED_PG_DIR: pgDir });
    const created = await fetch(`${first.base}/invoices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ invoiceNo: 'SURVIVES' }),
    });
    expect(created.status).toBe(201);
    await stop(first, 'SIGKILL');
    expect(existsSync(path.join(pgDir, 'postmaster.pid'))).toBe(true);

    const second = await start({ EMBEDDED_PG_DIR: pgDir });
    try {
      const list = (await (await fetch(`${second.base}/invoices`)).json()) as { data: { invoiceNo: string }[] };
      expect(list.data.map((invoice) => invoice.invoiceNo)).toEqual(['SURVIVES']);
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });

  describe('the capture CLI', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
      await db.sql.query(`CREATE TABLE orders (id int PRIMARY KEY, status text, total int)`);
      await db.sql.query(`CREATE TABLE loose (a int)`);
    });
    afterAll(() => db.drop());

    const cli = (...args: string[]) => runCli('capture/capture.cli.js', db, args);

    it('enables, lists and disables capture of a table', () => {
      expect(cli('enable', 'public.orders', '--columns', 'status,total')).toMatchObject({
        status: 0,
        stdout: 'capturing public.orders (updates of status, total)\n',
      });
      const list = cli('list');
      expect(list.status).toBe(0);
      expect(list.stdout).toMatch(/^TABLE\s+KEY\s+COLUMNS\s+OLD ROWS\s+LOOKUPS\s+PROBLEMS\n/);
      expect(list.stdout).toMatch(/public\.orders\s+id\s+status, total\s+kept\s+-\s+-\n/);
      expect(list.stdout).toMatch(/public\.invoices\s+id\s+all columns\s+kept\s+-\s+-\n/);
      expect(cli('disable', 'orders')).toMatchObject({ status: 0, stdout: 'stopped capturing orders\n' });
      expect(cli('disable', 'orders')).toMatchObject({ status: 0, stdout: 'orders was not captured\n' });
      expect(cli('list').stdout).not.toContain('orders');
    });

    it('captures a table without a primary key, warning that its key is the whole row', () => {
      expect(cli('enable', 'loose', '--no-old')).toMatchObject({
        status: 0,
        stdout: 'capturing loose (without old rows)\n',
        stderr: 'warning: capture.enable: loose has no primary key; its notifications name the whole row as its key\n',
      });
      expect(cli('list').stdout).toMatch(/public\.loose\s+\(whole row\)\s+all columns\s+not kept\s+-\s+-\n/);
      expect(cli('disable', 'loose')).toMatchObject({ status: 0 });
    });

    it('lists what switched capture off behind its back, and enable re-arms it', async () => {
      await db.sql.query(`ALTER TABLE invoices DISABLE TRIGGER capture_insert`);
      expect(cli('list').stdout).toMatch(/public\.invoices\s+id\s+all columns\s+kept\s+-\s+its insert trigger is disabled\n/);
      expect(cli('enable', 'invoices')).toMatchObject({ status: 0, stdout: 'capturing invoices\n' });
      expect(cli('list').stdout).toMatch(/public\.invoices\s+id\s+all columns\s+kept\s+-\s+-\n/);
    });

    it('re-arming keeps the options a table has; options given change them', () => {
      expect(cli('enable', 'orders', '--columns', 'status', '--no-old')).toMatchObject({ stdout: 'capturing orders (updates of status; without old rows)\n' });
      expect(cli('enable', 'orders')).toMatchObject({ status: 0, stdout: 'capturing orders (updates of status; without old rows)\n' });
      expect(cli('enable', 'orders', '--all-columns')).toMatchObject({ stdout: 'capturing orders (without old rows)\n' });
      expect(cli('enable', 'orders', '--old')).toMatchObject({ stdout: 'capturing orders\n' });
      expect(cli('disable', 'orders')).toMatchObject({ status: 0 });
    });

    it('indexes the log by a column for lookups, and stops', () => {
      expect(cli('lookup', 'invoice_items', 'invoice_id')).toMatchObject({
        status: 0,
        stdout: 'indexing invoice_items by invoice_id: new notifications at once, those already in the log in the background\n',
      });
      expect(cli('lookup', 'invoice_items', 'invoice_id')).toMatchObject({ status: 0, stdout: 'invoice_items is indexed by invoice_id already\n' });
      // No drainer runs here: no batch has started it.
      expect(cli('list').stdout).toMatch(/public\.invoice_items\s+id\s+all columns\s+kept\s+invoice_id \(indexing\)\s+-\n/);
      expect(cli('lookup', 'invoice_items', 'nope')).toMatchObject({ status: 1, stderr: expect.stringContaining('invoice_items has no column nope') });
      expect(cli('lookup', 'loose', 'a')).toMatchObject({ status: 1, stderr: expect.stringContaining('loose is not under capture') });
      expect(cli('lookup', 'invoice_items')).toMatchObject({ status: 2, stderr: expect.stringContaining('lookup <table> <column>') });
      expect(cli('lookup', 'invoice_items', 'invoice_id', '--drop')).toMatchObject({ status: 0, stdout: 'no longer indexing invoice_items by invoice_id\n' });
      expect(cli('list').stdout).toMatch(/public\.invoice_items\s+id\s+all columns\s+kept\s+-\s+-\n/);
    });

    it('backfills a table: every row once into the journal, progress on stderr, how it ended on stdout', async () => {
      await db.sql.query(`CREATE TABLE shelves (id int PRIMARY KEY, label text)`);
      await db.sql.query(`INSERT INTO shelves SELECT g, 's' || g FROM generate_series(1, 5000) g`);
      expect(cli('backfill', 'shelves')).toMatchObject({ status: 1, stderr: 'capture: backfill: shelves is not under capture (capture it first: npm run capture -- enable shelves)\n' });
      expect(cli('enable', 'shelves')).toMatchObject({ status: 0 });
      const run = cli('backfill', 'shelves');
      expect(run).toMatchObject({ status: 0, stdout: expect.stringMatching(/^backfill \d+ of shelves completed: 5000 rows in \d+\.\d s\n$/) });
      expect(run.stderr.trim().split('\n').at(-1)).toBe(`shelves: [${'#'.repeat(24)}] 100%  5,000 of 5,000 rows  ${/\d[\d,]* rows\/s/.exec(run.stderr)![0]}  completed`);
      const { rows } = await db.sql.query(`SELECT count(*)::int AS reads, count(DISTINCT row_pk)::int AS rows FROM capture.changes WHERE table_name = 'shelves' AND op = 'READ'`);
      expect(rows[0]).toEqual({ reads: 5000, rows: 5000 });
      expect(cli('backfill', 'loose')).toMatchObject({ status: 1, stderr: expect.stringContaining('loose is not under capture') });
    });

    it('says clearly what is wrong', () => {
      expect(cli('enable', 'nope')).toMatchObject({ status: 1, stderr: expect.stringContaining('"nope" does not exist') });
      expect(cli('enable', 'orders', '--columns')).toMatchObject({ status: 2, stderr: expect.stringContaining('--columns a,b') });
      expect(cli('frobnicate')).toMatchObject({ status: 2, stderr: expect.stringContaining('usage: npm run capture') });
    });
  });

  describe('the keys CLI', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase({ template: 'template0' });
    });
    afterAll(() => db.drop());
    const cli = (...args: string[]) => runCli('auth/keys.cli.js', db, args);

    it('creates a key whose secret is printed once, lists keys without secrets, and revokes them', async () => {
      // On a database the service has not migrated yet: the CLI migrates it first.
      // public.invoices is stored as invoices, the name notifications give it.
      const created = cli('create', 'ci-bot', '--scopes', 'invoices:read,notifications:read', '--tables', 'public.invoices');
      expect(created.status).toBe(0);
      const token = created.stdout.trim();
      expect(token).toMatch(/^rck_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      const { rows } = await db.sql.query(`SELECT encode(secret_hash, 'hex') AS hash, tables FROM api_keys WHERE name = 'ci-bot'`);
      expect(rows).toEqual([{ hash: expect.stringMatching(/^[0-9a-f]{64}$/), tables: ['invoices'] }]);
      expect(JSON.stringify(rows)).not.toContain(token.slice(37));

      const list = cli('list');
      expect(list.stdout).toMatch(/^NAME\s+SCOPES\s+TABLES\s+CREATED\s+STATUS\nci-bot\s+invoices:read,notifications:read\s+invoices\s+\S+\s+active\n$/);
      expect(list.stdout).not.toContain(token.slice(37));

      const app = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      try {
        expect((await fetch(`${app.base}/invoices`)).status).toBe(401);
        expect((await fetch(`${app.base}/invoices`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
        // The app's logger writes in order: once this request's line is out, a start warning would be too.
        await waitFor(() => app.stdout().some((line) => line.includes('GET /invoices 200')), { what: 'the request log line' });
        expect(app.stdout().some((line) => line.includes('no API key exists'))).toBe(false);
        expect(cli('revoke', 'ci-bot')).toMatchObject({ status: 0, stdout: 'revoked ci-bot\n' });
        await waitFor(async () => (await fetch(`${app.base}/invoices`, { headers: { authorization: `Bearer ${token}` } })).status === 401, {
          timeout: 2_000,
          what: 'the revoked key to be refused',
        });
      } finally {
        expect(await stop(app)).toBe(0);
      }
      expect(cli('list').stdout).toMatch(/ci-bot .* revoked \S+\n$/);
    });

    it('says clearly what is wrong', () => {
      expect(cli('create', 'x', '--scopes', 'invoices:read,root')).toMatchObject({
        status: 2,
        stderr: 'unknown scope root; the scopes are invoices:read, invoices:write, notifications:read, events:subscribe, webhooks:manage, sinks:manage, consumers:manage, consumers:consume, admin\n',
      });
      expect(cli('create', 'x')).toMatchObject({ status: 2, stderr: expect.stringContaining('--scopes') });
      expect(cli('create', 'bad name', '--scopes', 'admin')).toMatchObject({ status: 2, stderr: expect.stringContaining('a key name is') });
      expect(cli('create', 'x', '--scopes', 'admin', '--tables', 'a;drop')).toMatchObject({ status: 2, stderr: expect.stringContaining('not a table name') });
      expect(cli('create', 'twice', '--scopes', 'admin').status).toBe(0);
      expect(cli('create', 'twice', '--scopes', 'admin')).toMatchObject({
        status: 1,
        stderr: 'keys: an active key has that name; revoke it first or choose another name\n',
      });
      expect(cli('revoke', 'nobody')).toMatchObject({ status: 1, stderr: 'keys: no active key named nobody\n' });
      expect(cli('frobnicate')).toMatchObject({ status: 2, stderr: expect.stringContaining('usage: npm run keys') });
    });
  });

  describe('SIGTERM during a burst', () => {
    let db: TestDatabase;
    let writers: Promise<number>[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    // Even when the test fails early, the writers finish before their database goes.
    afterAll(async () => {
      await Promise.allSettled(writers);
      await db.drop();
    });

    it('tells clients to reconnect, exits in time, and the next start delivers every change exactly once', async () => {
      const app = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      const client = io(`${app.base}/events`, { transports: ['websocket'], forceNew: true, reconnection: false });
      const notice = new Promise<{ code: string }>((resolve) => client.once('error_notice', resolve));
      const disconnected = new Promise<string>((resolve) => client.once('disconnect', resolve));
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      });
      expect((await client.emitWithAck('subscribe', {})).ok).toBe(true);

      // Four writers, 600 transactions each, straight to the database (it outlives the app).
      writers = Array.from({ length: 4 }, async (_, writer) => {
        let written = 0;
        for (let i = 0; i < 600; i++, written++) {
          await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`TERM-${writer}-${i}`]);
        }
        return written;
      });
      const drained = async () => (await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n;
      await waitFor(async () => (await drained()) >= 200, { timeout: 30_000, what: '200 notifications before SIGTERM' });

      const committedAtSignal = (await db.sql.query(`SELECT count(*)::int AS n FROM invoices`)).rows[0].n;
      // Clients that keep asking on kept-alive connections must not hold the shutdown up (eight,
      // so that some connection is busy, not idle, when the signal arrives).
      let polling = true;
      const statuses: number[][] = Array.from({ length: 8 }, () => []);
      const pollers = statuses.map(async (seen) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const get = () =>
          new Promise<number>((resolve, reject) => {
            http.get(`${app.base}/health`, { agent }, (response) => {
              response.resume();
              response.on('end', () => resolve(response.statusCode!));
            }).on('error', reject);
          });
        while (polling) {
          try {
            seen.push(await get());
          } catch {
            break; // the connection was closed: the server has stopped accepting
          }
        }
        agent.destroy();
      });
      await waitFor(() => statuses.every((seen) => seen.length > 0), { what: 'the pollers to start' });

      const signalled = Date.now();
      expect(await stop(app)).toBe(0);
      polling = false;
      await Promise.all(pollers);
      for (const seen of statuses) {
        expect(seen[0]).toBe(200);
        // Once refused (503, Connection: close), never served again.
        if (seen.includes(503)) expect(seen.slice(seen.indexOf(503)).every((status) => status === 503)).toBe(true);
      }
      const shutdownMs = Date.now() - signalled;
      expect(shutdownMs).toBeLessThan(10_000); // SHUTDOWN_TIMEOUT_MS's default
      expect(await notice).toMatchObject({ code: 'SERVER_SHUTTING_DOWN' });
      // A transport close (not a server disconnect): Socket.IO clients reconnect on their own.
      expect(await disconnected).toBe('transport close');
      client.close();
      expect(app.stdout().some((line) => line.includes('SIGTERM received, shutting down'))).toBe(true);

      const again = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      try {
        const written = (await Promise.all(writers)).reduce((sum, n) => sum + n, 0);
        expect(written).toBe(2_400);
        await waitFor(async () => (await drained()) >= 2_400, { timeout: 60_000, what: 'all 2,400 notifications' });
        expect(await expectExactlyOnce(db.sql)).toEqual({ changes: 2_400, notifications: 2_400, missing: 0, duplicates: 0 });
        expect(committedAtSignal).toBeLessThan(2_400); // the burst was still going
      } finally {
        expect(await stop(again)).toBe(0);
      }
    });
  });

  describe('SIGKILL during a burst', () => {
    let db: TestDatabase;
    let writers: Promise<void>[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await Promise.allSettled(writers);
      await db.drop();
    });

    it('loses nothing: the next start drains every change once, and a client resuming with since gets each once, in order', async () => {
      const connect = async (base: string, since?: string) => {
        const client = io(`${base}/events`, { transports: ['websocket'], forceNew: true, reconnection: false });
        await new Promise<void>((resolve, reject) => {
          client.once('connect', resolve);
          client.once('connect_error', reject);
        });
        client.on('notification', (n: { id: string }) => received.push(n.id));
        expect((await client.emitWithAck('subscribe', since === undefined ? {} : { since })).ok).toBe(true);
        return client;
      };
      const received: string[] = [];
      const app = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      const first = await connect(app.base);
      writers = Array.from({ length: 4 }, async (_, writer) => {
        for (let i = 0; i < 500; i++) await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`KILL-${writer}-${i}`]);
      });
      await waitFor(() => received.length >= 200, { timeout: 30_000, what: '200 notifications at the client' });
      await stop(app, 'SIGKILL');
      first.close();
      const last = received.at(-1)!;

      const again = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      try {
        const second = await connect(again.base, last);
        await Promise.all(writers);
        await waitFor(() => received.length >= 2_000, { timeout: 60_000, what: 'all 2,000 at the client' });
        expect(await expectExactlyOnce(db.sql)).toEqual({ changes: 2_000, notifications: 2_000, missing: 0, duplicates: 0 });
        const { rows } = await db.sql.query(`SELECT n.id::text AS id FROM notifications n ORDER BY n.id`);
        expect(received).toEqual(rows.map((row) => row.id));
        second.close();
      } finally {
        expect(await stop(again)).toBe(0);
      }
    });
  });

  describe('SIGKILL during a backfill', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
      await db.sql.query(`CREATE TABLE goods (id int PRIMARY KEY, qty int NOT NULL)`);
      await db.sql.query(`INSERT INTO goods SELECT g, g FROM generate_series(1, 50000) g`);
      await db.sql.query(`SELECT capture.enable('goods')`);
    });
    afterAll(() => db.drop());

    it('resumes where its cursor is after a restart: each row read once, into the log once', async () => {
      const state = async () => (await db.sql.query(`SELECT state, rows_done::int AS done FROM capture.backfills`)).rows[0];
      // A writer holds a row in the middle: the chunk that reaches it is in flight when the app dies.
      const writer = await db.sql.connect();
      await writer.query('BEGIN');
      await writer.query(`UPDATE goods SET qty = -1 WHERE id = 30000`);
      const app = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      let again: Started | undefined;
      try {
        const response = await fetch(`${app.base}/backfills`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ table: 'goods' }) });
        expect(response.status).toBe(201);
        const { id } = (await response.json()) as { id: string };
        await waitFor(
          async () => (await db.sql.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%backfill_chunk%'`)).rowCount,
          { timeout: 20_000, what: 'a chunk waiting for the writer' },
        );
        const before = await state();
        expect(before.state).toBe('running');
        expect(before.done).toBeGreaterThan(0);
        await stop(app, 'SIGKILL');

        again = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
        // The dead app's chunk ends (commits or rolls back, whole) once the writer commits.
        await writer.query('COMMIT');
        await waitFor(async () => (await state()).state === 'completed', { timeout: 60_000, what: 'the backfill to complete' });
        const { rows: [reads] } = await db.sql.query(
          `SELECT count(*)::int AS reads, count(DISTINCT row_pk)::int AS rows, min((new->>'qty')::int) AS lowest FROM capture.changes WHERE backfill_id = $1 AND op = 'READ'`,
          [id],
        );
        expect(reads).toEqual({ reads: 50000, rows: 50000, lowest: -1 });
        await waitFor(async () => (await expectExactlyOnce(db.sql)).notifications === 50003, { timeout: 30_000, what: 'every read in the log, and the backfill start and end events' });
        expect(await expectExactlyOnce(db.sql)).toEqual({ changes: 50003, notifications: 50003, missing: 0, duplicates: 0 });
        const body = (await (await fetch(`${again.base}/backfills/${id}`)).json()) as { state: string; rowsDone: number };
        expect(body).toMatchObject({ state: 'completed', rowsDone: 50000 });
      } finally {
        writer.release();
        if (again) expect(await stop(again)).toBe(0);
      }
    }, 120_000);
  });

  describe("the Dockerfile's CMD", () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(() => db.drop());

    it('is node itself, which gets SIGTERM as a container main process does and shuts down gracefully', async () => {
      const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))![1]) as string[];
      expect(cmd).toEqual(['node', 'dist/src/main.js']);
      // start() runs exactly that: node on dist/src/main.js, node being the process that gets signals.
      const app = await start({ NODE_ENV: 'production', DATABASE_URL: db.url, HOST: '127.0.0.1' });
      expect((await fetch(`${app.base}/health`)).status).toBe(200);
      expect(await stop(app, 'SIGTERM')).toBe(0);
      expect(app.stdout().join('\n')).toContain('SIGTERM received, shutting down');
    });
  });

  describe('webhook delivery across SIGKILL', () => {
    let db: TestDatabase;
    const receiver = new WebhookReceiver();
    let writers: Promise<unknown>[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
      await receiver.accept();
    });
    afterAll(async () => {
      await Promise.allSettled(writers);
      await receiver.close();
      await db.drop();
    });

    it('resumes from the persisted position: every notification delivered, in order; no credential in logs or responses', async () => {
      const env = { DATABASE_URL: db.url, HOST: '127.0.0.1', WEBHOOK_ALLOW_PRIVATE: 'true', SINK_LEASE_MS: '1000' };
      const post = async (base: string, path: string, body: object) => {
        const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(response.status).toBe(201);
        return (await response.json()) as { id: string; secret?: string; position: string };
      };
      const app = await start(env);
      const webhook = await post(app.base, '/webhooks', { name: 'killed', url: receiver.url, tables: ['invoices'] });
      // A broker sink that cannot connect: failing, with a reason that holds no password.
      const broker = await post(app.base, '/sinks', { kind: 'rabbitmq', name: 'nowhere', rabbitmq: { url: 'amqp://rowcast:Sup3rSecretPass@127.0.0.1:1' } });
      writers = Array.from({ length: 4 }, async (_, writer) => {
        for (let i = 0; i < 250; i++) await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`HOOK-${writer}-${i}`]);
      });
      await waitFor(() => receiver.delivered.length >= 200, { timeout: 30_000, what: '200 deliveries' });
      await stop(app, 'SIGKILL');
      const beforeKill = receiver.requests.length;

      const again = await start(env);
      try {
        await Promise.all(writers);
        const rows = await waitFor(
          async () => {
            const { rows: found } = await db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND n.table_name = 'invoices' ORDER BY n.id`, [
              webhook.position,
            ]);
            return found.length === 1_000 ? found : undefined;
          },
          { timeout: 30_000, what: 'all 1,000 drained' },
        );
        await waitFor(() => new Set(receiver.delivered).size >= 1_000, { timeout: 30_000, what: 'all 1,000 delivered' });
        // Each id first arrives in log order; after the restart, delivery picks up at or before where it was.
        expect([...new Set(receiver.delivered)]).toEqual(rows.map((row) => row.id));
        const after = receiver.requests.slice(beforeKill).map((request) => BigInt(request.id));
        expect(after.every((id, i) => i === 0 || id >= after[i - 1])).toBe(true);
        expect(after[0]).toBeLessThanOrEqual(BigInt(receiver.requests[beforeKill - 1].id) + 1n);
        const failing = await waitFor(
          async () => {
            const body = (await (await fetch(`${again.base}/sinks/${broker.id}`)).json()) as { state: string; lastError: string | null };
            return body.state === 'failing' ? body : undefined;
          },
          { timeout: 20_000, what: 'the unreachable broker sink failing' },
        );
        expect((await fetch(`${again.base}/health`)).status).toBe(200); // a failing sink is not the service failing
        const sinks = await (await fetch(`${again.base}/sinks`)).text();
        for (const text of [...app.stdout(), ...again.stdout(), JSON.stringify(failing), sinks]) {
          expect(text).not.toContain(webhook.secret);
          expect(text).not.toContain('Sup3rSecretPass');
        }
        expect(failing.lastError).toBeTruthy();
      } finally {
        expect(await stop(again)).toBe(0);
      }
    }, 120_000);
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase({ template: 'template0' });
    });
    afterAll(() => db.drop());

    it('migrates and uses that database instead', async () => {
      const app = await start({ DATABASE_URL: db.url, HOST: '127.0.0.1' });
      try {
        expect(app.stdout().join('\n')).toContain('ready on DATABASE_URL');
        expect((await fetch(`${app.base}/health`)).status).toBe(200);
        const { rows } = await db.sql.query(`SELECT name FROM migrations`);
        expect(rows.length).toBeGreaterThan(0);
      } finally {
        expect(await stop(app)).toBe(0);
      }
    });
  });
});
