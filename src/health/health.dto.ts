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

export class HealthDto {
  /** ok when every check passes, error otherwise (then the status code is 503). @example "ok" */
  status: 'ok' | 'error';
  /** @example "up" */
  database: 'up' | 'down';
  listener: ListenerHealthDto;
}
