import { commitTimeOf } from '../events/commit-time.js';
import { LeasedMessage } from './consumer-group.js';

/** How long after its lease ran out a message's commit time is kept for a late ack. */
const GRACE_MS = 60_000;
/** Pruned at most this often. */
const PRUNE_EVERY_MS = 1_000;

/**
 * The commit times of the messages this instance leased, by lease id, so that an ack through this
 * instance is timed from commit without a read (an ack names leases, not notifications). Forgotten
 * when settled here, or a minute after the lease ran out (expired, or settled on another
 * instance): an ack through another instance is not timed.
 */
export class LeasedCommits {
  private readonly byLease = new Map<string, { committedAt: number; until: number }>();
  private prunedAt = 0;

  leased(messages: readonly LeasedMessage[]): void {
    this.prune();
    for (const message of messages) {
      this.byLease.set(message.leaseId, { committedAt: commitTimeOf(message.notification), until: message.leasedUntil.getTime() });
    }
  }

  /** The leases were extended until `until`. */
  extended(leaseIds: readonly string[], until: number): void {
    for (const id of leaseIds) {
      const entry = this.byLease.get(id);
      if (entry) entry.until = until;
    }
  }

  /** Forgets the leases; returns the commit times of those leased here. */
  take(leaseIds: readonly string[]): number[] {
    const times: number[] = [];
    for (const id of leaseIds) {
      const entry = this.byLease.get(id);
      if (!entry) continue;
      times.push(entry.committedAt);
      this.byLease.delete(id);
    }
    return times;
  }

  get size(): number {
    return this.byLease.size;
  }

  private prune(): void {
    const now = Date.now();
    if (now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    for (const [id, { until }] of this.byLease) if (until + GRACE_MS < now) this.byLease.delete(id);
  }
}
