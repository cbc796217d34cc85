export class HealthDto {
  /** ok when every check passes, error otherwise (then the status code is 503). @example "ok" */
  status: 'ok' | 'error';
  /** @example "up" */
  database: 'up' | 'down';
}
