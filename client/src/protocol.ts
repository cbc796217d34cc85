/**
 * The service's wire contract, as docs/asyncapi.yaml (the WebSocket protocol) and the OpenAPI
 * document (GET /notifications) describe it. A test holds these lists to the AsyncAPI document.
 */

/**
 * What a notification tells: a row created, updated or deleted, or, for the whole table, a TRUNCATE
 * or a change of its schema (SCHEMA_CHANGE; its `schemaChange` says what changed); or a row as a
 * backfill read it (READ, event `<table>.read`; its `backfill` names the backfill); or a backfill
 * of the table starting, completing, or stopping short (cancelled or failed): BACKFILL_OPERATIONS.
 */
export const OPERATIONS = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE', 'READ', 'BACKFILL_STARTED', 'BACKFILL_COMPLETED', 'BACKFILL_STOPPED'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** The operations about one row; the others are about the whole table. */
export const ROW_OPERATIONS = ['INSERT', 'UPDATE', 'DELETE', 'READ'] as const;
/**
 * A backfill's own events (`<table>.backfill_started`, `.backfill_completed`, `.backfill_stopped`):
 * `pk` null, `new` the backfill as BackfillEvent shows it. `backfill_started` comes before the
 * backfill's first read, `backfill_completed` after its last one; like reads, they go only to a
 * filter that names them (or to the sinks a backfill is aimed at).
 */
export const BACKFILL_OPERATIONS = ['BACKFILL_STARTED', 'BACKFILL_COMPLETED', 'BACKFILL_STOPPED'] as const;

/** The `new` of a backfill's own event: the backfill when it started, completed or stopped. */
export interface BackfillEvent {
  id: string;
  /** `running` when it started; `completed`, `cancelled` or `failed` at its end. */
  state: 'running' | 'completed' | 'cancelled' | 'failed';
  where: Record<string, string | number | boolean | null> | null;
  /** The sinks (ids) its reads are for; null: whoever names `<table>.read`. */
  destinations: string[] | null;
  /** Rows read: 0 at the start, all of them at the end. */
  rows: number;
  /** The planner's estimate at the start; the rows read, once completed. */
  estimate: number;
  /** Why it failed; null otherwise. */
  error: string | null;
}

/** A notification id as the service gives and takes it: digits, at most 18 (a bigint carried as text). */
export const NOTIFICATION_ID = /^\d{1,18}$/;

/** A schema, table or column name as capture accepts it (unquoted). */
const NAME = '[A-Za-z_][A-Za-z0-9_$]*';
/** An event name (`invoices.created`, `sales.orders.updated`) or a prefix ending in `.*` (`invoices.*`). */
export const EVENT_PATTERN = new RegExp(`^${NAME}(\\.${NAME})*(\\.\\*)?$`);
/** A table: `invoices` (or `public.invoices`), `sales.orders` outside `public`. */
export const TABLE_PATTERN = new RegExp(`^${NAME}(\\.${NAME})?$`);
/** A column a `where` filter names. */
export const COLUMN_PATTERN = new RegExp(`^${NAME}$`);

/** A table as capture saw it: its name, its primary key (null: it has none) and its columns. */
export interface TableShape {
  schema: string;
  table: string;
  /** The primary key's columns; null when the table has none (its notifications' `pk` is then the whole row). */
  key: string[] | null;
  columns: { name: string; type: string }[];
}

/** What a DDL command did to a captured table. */
export interface SchemaChange {
  /** The command, e.g. `ALTER TABLE`, `DROP TABLE`. */
  command: string;
  before: TableShape;
  /** null: the table was dropped (and is no longer captured). */
  after: TableShape | null;
}

/**
 * What changed: the row before and after, who changed it, in which transaction. `schema` and
 * `table` name the table as it was called when the change was made (a rename's SCHEMA_CHANGE still
 * has the old name; `schemaChange.after` has the new one).
 */
export interface NotificationPayload {
  schema: string;
  table: string;
  op: Operation;
  /** The row's primary key (the whole row for a table without one); null for TRUNCATE and SCHEMA_CHANGE. */
  pk: Record<string, unknown> | null;
  /** The row after the change (for READ: the row as read); null for deletions, TRUNCATE and SCHEMA_CHANGE. */
  new: Record<string, unknown> | null;
  /**
   * The row before the change; null for creations, TRUNCATE and SCHEMA_CHANGE, and for updates and
   * deletions of a table captured without its old rows (`capture enable --no-old`).
   */
  old: Record<string, unknown> | null;
  /** For updates, the columns whose values changed (null when the old row is not kept). */
  changedColumns: string[] | null;
  /** Only for SCHEMA_CHANGE. */
  schemaChange?: SchemaChange;
  /** Only for READ and a backfill's own events: the id of the backfill (a read's row is `new`; `old` is null). */
  backfill?: string;
  /**
   * Only for a backfill aimed at chosen sinks (`POST /backfills {destinations}`): their ids. Such
   * reads and events go to those sinks alone: no subscription or consumer group gets them.
   */
  destinations?: string[];
  actor: string;
  txId: string;
  /** ISO 8601. */
  changedAt: string;
}

/** One committed row change. Ids are decimal strings that increase in delivery order. */
export interface Notification {
  id: string;
  /** `<table>.<created|updated|deleted|truncated|schema_changed|read|backfill_started|backfill_completed|backfill_stopped>`, e.g. `invoice_items.updated`. */
  event: string;
  /** ISO 8601. */
  createdAt: string;
  payload: NotificationPayload;
  /**
   * Only with `coalesce: 'transaction'`, on a notification that stands for several changes of its
   * row in one transaction: their ids, ascending (its own `id` is the first). Its `payload` is the
   * net change: `old` as the row was before the transaction, `new` as it was at commit.
   */
  coalesced?: string[];
}

/** How a subscription or a sink may merge a row's changes: `transaction`, one net change per row per transaction. */
export const COALESCE_MODES = ['transaction'] as const;
export type CoalesceMode = (typeof COALESCE_MODES)[number];

/**
 * What a sink delivers instead of a notification too large for its destination (over a NATS
 * server's `max_payload` or its stream's `max_msg_size`, answered 413 by a webhook receiver, over
 * RabbitMQ's `max_message_size`): the same id, event and keys, without the rows, flagged
 * `truncated: true`, with `href` to fetch the whole notification. It counts as delivered: the sink
 * goes on after it, in order. A complete notification never carries `truncated`.
 */
export interface TruncatedNotification extends Omit<Notification, 'payload'> {
  truncated: true;
  /** `GET` it for the whole notification: `/notifications/<id>`, relative to the service's address. */
  href: string;
  /** The payload without `new`, `old` and `changedColumns`. */
  payload: Omit<NotificationPayload, 'new' | 'old' | 'changedColumns'>;
}

/** The body of a webhook request, RabbitMQ message or NATS message: a notification, whole or truncated. */
export type SinkNotification = Notification | TruncatedNotification;

/**
 * A notification as the WebSocket pushes it: the subscriptions of this connection it is for. Each
 * subscription gets ascending ids, each once; a connection with several subscriptions may get one
 * subscription's replay between another's live notifications, so keep a position per subscription.
 */
export interface NotificationMessage extends Notification {
  /** The `subscriptionId`s (from their acks) this notification is delivered for. */
  subscriptionIds: string[];
}

/**
 * Every notification up to `id` that these subscriptions want has been sent before this message:
 * each may resume with `since: id` even when nothing matched for a long time (a replay then need
 * not read the log from an old id, and retention cannot expire it). Sent now and then for
 * subscriptions whose position moved past the last notification sent for them.
 */
export interface CheckpointMessage {
  subscriptionIds: string[];
  id: string;
}

/**
 * Which notifications a subscription wants; every filter given must hold, one left out holds for
 * everything.
 */
export interface NotificationFilter {
  /** Event names (`invoices.created`) or prefixes ending in `.*` (`invoices.*`). */
  events?: string[];
  /** Tables: `invoices` (or `public.invoices`), `sales.orders` outside `public`. */
  tables?: string[];
  /**
   * Column values of the row (`new`, `old` for deletions), compared as text; null: null or missing.
   * TRUNCATE and SCHEMA_CHANGE concern every row, so they pass any `where`.
   */
  where?: Record<string, string | number | boolean | null>;
}

export interface SubscribeRequest extends NotificationFilter {
  /** Replay the stored notifications after this id first, then continue live. */
  since?: string;
  /**
   * `transaction`: one notification per row per transaction, carrying the row's net change (see
   * Notification.coalesced), in the order of each row's first change; filters apply to the net change.
   */
  coalesce?: CoalesceMode;
}

/** Codes of an error acknowledgement (`{ok: false, error: {code, message}}`). */
export const ACK_ERROR_CODES = [
  'INVALID_REQUEST',
  'MESSAGE_TOO_LARGE',
  'TOO_MANY_SUBSCRIPTIONS',
  'UNKNOWN_SUBSCRIPTION',
  'SINCE_EXPIRED',
  'UNAVAILABLE',
  'FORBIDDEN',
  'RATE_LIMITED',
  'INTERNAL',
] as const;

/** Codes of `error_notice`, sent just before the server closes a connection. */
export const NOTICE_CODES = ['SLOW_CONSUMER', 'SINCE_EXPIRED', 'KEY_REVOKED', 'UNAUTHORIZED', 'SERVER_SHUTTING_DOWN'] as const;

/** Codes of `subscription_ended`: one subscription ended by the server, the connection going on. */
export const SUBSCRIPTION_END_CODES = ['SINCE_EXPIRED', 'UNAVAILABLE'] as const;

/** Codes of a refused handshake (`connect_error` with `data.code`). */
export const HANDSHAKE_ERROR_CODES = ['UNAUTHORIZED', 'FORBIDDEN', 'TOO_MANY_CONNECTIONS'] as const;

export type AckErrorCode = (typeof ACK_ERROR_CODES)[number];
export type NoticeCode = (typeof NOTICE_CODES)[number];
export type HandshakeErrorCode = (typeof HANDSHAKE_ERROR_CODES)[number];
export type SubscriptionEndCode = (typeof SUBSCRIPTION_END_CODES)[number];
/** Every code the service may answer the WebSocket client with. */
export type ErrorCode = AckErrorCode | NoticeCode | HandshakeErrorCode;

/**
 * One subscription ended by the server; the connection and its other subscriptions go on.
 * SINCE_EXPIRED: retention deleted notifications its replay had not sent yet (re-sync);
 * UNAVAILABLE: its replay could not read the log (subscribe again with since its last id).
 */
export interface SubscriptionEnded {
  subscriptionId: string;
  code: SubscriptionEndCode;
  message: string;
}

export interface ErrorNotice {
  code: NoticeCode;
  message: string;
}

/**
 * NestJS's answer to a message whose handler failed unexpectedly. The service answers every
 * subscribe and unsubscribe with an ack, so this means a bug in the service; no ack follows it.
 */
export interface ExceptionMessage {
  status: 'error';
  message: string;
  /** The message that failed: its event name and data. */
  cause?: { pattern: string; data: unknown };
}

export type SubscribeAck =
  | { ok: true; subscriptionId: string; cursor: string }
  | { ok: false; error: { code: AckErrorCode; message: string } };

export type UnsubscribeAck = { ok: true } | { ok: false; error: { code: AckErrorCode; message: string } };

/** Socket.IO events the server sends on the `/events` namespace. */
export interface ServerToClientEvents {
  notification: (message: NotificationMessage) => void;
  checkpoint: (message: CheckpointMessage) => void;
  exception: (message: ExceptionMessage) => void;
  subscription_ended: (ended: SubscriptionEnded) => void;
  error_notice: (notice: ErrorNotice) => void;
}

/** Socket.IO events a client sends, each answered with an acknowledgement. */
export interface ClientToServerEvents {
  subscribe: (request: SubscribeRequest, ack: (ack: SubscribeAck) => void) => void;
  unsubscribe: (request: { subscriptionId: string }, ack: (ack: UnsubscribeAck) => void) => void;
}

/** The server's event names, one place for both sides' string literals. */
export const SERVER_EVENTS = {
  notification: 'notification',
  checkpoint: 'checkpoint',
  errorNotice: 'error_notice',
  exception: 'exception',
  subscriptionEnded: 'subscription_ended',
} as const satisfies Record<string, keyof ServerToClientEvents>;

export const CLIENT_EVENTS = {
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
} as const satisfies Record<string, keyof ClientToServerEvents>;

/** The namespace every instance serves live notifications on. */
export const NAMESPACE = '/events';

/** `GET /notifications` query: ascending ids after `after`. */
export interface NotificationQuery {
  /** An event name, or a prefix ending in `.*`. */
  event?: string;
  table?: string;
  /** The changed row's primary key value. */
  entityId?: string;
  /** Who made the change (`payload.actor`). */
  actor?: string;
  /**
   * Column values the row (`new`, `old` for deletions) must have, compared as text; a TRUNCATE or
   * schema change of the table matches too. Fast at any log size with `table` and a column chosen
   * with `npm run capture -- lookup <table> <column>`.
   */
  where?: Record<string, string | number | boolean>;
  /** Only notifications with a larger id (the previous page's `nextCursor`). */
  after?: string;
  /** 1–1000; the service's default is 100. */
  limit?: number;
  /** The newest `limit` that match, ascending (not with `after`). */
  tail?: boolean;
}

export interface NotificationPage {
  data: Notification[];
  /** The last id returned (pass it as `after`); null on an empty page. */
  nextCursor: string | null;
}

/** The service's error body on every HTTP error. */
export interface HttpErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/** A message of a pull consumer group, as `POST /consumers/:name/receive` leases it. */
export interface ConsumerMessage {
  /** Settle it with this: `ack`, `nack`, `extend`, `term`. */
  leaseId: string;
  /** 1 on its first delivery. */
  deliveries: number;
  /** ISO 8601: settle or extend it before then, or it is delivered again. */
  leasedUntil: string;
  notification: Notification;
}

/** `POST /consumers/:name/receive`'s answer. */
export interface ReceivedMessages {
  messages: ConsumerMessage[];
  /** Only when the receive carried `ack`: what those acks did (settled before it leased). */
  acked?: SettledLeases;
}

/** What a settle call (`ack`, `nack`, `extend`, `term`) did: `unknown` leases the group no longer has (nothing happened to them). */
export interface SettledLeases {
  done: string[];
  unknown: string[];
}
