import type { Notification } from '../../client/src/protocol.js';
import type { TestApp } from './app.js';
import { waitFor } from './wait.js';

/** Waits until backfill `id` is in `state` (completed by default); its body then. */
export function backfillFinished(t: TestApp, id: string, state = 'completed'): Promise<Record<string, unknown> & { state: string }> {
  return waitFor(
    async () => {
      const { body } = await t.http.get(`/backfills/${id}`).expect(200);
      return body.state === state && body;
    },
    { timeout: 20_000, what: `backfill ${id} ${state}` },
  ) as Promise<Record<string, unknown> & { state: string }>;
}

/** Every notification GET /notifications gives for `query`, ascending (paged). */
export async function readWholeLog(t: TestApp, query: Record<string, string>): Promise<Notification[]> {
  const all: Notification[] = [];
  let after: string | undefined;
  for (;;) {
    const { body } = await t.http.get('/notifications').query({ ...query, limit: 1000, ...(after && { after }) }).expect(200);
    all.push(...body.data);
    if (!body.nextCursor || body.data.length === 0) return all;
    after = body.nextCursor;
  }
}
