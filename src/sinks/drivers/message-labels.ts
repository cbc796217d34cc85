/**
 * What every broker message says about its notification, in headers, so that a consumer reads the
 * same labels from RabbitMQ and NATS (issue 18): the event name (`invoices.created`), the table as
 * the log names it (`invoices`, `sales.orders`), the op (`INSERT` … `SCHEMA_CHANGE`) and the
 * notification id. Each broker carries the names in its own convention: lower case in AMQP header
 * tables (`rowcast-event`), MIME case in NATS headers (`Rowcast-Event`, beside `Nats-Msg-Id`).
 * NATS header names are case-sensitive, so that spelling is the one to read (or match ignoring case).
 */
type Label = 'event' | 'table' | 'op' | 'id';

/** The header names as RabbitMQ messages carry them. */
export const AMQP_HEADERS: Record<Label, string> = { event: 'rowcast-event', table: 'rowcast-table', op: 'rowcast-op', id: 'rowcast-id' };

/** The header names as NATS messages carry them. */
export const NATS_HEADERS: Record<Label, string> = { event: 'Rowcast-Event', table: 'Rowcast-Table', op: 'Rowcast-Op', id: 'Rowcast-Id' };

