// Fan-out: 1,000 clients subscribed to invoices.created, 100 changes/s: notifications delivered per
// second (first write to last receipt), commit → client latency, and how many were lost, rowcast
// against the raw relay in the same rounds (../lib/push.mjs): besides 0 lost, the targets are ratios to the relay.
import { pushAgainstRelay } from '../lib/push.mjs';

export async function fanout(postgres, { seconds, rounds, clients = 1000, rate = 100 }) {
  return { rate, ...(await pushAgainstRelay(postgres, 'fanout', { seconds, rounds, clients, rates: [rate] })) };
}
