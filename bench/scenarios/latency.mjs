// Commit → Socket.IO client latency with 100 clients subscribed (or 1: latency1), at 200 and 1,000
// changes/s: rowcast against the raw LISTEN → Socket.IO relay (bench/relay.mjs), alternating in
// each round (../lib/push.mjs).
import { pushAgainstRelay } from '../lib/push.mjs';

export function latency(postgres, { seconds, rounds, clients = 100, rates = [200, 1000] }) {
  return pushAgainstRelay(postgres, clients === 1 ? 'latency1' : 'latency', { seconds, rounds, clients, rates });
}
