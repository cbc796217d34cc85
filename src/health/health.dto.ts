export class ListenerHealthDto {
  /** The listener's dedicated connection is up. */
  connected: boolean;
  /** This instance is the one draining the journal (others stand by). */
  draining: boolean;
  /**
   * Age of the oldest undrained change above the highest id drained so far, in ms (0 when there
   * is none). Read in the background every second, like `backlog`.
   */
  lagMs: number;
  /**
   * Undrained journal rows, estimated in constant time: the journal's highest id minus the highest
   * id drained so far. It counts the ids of transactions still open or rolled back above that, and
   * misses undrained rows below it (a long transaction committing after later ones); 0 when every
   * committed change is drained. A backlog never makes /health fail: it is being drained.
   */
  backlog: number;
}

export class CaptureProblemDto {
  /** The table as notifications name it; null for the whole database. @example "invoices" */
  table: string | null;
  /** @example "its insert trigger is disabled" */
  problem: string;
}

export class CaptureHealthDto {
  /**
   * What keeps capture from being complete: a captured table's trigger dropped or disabled by hand,
   * the event triggers that follow schema changes missing. Checked at start and every
   * CAPTURE_CHECK_INTERVAL_MS; `npm run capture -- enable <table>` re-arms a table.
   */
  problems: CaptureProblemDto[];
}

export class HealthDto {
  /**
   * ok when every check passes; degraded (still 200: the service runs) when capture has problems;
   * error otherwise (then the status code is 503). @example "ok"
   */
  status: 'ok' | 'degraded' | 'error';
  /** Whether the database answered the latest background ping (every second, within 5 s). @example "up" */
  database: 'up' | 'down';
  listener: ListenerHealthDto;
  capture: CaptureHealthDto;
}
