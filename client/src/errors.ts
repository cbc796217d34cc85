import type { ErrorCode, HttpErrorBody } from './protocol.js';

/**
 * The service refused or ended something on the live connection; branch on `code`.
 *
 * `fatal`: the subscription has ended (a stream throws it). SINCE_EXPIRED means notifications after
 * the resume point were deleted by retention: re-sync (the REST log, your own tables), then
 * subscribe without `since`. UNAUTHORIZED, FORBIDDEN and KEY_REVOKED end every subscription of the
 * client: subscribe again with a valid key. Not fatal: the client is resuming by itself (after
 * SLOW_CONSUMER, SERVER_SHUTTING_DOWN, UNAVAILABLE, RATE_LIMITED, INTERNAL, TOO_MANY_CONNECTIONS).
 */
export class RowcastError extends Error {
  override readonly name = 'RowcastError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

/** A REST call answered with an error status; `body` is the service's `{statusCode, error, message}`. */
export class RowcastHttpError extends Error {
  override readonly name = 'RowcastHttpError';

  constructor(
    readonly status: number,
    readonly body: HttpErrorBody | undefined,
    fallback: string,
  ) {
    super(body?.message ?? fallback);
  }
}
