import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { connect, createInbox, errors, headers, nanos, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { Logger } from '@nestjs/common';
import { SendResult, SinkMessage, SinkTransport } from '../sink-transport.js';
import { NATS_HEADERS } from './message-labels.js';

/**
 * The last tokens of a message's subject: `events`, the event name (`<prefix>.invoices.created`,
 * the routing key RabbitMQ uses); `legacy`, the table and the op in lower case
 * (`<prefix>.invoices.insert`), as sinks created before 0.2.0 publish until 0.3.0 removes it.
 */
export type SubjectVocabulary = 'events' | 'legacy';
export const SUBJECT_VOCABULARIES: readonly SubjectVocabulary[] = ['events', 'legacy'];

export interface NatsTransportConfig {
  servers: string[];
  /** Messages go to `<subjectPrefix>.<event>` (`legacy`: `<subjectPrefix>.<table>.<op>`). */
  subjectPrefix: string;
  subjectVocabulary: SubjectVocabulary;
  /** The stream that stores `<subjectPrefix>.>`: created when missing, used as is when present. */
  stream: string;
  user?: string;
  pass?: string;
  token?: string;
  /** Bound on one send, connecting and checking the stream included. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * More than a message's headers can take (its id twice, content type, event, table and op: a few
 * hundred bytes): a body this far below a size limit fits without encoding the headers to measure them.
 */
const HEADERS_BOUND = 1024;
/** How long a created stream remembers a Nats-Msg-Id: a redelivery within it is stored once. */
const DUPLICATE_WINDOW_MS = 2 * 60_000;

interface Session {
  nc: NatsConnection;
  jsm: JetStreamManager;
  acks: PubAcks;
}

/** What JetStream answered one publish: stored (or already stored: a duplicate), or why not. */
type PubAck = { ok: true } | { ok: false; error: string };

/**
 * The PubAcks of one connection's publishes, through one subscription: each publish carries a
 * reply subject `<inbox>.<n>` with its own number. A request per publish (what `js.publish` does)
 * costs a promise, a timer and an Error object per message; this costs an array slot.
 */
class PubAcks {
  private readonly inbox = createInbox();
  private next = 0;
  /** The send waiting for acks: its first reply number and an outcome per message. */
  private batch: { first: number; outcomes: (PubAck | undefined)[]; missing: number; done: () => void } | undefined;

  constructor(nc: NatsConnection) {
    nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => this.received(error, msg) });
  }

  /**
   * Publishes `messages` in order and waits until each has its ack or `timeoutMs` passed. Acks of
   * an earlier send that gave up on them are ignored (their numbers are before this send's).
   */
  async publish(nc: NatsConnection, messages: readonly { subject: string; data: Uint8Array; headers: MsgHdrs }[], timeoutMs: number) {
    const first = this.next;
    this.next += messages.length;
    const outcomes: (PubAck | undefined)[] = new Array(messages.length);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.batch = { first, outcomes, missing: messages.length, done: resolve };
        timer = setTimeout(resolve, timeoutMs);
        // Throws once the connection is closed: the send reports it.
        messages.forEach(({ subject, data, headers: hdrs }, i) => nc.publish(subject, data, { headers: hdrs, reply: `${this.inbox}.${first + i}` }));
      });
      return outcomes;
    } finally {
      clearTimeout(timer);
      this.batch = undefined;
    }
  }

  private received(error: Error | null, msg: Msg): void {
    const batch = this.batch;
    if (!batch) return;
    if (error) {
      // The subscription itself failed (a permissions violation on the inbox): nothing will come.
      for (let i = 0; i < batch.outcomes.length; i++) batch.outcomes[i] ??= { ok: false, error: error.message };
      batch.done();
      return;
    }
    const index = Number(msg.subject.slice(this.inbox.length + 1)) - batch.first;
    if (!(index >= 0 && index < batch.outcomes.length) || batch.outcomes[index]) return;
    batch.outcomes[index] = pubAck(msg);
    if (--batch.missing === 0) batch.done();
  }
}

/** A PubAck message: `{stream, seq[, duplicate]}`, `{error: {description}}`, or a status (503: no stream). */
function pubAck(msg: Msg): PubAck {
  // JetStream answers a publish through the stream that captures its subject: none, no responders.
  if (msg.headers?.hasError) return { ok: false, error: msg.headers.code === 503 ? NO_STREAM : `${msg.headers.code} ${msg.headers.description}` };
  try {
    const answer = JSON.parse(decoder.decode(msg.data)) as { stream?: string; error?: { description?: string; err_code?: number } };
    if (answer.error) return { ok: false, error: `JetStream refused it: ${answer.error.description ?? 'unknown error'} (${answer.error.err_code ?? '?'})` };
    if (answer.stream) return { ok: true };
  } catch {
    // below
  }
  return { ok: false, error: 'invalid PubAck from the server' };
}

const NO_STREAM = 'no stream';
const decoder = new TextDecoder();

/**
 * Publishes notifications to a JetStream stream, each with its id as Nats-Msg-Id, so that the
 * stream's duplicate window drops what the engine redelivers after an unknown outcome. Connects on
 * the first send; once connected, the client reconnects on its own for as long as it lives. A
 * connection that failed before ever opening is tried again by the next send.
 */
export class NatsTransport implements SinkTransport {
  private readonly timeoutMs: number;
  private readonly secrets: string[];
  private readonly encoder = new TextEncoder();
  private session?: Promise<Session>;
  /** The stream check for the current connection; a reconnect drops it (the server may be new). */
  private streamCheck?: Promise<void>;
  /** The stream's `max_msg_size` as the last check found it; undefined: no limit of its own. */
  private streamMaxMsgSize?: number;
  private closing?: Promise<void>;

  constructor(
    private readonly config: NatsTransportConfig,
    private readonly logger?: Logger,
  ) {
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.secrets = [config.pass, config.token].filter((secret): secret is string => !!secret);
  }

  async send(messages: readonly SinkMessage[]): Promise<SendResult> {
    if (messages.length === 0) return { confirmed: 0 };
    if (this.closing) return { confirmed: 0, error: 'transport closed' };
    const deadline = Date.now() + this.timeoutMs;
    try {
      const session = await before(deadline, this.connect());
      await before(deadline, this.checkStream(session.jsm));
      return await this.publish(session, messages, deadline);
    } catch (error) {
      return { confirmed: 0, error: this.describe(error) };
    }
  }

  /**
   * Connects and creates or checks the stream, as the first send would, so that it is there before
   * anything is sent (a consumer can be made on it at once). `unreachable`: the server could not be
   * reached (or did not answer in time); `refused`: it answered no (credentials, the stream's subjects,
   * no JetStream).
   */
  async prepare(): Promise<{ unreachable?: string; refused?: string }> {
    const deadline = Date.now() + this.timeoutMs;
    let session: Session;
    try {
      session = await before(deadline, this.connect());
    } catch (error) {
      const refused = error instanceof errors.AuthorizationError || error instanceof errors.UserAuthenticationExpiredError;
      return refused ? { refused: `cannot connect: ${this.describe(error)}` } : { unreachable: this.describe(error) };
    }
    try {
      await before(deadline, this.checkStream(session.jsm));
      return {};
    } catch (error) {
      return error instanceof errors.TimeoutError ? { unreachable: this.describe(error) } : { refused: this.describe(error) };
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Publishes every message at once (the connection keeps their order) and takes the PubAcks in
   * order: the first one missing or refused ends the confirmed prefix. A duplicate's PubAck
   * confirms too, since the stream already holds that message. A message larger than the server
   * or the stream takes is not published, nor anything after it: the result says it is too large.
   */
  private async publish({ nc, acks }: Session, messages: readonly SinkMessage[], deadline: number): Promise<SendResult> {
    const timeout = deadline - Date.now();
    if (timeout < 1) return { confirmed: 0, error: this.timedOut() };
    const outgoing: { subject: string; data: Uint8Array; headers: MsgHdrs }[] = [];
    let tooLarge: { reason: string; error: string } | undefined;
    for (const message of messages) {
      const hdrs = headers();
      hdrs.set('Nats-Msg-Id', message.id);
      hdrs.set('Content-Type', 'application/json');
      hdrs.set(NATS_HEADERS.event, message.event);
      hdrs.set(NATS_HEADERS.table, message.table);
      hdrs.set(NATS_HEADERS.op, message.op);
      hdrs.set(NATS_HEADERS.id, message.id);
      const data = this.encoder.encode(message.body);
      tooLarge = this.oversize(nc, data, hdrs);
      if (tooLarge) break;
      outgoing.push({ subject: this.subjectOf(message), data, headers: hdrs });
    }
    const outcomes = outgoing.length ? await acks.publish(nc, outgoing, timeout) : [];
    const failed = outcomes.findIndex((outcome) => !outcome?.ok);
    if (failed === -1) {
      return tooLarge ? { confirmed: outgoing.length, error: tooLarge.error, tooLarge: tooLarge.reason } : { confirmed: messages.length };
    }
    const outcome = outcomes[failed];
    if (!outcome) return { confirmed: failed, error: nc.isClosed() ? 'connection closed' : this.timedOut() };
    if (outcome.ok) return { confirmed: failed };
    if (outcome.error !== NO_STREAM) return { confirmed: failed, error: this.redact(outcome.error) };
    // The stream was there when checked, so someone deleted it: the next send checks again.
    this.streamCheck = undefined;
    return { confirmed: failed, error: `no stream for subject ${this.subjectOf(messages[failed])}` };
  }

  /**
   * Why the server would refuse this message for its size (the client throws on a publish over the
   * `max_payload` its server announced; headers count), or the stream would (its `max_msg_size`);
   * undefined when it fits.
   */
  private oversize(nc: NatsConnection, data: Uint8Array, hdrs: MsgHdrs): { reason: string; error: string } | undefined {
    const maxPayload = nc.info?.max_payload;
    const maxMsgSize = this.streamMaxMsgSize;
    if (data.length + HEADERS_BOUND <= Math.min(maxPayload ?? Infinity, maxMsgSize ?? Infinity)) return undefined;
    const size = data.length + Buffer.byteLength(hdrs.toString()); // the headers' wire form, as the client encodes them
    if (maxPayload !== undefined && size > maxPayload) {
      return { reason: 'max_payload', error: `message of ${size} bytes is larger than the server's max_payload (${maxPayload} bytes)` };
    }
    if (maxMsgSize !== undefined && size > maxMsgSize) {
      return { reason: 'max_msg_size', error: `message of ${size} bytes is larger than stream ${this.config.stream}'s max_msg_size (${maxMsgSize} bytes)` };
    }
    return undefined;
  }

  private subjectOf(message: SinkMessage): string {
    const { subjectPrefix, subjectVocabulary } = this.config;
    const address = subjectVocabulary === 'legacy' ? `${message.table}.${message.op.toLowerCase()}` : message.event;
    return `${subjectPrefix}.${subjectSafe(address)}`;
  }

  private connect(): Promise<Session> {
    const session = (this.session ??= this.open());
    session.catch(() => {
      if (this.session === session) this.session = undefined;
    });
    return session;
  }

  private async open(): Promise<Session> {
    const { servers, user, pass, token } = this.config;
    const nc = await connect({
      servers,
      user,
      pass,
      token,
      name: 'rowcast-sink',
      reconnect: true,
      maxReconnectAttempts: -1,
      timeout: this.timeoutMs,
      // Async stack traces cost two Error objects per publish: a third of the transport's CPU.
      noAsyncTraces: true,
    });
    if (this.closing) {
      await nc.close();
      throw new errors.ClosedConnectionError();
    }
    this.logger?.log(`connected to ${this.redact(nc.getServer())}`);
    void this.watch(nc);
    return {
      nc,
      // The stream check answers whether JetStream is there: no separate account request.
      jsm: await jetstreamManager(nc, { timeout: this.timeoutMs, checkAPI: false }),
      acks: new PubAcks(nc),
    };
  }

  private async watch(nc: NatsConnection): Promise<void> {
    try {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect') this.logger?.warn(`disconnected from ${this.redact(status.server)}`);
        if (status.type === 'error') this.logger?.warn(`server error: ${this.describe(status.error)}`);
        if (status.type === 'reconnect') {
          this.streamCheck = undefined;
          this.logger?.log(`reconnected to ${this.redact(status.server)}`);
        }
      }
    } catch (error) {
      this.logger?.warn(`status watch ended: ${this.describe(error)}`);
    }
  }

  private checkStream(jsm: JetStreamManager): Promise<void> {
    const check = (this.streamCheck ??= this.ensureStream(jsm));
    check.catch(() => {
      if (this.streamCheck === check) this.streamCheck = undefined;
    });
    return check;
  }

  private async ensureStream(jsm: JetStreamManager): Promise<void> {
    const { stream, subjectPrefix } = this.config;
    const wanted = `${subjectPrefix}.>`;
    const info = await findStream(jsm, stream);
    // -1 (or 0, which the server takes for -1): no limit but the server's.
    const maxMsgSize = info?.config.max_msg_size ?? -1;
    this.streamMaxMsgSize = maxMsgSize > 0 ? maxMsgSize : undefined;
    if (!info) {
      await jsm.streams.add({
        name: stream,
        subjects: [wanted],
        storage: StorageType.File,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
      this.logger?.log(`created stream ${stream} for ${wanted}`);
      return;
    }
    const subjects = info.config.subjects ?? [];
    if (!subjects.some((filter) => covers(filter, wanted))) {
      throw new Error(`stream ${stream} does not capture ${wanted} (its subjects: ${subjects.join(', ') || 'none'})`);
    }
  }

  private async shutdown(): Promise<void> {
    const session = await this.session?.catch(() => undefined);
    this.session = undefined;
    if (!session) return;
    const { nc } = session;
    // A drain waits for the server to answer, and the server may be gone for good: bounded.
    await before(Date.now() + this.timeoutMs, nc.drain()).catch(() => undefined);
    if (!nc.isClosed()) await nc.close();
    this.logger?.log('closed');
  }

  private describe(error: unknown): string {
    if (error instanceof errors.TimeoutError) return this.timedOut();
    if (error instanceof errors.ClosedConnectionError) return 'connection closed';
    if (error instanceof errors.ConnectionError) return this.redact(`cannot connect: ${error.message}`);
    return this.redact(error instanceof Error ? error.message : String(error));
  }

  private timedOut(): string {
    return `timed out after ${this.timeoutMs} ms`;
  }

  /** No password or token in a log line or an error, whatever the library put in its message. */
  private redact(text: string): string {
    let redacted = text.replace(/\/\/[^/@\s]+@/g, '//***@');
    for (const secret of this.secrets) redacted = redacted.split(secret).join('***');
    return redacted;
  }
}

async function findStream(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
}

/**
 * A table's name in a subject: NATS refuses whitespace and control characters there (they separate
 * its protocol's fields), and PostgreSQL allows them in a quoted name. They are percent-encoded, and
 * `%` too so that the encoding reads back: `order items` → `order%20items`. Any other name is as is.
 */
function subjectSafe(address: string): string {
  return address.replace(/[\s%\p{Cc}]/gu, (character) => encodeURIComponent(character));
}

/** Whether the stream subject `filter` matches every subject the filter `subject` matches. */
function covers(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return i < s.length;
    if (i >= s.length) return false;
    if (f[i] === '*' ? s[i] === '>' : f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

/** `work`, or a TimeoutError once the deadline has passed (the work goes on unobserved). */
function before<T>(deadline: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new errors.TimeoutError()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
