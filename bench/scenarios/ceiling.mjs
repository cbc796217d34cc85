// The measuring side's ceiling: the benchmark's Socket.IO clients (on the clients' core) fed by
// bench/emitter.mjs (on the server's core, no database) at the rates the push scenarios offer: 100
// clients × 1,000/s (latency) and 1,000 clients × 100/s (fan-out). What they take while it emits,
// and how far behind they are when it stops, say whether a push scenario's rate can be measured
// at all on this machine today. The emitter's own rate is reported too: where it sent less than
// asked, its core (not the clients') was the limit.
import { startEmitter } from '../lib/app.mjs';
import { connectClients } from '../lib/clients.mjs';
import { until } from '../lib/load.mjs';
import { cpuMeter } from '../lib/usage.mjs';

export async function ceiling({ seconds, shapes = [{ clients: 100, rate: 1000 }, { clients: 1000, rate: 100 }] }) {
  const results = [];
  for (const { clients, rate } of shapes) {
    const emitter = await startEmitter(rate, seconds);
    let received = 0;
    const group = await connectClients(emitter.base, clients, { request: { events: ['invoices.created'] }, onMessage: () => received++ });
    try {
      const cpu = cpuMeter(emitter);
      await fetch(`${emitter.base}/start`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const duringEmitting = { received, cpu: cpu() };
      // What the emitter managed to send (its own core may be the limit), against what was asked.
      const { sent } = await (await fetch(`${emitter.base}/sent`)).json();
      const expected = Math.round(rate * seconds) * clients;
      await until(() => received >= expected, 10_000);
      const result = {
        clients,
        offeredPerSecond: clients * rate,
        sentPerSecond: Math.round((sent * clients) / seconds),
        receivedPerSecond: Math.round(duringEmitting.received / seconds),
        // Sent but not yet taken when the window closed, in seconds of the rate asked.
        behindAtEndSeconds: Math.round(((sent * clients - duringEmitting.received) / (clients * rate)) * 10) / 10,
        lost: expected - received,
        dropped: Object.values(group.disconnects).reduce((sum, n) => sum + n, 0),
        cpu: { emitter: duringEmitting.cpu.app, clients: duringEmitting.cpu.bench },
      };
      console.error(
        `  ceiling ${clients} clients × ${rate}/s: sent ${result.sentPerSecond}/s, took ${result.receivedPerSecond}/s of ${result.offeredPerSecond}/s, ` +
          `${result.behindAtEndSeconds} s behind at the end, ${result.lost} lost, ${result.dropped} dropped; CPU s/s emitter ${result.cpu.emitter}, clients ${result.cpu.clients}`,
      );
      results.push(result);
    } finally {
      group.close();
      await emitter.stop();
    }
  }
  return { seconds, shapes: results };
}
