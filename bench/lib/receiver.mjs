// A webhook receiver in the benchmark's process, so on the clients' core (./cpus.mjs): a node:http
// server on loopback that answers every request 204 at once over kept-alive connections, the
// fastest endpoint a webhook can have, so that what is measured is rowcast's sending. It records
// each request's `webhook-id` and when its body had arrived (the clock of ./clients.mjs).
import http from 'node:http';
import { now } from './clients.mjs';

/** A receiver on a free port; `url` is where a webhook should point. */
export async function startReceiver() {
  const received = { ids: [], firstAt: 0, lastAt: 0, onBody: undefined };
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const at = now();
      if (received.ids.length === 0) received.firstAt = at;
      received.lastAt = at;
      // Ids are notification ids: digits, well within a double's exact integers.
      received.ids.push(Number(request.headers['webhook-id']));
      received.onBody?.(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(204).end();
    });
  });
  // Node's default (5 s) would close the app's kept-alive connection between a run's phases.
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received,
    /**
     * Forgets what came so far, for the next measurement; `onBody(body)`, when given, gets each
     * request's body as text (the latency run reads its invoice number; the others need only the id).
     */
    reset(onBody) {
      Object.assign(received, { ids: [], firstAt: 0, lastAt: 0, onBody });
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * How `ids` (in the order they arrived) compare with the log's ids `first`…`last` (consecutive:
 * the log numbers every notification, and the webhook matched them all): whether each came after
 * the one before, how many never came, and how many came more than once.
 */
export function checkSequence(ids, first, last) {
  let inOrder = true;
  const seen = new Set();
  let duplicates = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i > 0 && ids[i] <= ids[i - 1]) inOrder = false;
    if (seen.has(ids[i])) duplicates++;
    seen.add(ids[i]);
  }
  let missing = 0;
  for (let id = first; id <= last; id++) if (!seen.has(id)) missing++;
  const unexpected = [...seen].filter((id) => id < first || id > last).length;
  return { inOrder, missing, duplicates, unexpected };
}
