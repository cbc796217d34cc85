import { connect } from '@nats-io/transport-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './wait.js';

/** The machine's server binary (the one `.ci/run` starts on 4222); NATS_SERVER_BIN overrides it. */
const BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface PrivateNatsServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * A NATS server of the test's own, with JetStream, on a free port, for settings the machine's
 * server should keep (a small `max_payload`). Its store is a temporary directory, removed on stop.
 */
export async function startNatsServer(settings: { maxPayload: number }): Promise<PrivateNatsServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-nats-'));
  const port = await freePort();
  const config = path.join(dir, 'nats.conf');
  await writeFile(
    config,
    [`listen: 127.0.0.1:${port}`, `max_payload: ${settings.maxPayload}`, `jetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))} }`].join('\n'),
  );
  const server: ChildProcess = spawn(BINARY, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  server.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `nats://127.0.0.1:${port}`;
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (server.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
        const nc = await connect({ servers: url, reconnect: false }).catch(() => undefined);
        await nc?.close();
        return nc !== undefined;
      },
      { timeout: 15_000, interval: 100, what: `nats-server on port ${port}` },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

/** A port nothing listens on now (the OS's pick, released for the server to take). */
async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
