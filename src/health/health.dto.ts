export class ListenerHealthDto {
  /** The listener's dedicated connection is up. */
  connected: boolean;
  /** This instance is the one draining the journal (others stand by). */
  draining: boolean;
  /** Age of the oldest undrained change, in ms (0 when there is none). */
  lagMs: number;
  /** Undrained journal rows. */
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
  /** @example "up" */
  database: 'up' | 'down';
  listener: ListenerHealthDto;
  capture: CaptureHealthDto;
}
