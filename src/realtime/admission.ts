import { SubscribeDto } from './dto/subscribe.dto.js';
import type { RealtimeErrorCode } from './realtime.errors.js';

/** The connection a subscribe arrives on, as admission sees it. */
export interface ConnectionFacts {
  /** Subscriptions it holds now. */
  subscriptions: number;
  maxSubscriptions: number;
  /** The tables its API key may read; undefined: every table. */
  allowedTables?: readonly string[];
}

/** What the log and the catalog say about the request (looked up before admission). */
export interface LogFacts {
  /** The refusal's message when the request names tables or events that no known table has. */
  unknownNames?: string;
  /** The highest id retention has deleted. */
  purgedThrough: bigint;
  /** The newest notification id in the log. */
  newest: bigint;
}

export interface Admitted {
  /** The filter as delivered: a key limited to some tables gets those when it names none. */
  request: SubscribeDto;
  /** Replay after this id first; undefined: from the live end. */
  since: bigint | undefined;
}

export interface Refusal {
  code: RealtimeErrorCode;
  message: string;
}

/**
 * Whether a valid subscribe request may become a subscription on this connection: the caps, the
 * tables (known, and readable with the connection's key), and `since` (neither deleted by
 * retention nor after the newest notification). A subscription's position is its own, so nothing
 * the connection has received limits its `since`.
 */
export function admit(request: SubscribeDto, connection: ConnectionFacts, log: LogFacts): Admitted | Refusal {
  if (connection.subscriptions >= connection.maxSubscriptions) {
    return { code: 'TOO_MANY_SUBSCRIPTIONS', message: `a connection may hold at most ${connection.maxSubscriptions} subscriptions` };
  }
  if (log.unknownNames) return { code: 'INVALID_REQUEST', message: log.unknownNames };
  const { allowedTables } = connection;
  const forbidden = allowedTables ? (request.tables ?? []).filter((table) => !allowedTables.includes(table)) : [];
  if (forbidden.length) {
    return { code: 'FORBIDDEN', message: `this API key may not read ${forbidden.join(', ')}; it may read ${allowedTables!.join(', ')}` };
  }
  const restricted = allowedTables && !request.tables ? { ...request, tables: [...allowedTables] } : request;
  if (request.since === undefined) return { request: restricted, since: undefined };
  const since = BigInt(request.since);
  if (since < log.purgedThrough) {
    return {
      code: 'SINCE_EXPIRED',
      message: `notifications up to ${log.purgedThrough} have been deleted by retention; re-sync, then subscribe without since`,
    };
  }
  // An id from the future (another service's, a typo) would silently skip what comes next.
  if (since > log.newest) {
    return {
      code: 'INVALID_REQUEST',
      message: `since ${since} is after the newest notification (${log.newest}): give an id this service sent, or leave since out`,
    };
  }
  return { request: restricted, since };
}

export function isRefusal(result: Admitted | Refusal): result is Refusal {
  return 'code' in result;
}
