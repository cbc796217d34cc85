// The machine's RabbitMQ and NATS JetStream, seen from the benchmark's process (the clients'
// core): what a sink has stored there, counted by the broker itself. The servers are system
// services, not started or pinned by the benchmark: they run on whichever core the scheduler gives
// them. Everything created here has the run's own names and is deleted by cleanup().
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { Connection } from 'rabbitmq-client';

export const RABBITMQ_URL = process.env.BENCH_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * A durable queue bound to everything `exchange` routes (the exchange declared as the sink declares
 * it: a durable topic exchange). Without a queue RabbitMQ drops what it cannot route and confirms it
 * at once; with one, a persistent message is confirmed once the queue has it, as in production.
 */
export async function rabbitQueue(exchange) {
  const connection = new Connection({ url: RABBITMQ_URL, connectionTimeout: 5_000, acquireTimeout: 5_000, retryLow: 100, retryHigh: 1_000 });
  connection.on('error', () => {}); // the first use below says what is wrong
  const queue = exchange;
  try {
    await connection.exchangeDeclare({ exchange, type: 'topic', durable: true });
    await connection.queueDeclare({ queue, durable: true });
    await connection.queueBind({ queue, exchange, routingKey: '#' });
  } catch (error) {
    connection.unsafeDestroy();
    throw error;
  }
  return {
    count: async () => (await connection.queueDeclare({ queue, passive: true })).messageCount,
    purge: () => connection.queuePurge({ queue }),
    async cleanup() {
      await connection.queueDelete({ queue }).catch(() => {});
      await connection.exchangeDelete({ exchange }).catch(() => {});
      await connection.close();
    },
  };
}

/**
 * The JetStream stream `stream`: its message count, 0 before it exists. The sink creates it on its
 * first send; with `subjectPrefix`, it is created here, as the sink would (for the raw publisher).
 */
export async function natsStream(stream, subjectPrefix) {
  const nc = await connect({ servers: NATS_URL, timeout: 5_000 });
  const jsm = await jetstreamManager(nc);
  if (subjectPrefix) {
    await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}.>`], storage: StorageType.File, duplicate_window: nanos(2 * 60_000) });
  }
  return {
    async count() {
      try {
        return (await jsm.streams.info(stream)).state.messages;
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return 0;
        throw error;
      }
    },
    purge: () => jsm.streams.purge(stream).catch(() => {}),
    async cleanup() {
      await jsm.streams.delete(stream).catch(() => false);
      await nc.drain();
    },
  };
}
