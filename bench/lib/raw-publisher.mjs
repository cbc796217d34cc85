// The brokers' baseline: the same client library the sink uses, publishing `count` copies of one
// notification's body with confirms, 1,000 in flight (a sliding window: a new publish as each
// confirm comes), and nothing else: no log to read, no position to write. Run as its own process
// on the server's core, where the app runs (../scenarios/sinks.mjs starts it), so that rowcast and
// its baseline are measured alike; the broker counts what arrived, as it does for the sink.
//   node bench/lib/raw-publisher.mjs rabbitmq <url> <exchange> <count>   (body on stdin)
//   node bench/lib/raw-publisher.mjs nats <url> <subjectPrefix> <count>  (the stream exists)
import { connect, createInbox, headers } from '@nats-io/transport-node';
import { Connection } from 'rabbitmq-client';

const WINDOW = 1000;

const [kind, url, target, countArg] = process.argv.slice(2);
const count = Number(countArg);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const body = Buffer.concat(chunks);
const started = performance.now();
if (kind === 'rabbitmq') await rabbitmq();
else if (kind === 'nats') await nats();
else throw new Error(`unknown kind ${kind}`);
const seconds = (performance.now() - started) / 1000;
const { user, system } = process.cpuUsage();
// CPU seconds per second of its run, start-up included (as the sink's include its own work).
process.stdout.write(`${JSON.stringify({ seconds, cpu: Math.round(((user + system) / 1e6 / seconds) * 100) / 100 })}\n`);

/** As the sink publishes: persistent, with a message id and the event as routing key. */
async function rabbitmq() {
  const connection = new Connection({ url, connectionName: 'rowcast-bench-baseline' });
  const publisher = connection.createPublisher({ confirm: true, exchanges: [{ exchange: target, type: 'topic', durable: true }] });
  await window((i) =>
    publisher.send({ exchange: target, routingKey: 'invoices.created', durable: true, messageId: `raw-${i}`, contentType: 'application/json' }, body),
  );
  await publisher.close();
  await connection.close();
}

/** As the sink publishes: a core publish with a reply subject, the PubAcks on one subscription. */
async function nats() {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const inbox = createInbox();
  const waiting = new Map();
  nc.subscribe(`${inbox}.*`, {
    callback: (error, msg) => {
      const n = Number(msg.subject.slice(inbox.length + 1));
      const settle = waiting.get(n);
      waiting.delete(n);
      const answer = error || msg.headers?.hasError ? undefined : JSON.parse(msg.string());
      if (answer?.stream) settle?.resolve();
      else settle?.reject(new Error(error?.message ?? msg.headers?.description ?? JSON.stringify(answer?.error)));
    },
  });
  await window(
    (i) =>
      new Promise((resolve, reject) => {
        const hdrs = headers();
        hdrs.set('Nats-Msg-Id', `raw-${i}`);
        hdrs.set('Content-Type', 'application/json');
        hdrs.set('Rowcast-Event', 'invoices.created');
        waiting.set(i, { resolve, reject });
        nc.publish(`${target}.invoices.insert`, body, { headers: hdrs, reply: `${inbox}.${i}` });
      }),
  );
  await nc.drain();
}

/** Runs publish(0 … count-1), at most WINDOW unconfirmed at a time; rejects on the first failure. */
function window(publish) {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let confirmed = 0;
    const pump = () => {
      while (sent < count && sent - confirmed < WINDOW) {
        publish(sent++).then(() => {
          if (++confirmed === count) resolve();
          else pump();
        }, reject);
      }
    };
    pump();
  });
}
