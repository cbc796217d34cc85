import type { Logger, Type } from '@nestjs/common';
import type { AppConfig } from '../../config/config.js';
import type { SinkFieldsDto } from '../dto/sink-fields.dto.js';
import type { Sink } from '../sink.js';
import type { SinkTransport } from '../sink-transport.js';

export type SinksConfig = AppConfig['sinks'];

/** The stored halves of a sink's settings: `config` the API shows, `secrets` it never shows. */
export interface StoredSettings<S extends Sink> {
  config: S['config'];
  secrets: S['secrets'];
}

/**
 * Everything that differs from one kind of sink to another (practice 15): the engine, the runner,
 * the service and the controllers ask `driverFor(sink.kind)` and never look at the kind themselves.
 * `Create` and `Update` are the kind's settings as the API takes them (validated DTO classes), `View`
 * the kind's sink as the API shows it.
 */
export interface SinkDriver<S extends Sink = Sink, Create = object, Update = object, View extends SinkFieldsDto = SinkFieldsDto> {
  readonly kind: S['kind'];
  /** The kind's request and response classes, for validation and the OpenAPI document. */
  readonly dto: {
    create: Type<Create>;
    update: Type<Update>;
    sink: Type<View>;
    /** The creation response, when it shows more than `sink` (what `configure` shows once). */
    created?: Type<View>;
  };
  /** The smallest settings a sink of this kind takes, for a message that says they are missing. */
  readonly minimalSettings: Record<string, unknown>;
  /** Whether a notification is ever given up on (its retries end): only then does `onExhausted` apply. */
  readonly givesUp: boolean;
  /** Messages handed to the transport per send (a webhook posts them in turn; a broker pipelines them). */
  readonly sendSize: number;
  /**
   * A new sink's stored settings, and what its creation response shows once (a webhook's secret).
   * Settings the DTO cannot judge alone (a URL's host) are refused with a BadSinkRequest naming the field.
   */
  configure(settings: Create, config: SinksConfig): Promise<StoredSettings<S> & { shownOnce?: { secret: string } }>;
  /** An existing sink's stored settings after a change (fields absent from `changes` stay as they are). */
  reconfigure(sink: S, changes: Update, config: SinksConfig): Promise<StoredSettings<S>>;
  /**
   * Readies the destination of a sink about to be created or given new settings, when the kind has
   * something to ready (a NATS stream). `refused`: the destination answered no, and the request is
   * refused; `unreachable`: it could not be reached, and delivery readies it once it can.
   */
  prepare?(settings: StoredSettings<S>, config: SinksConfig, logger: Logger): Promise<{ unreachable?: string; refused?: string }>;
  /** What the API shows of this kind: its settings without credentials, and fields only this kind has. */
  view(sink: S): Omit<View, keyof SinkFieldsDto>;
  /** A connection to the sink's destination, as the sink is now. */
  transport(sink: S, config: SinksConfig, logger: Logger): SinkTransport;
  /**
   * What the transport depends on beyond the sink's row (which the runner watches itself): when it
   * changes, the runner makes a new transport.
   */
  transportIdentity(sink: S, now: Date): string;
  /** The wait before retrying a notification that failed `attempt` times (before jitter); undefined: give up. */
  retryDelay(attempt: number, config: SinksConfig): number | undefined;
}
