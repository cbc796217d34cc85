import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const WORKER = path.resolve(import.meta.dirname, '../support/consumer-worker.mjs');

/** Worker processes of a consumer group killed with SIGKILL in the middle of their work. */
describe('pull consumer workers killed with SIGKILL', () => {
  let t: TestApp;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
  });
  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await t.close();
  });

  /** A worker process; `lines` collects what it printed. */
  function start(lines: string[], workMs: number): ChildProcess {
    const worker = spawn(process.execPath, [WORKER, t.url, 'killed', '8', String(workMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rest = '';
    worker.stdout!.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const complete = text.split('\n');
      rest = complete.pop()!;
      lines.push(...complete);
    });
    workers.push(worker);
    return worker;
  }

  it('gives the messages a killed worker held to the others once their leases expire, and every other message once', async () => {
    await t.http.post('/consumers').send({ name: 'killed', tables: ['invoices'], ackWaitMs: 1000, maxDeliver: null }).expect(201);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'KILL-' || g FROM generate_series(1, 300) g`);
    const expected = (await t.db.sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE table_name = 'invoices'`)).rows[0].n as number;
    expect(expected).toBe(300);

    const first: string[] = [];
    // Its work takes 200 ms: killed while a message is started and not done, it holds that lease unsettled.
    const victim = start(first, 200);
    const survivors = [[], []] as string[][];
    survivors.forEach((lines) => start(lines, 20));
    const started = (lines: string[]) => lines.filter((line) => line.startsWith('start ')).map((line) => line.slice(6));
    const finished = (lines: string[]) => lines.filter((line) => line.startsWith('done ')).map((line) => line.split(' ')[1]);
    /** Leases that expired before their worker could settle them: another worker had them too. */
    const lost = (lines: string[]) => lines.filter((line) => line.startsWith('lost ')).map((line) => line.split(' ')[1]);
    // Killed in the middle of its work: messages started and not finished (and not acked).
    await waitFor(() => finished(first).length >= 10 && started(first).length > finished(first).length && victim.kill('SIGKILL'), {
      timeout: 30_000,
      interval: 1,
      what: 'the first worker in the middle of its work',
    });
    await new Promise((resolve) => victim.once('exit', resolve));

    const all = () => new Set([...finished(first), ...survivors.flatMap(finished)]);
    await waitFor(() => all().size === 300, { timeout: 60_000, what: `every message handled (${all().size})` });
    await waitFor(async () => (await t.http.get('/consumers/killed').expect(200)).body.inFlight === 0, { what: 'nothing in flight' });

    // Handled twice: only what the killed worker started (and may have finished without its ack
    // arriving), or a message whose lease expired before its worker was done (a slow machine).
    const counts = new Map<string, number>();
    for (const id of [...finished(first), ...survivors.flatMap(finished)]) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    // The killed worker's: what it started and had not seen acknowledged (its ack may have been cut off).
    const acked = new Set(finished(first).slice(0, -8)); // at most `concurrency` acks were still in flight
    const explained = new Set([...started(first).filter((id) => !acked.has(id)), ...lost(first), ...survivors.flatMap(lost)]);
    expect(twice.filter((id) => !explained.has(id))).toEqual([]);
    expect(survivors.flatMap((lines) => lines.filter((line) => line.startsWith('error ')))).toEqual([]);
    // What it started and did not finish was finished by the others.
    for (const id of started(first).filter((id) => !finished(first).includes(id))) expect(survivors.flatMap(finished)).toContain(id);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/^rowcast_consumer_redeliveries_total\{group="killed"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    const group = (await t.http.get('/consumers/killed').expect(200)).body;
    expect(group).toMatchObject({ pending: 0, inFlight: 0, deadLetters: 0, lag: { ids: 0 } });
  }, 90_000);
});
