export interface BackoffOptions {
  /** The wait after the first failure. */
  firstMs?: number;
  maxMs: number;
  /**
   * A random half to all of the wait, so that many waiters (instances, connections) that failed
   * together do not all come back at once. Without it the wait is exact (a retry schedule users read).
   */
  jitter?: boolean;
}

/** Exponential backoff: firstMs × 2^(failures−1), at most maxMs. The one formula of the service. */
export function backoff(failures: number, { firstMs = 100, maxMs, jitter = true }: BackoffOptions): number {
  const wait = Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return jitter ? Math.round(wait / 2 + (Math.random() * wait) / 2) : wait;
}
