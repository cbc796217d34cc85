import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { TableCatalog } from '../capture/table-catalog.js';
import { changedFilter, NotificationFilter, NotificationFilterDto, storedFilter } from '../events/notification-filter.js';
import { NotificationLog } from '../log/notification-log.js';
import { driverFor, type SinkView } from './drivers/sink-drivers.js';
import { rotatedSecrets } from './drivers/webhook.driver.js';
import { asSinkCreation, missingSettings, CreatedWebhookDto, CreateSinkDto, CreateWebhookDto, DeadLetterDto, DeliveryAttemptDto, RedeliverDto, RedeliveryDto, RotatedSecretDto, UpdateSinkDto } from './dto/sink.dto.js';
import { type ExhaustedAction, Sink, SINK_KINDS, SinkKind } from './sink.js';
import type { StoredSettings } from './drivers/sink-driver.js';
import { SinkChanges, SinkRepository } from './sink.repository.js';
import { SinkEngine } from './sink-engine.service.js';
import { BadSinkRequest, RedeliveryTooLarge, SinkDestinationRefused, SinkNameTaken, SinkNotFound } from './sinks.errors.js';

/** Notifications a ranged redelivery (or a dry run) reads at most, and queues at most. */
const REDELIVER_SCAN = 100_000;
const REDELIVER_MAX = 10_000;
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

type SinkOfKind<K extends SinkKind> = Extract<Sink, { kind: K }>;
type ViewOfKind<K extends SinkKind> = Extract<SinkView, { kind: K }>;

/**
 * Managing sinks (the API's side); delivering them is the SinkEngine's. What differs per kind is
 * its driver's. `kind`, where a method takes one, is the route's: /webhooks manages webhooks only
 * (a sink of another kind is not found there); /sinks passes none and manages every kind.
 */
@Injectable()
export class SinksService {
  private readonly logger = new Logger(SinksService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: SinkRepository,
    private readonly log: NotificationLog,
    private readonly engine: SinkEngine,
    private readonly tables: TableCatalog,
  ) {}

  /**
   * A new sink; its creation response may show something once (a webhook's signing secret). Its
   * destination is readied first (a NATS stream): refused, no sink; unreachable, a `failing` one.
   */
  async create(dto: CreateSinkDto): Promise<SinkView & { secret?: string }> {
    checkOnExhausted(dto.onExhausted, dto.kind);
    const settings = settingsOf(dto, dto.kind, 'create');
    if (!settings) throw new BadSinkRequest(missingSettings(dto.kind));
    const { config, secrets, shownOnce } = await driverFor(dto.kind).configure(settings, this.config.sinks);
    await this.tables.check(dto.tables, dto.events);
    const name = dto.name ?? `${dto.kind}-${randomBytes(4).toString('hex')}`;
    const position = await this.log.startPosition(dto.from);
    const unreachable = await this.prepare(dto.kind, { config, secrets });
    try {
      const sink = await this.repository.create({
        kind: dto.kind,
        name,
        filter: storedFilter(dto),
        config,
        secrets,
        onExhausted: dto.onExhausted ?? 'dead-letter',
        coalesce: dto.coalesce ?? null,
        position,
        lastError: unreachable ?? null,
      });
      this.engine.changed(sink.id);
      return { ...toDto(sink), ...shownOnce };
    } catch (error) {
      if (postgresError(error)?.code === PG.uniqueViolation) throw new SinkNameTaken(name);
      throw error;
    }
  }

  /** A webhook through /webhooks: the same sink as through /sinks. */
  async createWebhook(dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    return (await this.create(asSinkCreation(dto))) as CreatedWebhookDto;
  }

  async list(kind?: SinkKind): Promise<SinkView[]> {
    return (await this.repository.list(kind)).map(toDto);
  }

  async get<K extends SinkKind>(id: string, kind?: K): Promise<ViewOfKind<K>> {
    return toDto(await this.find(id, kind)) as ViewOfKind<K>;
  }

  async update<K extends SinkKind>(id: string, kind: K | undefined, dto: UpdateSinkDto): Promise<ViewOfKind<K>> {
    const sink = await this.find(id, kind);
    checkOnExhausted(dto.onExhausted, sink.kind);
    await this.tables.check(dto.tables, dto.events);
    const changes: SinkChanges = {};
    if (dto.name !== undefined) changes.name = dto.name;
    const filter = changedFilter(sink.filter, dto);
    if (filter) changes.filter = filter;
    if (dto.paused !== undefined) changes.state = dto.paused ? 'paused' : 'active';
    if (dto.onExhausted !== undefined) changes.onExhausted = dto.onExhausted;
    if (dto.coalesce !== undefined) changes.coalesce = dto.coalesce;
    const settings = settingsOf(dto, sink.kind, 'update');
    if (settings !== undefined) {
      const stored = await driverFor(sink.kind).reconfigure(sink, settings, this.config.sinks);
      // Unreachable now: delivery readies it once it can, and says so in the sink's lastError meanwhile.
      await this.prepare(sink.kind, stored);
      Object.assign(changes, stored);
    }
    return toDto(await this.change(sink, changes)) as ViewOfKind<K>;
  }

  async remove(id: string, kind?: SinkKind): Promise<void> {
    const sink = await this.find(id, kind);
    await this.repository.remove(sink.id);
    this.engine.changed(sink.id);
  }

  /** Delivery goes on after a pause or a failure; a notification given up on with `pause` is retried. */
  async resume<K extends SinkKind>(id: string, kind?: K): Promise<ViewOfKind<K>> {
    return toDto(await this.change(await this.find(id, kind), { state: 'active' })) as ViewOfKind<K>;
  }

  async rotateSecret(id: string, overlapSeconds = 86_400): Promise<RotatedSecretDto> {
    const sink = await this.find(id, 'webhook');
    const { secrets, previousExpiresAt } = rotatedSecrets(sink.secrets, overlapSeconds);
    await this.change(sink, { secrets });
    return { secret: secrets.current, previousSecretExpiresAt: previousExpiresAt };
  }

  async redeliver(id: string, kind: SinkKind | undefined, dto: RedeliverDto): Promise<RedeliveryDto> {
    const sink = await this.find(id, kind);
    const filter = storedFilter(dto);
    const narrowed = dto.to !== undefined || Object.keys(filter).length > 0;
    if (narrowed && dto.from === undefined) throw new BadSinkRequest('to, events, tables and where narrow a range: give them with from');
    const given = [dto.notificationId, dto.deadLetters, dto.from].filter((value) => value !== undefined).length;
    if (given !== 1) throw new BadSinkRequest('give exactly one of notificationId, deadLetters or from');
    const dry = dto.dryRun ? ({ dryRun: true } as const) : {};
    if (dto.notificationId !== undefined) {
      if (BigInt(dto.notificationId) > sink.position) {
        throw new BadSinkRequest(`notification ${dto.notificationId} is after the sink's position ${sink.position}: it is yet to be delivered, in order`);
      }
      if (!(await this.log.get(dto.notificationId))) throw new SinkNotFound('notification', dto.notificationId);
      if (dto.dryRun) return { queued: 1, position: sink.position.toString(), ...dry };
      await this.repository.redeliver(sink.id, dto.notificationId);
      this.engine.changed(sink.id);
      return { queued: 1, position: sink.position.toString() };
    }
    if (dto.deadLetters) {
      if (dto.dryRun) return { queued: await this.repository.deadLetterCount(sink.id), position: sink.position.toString(), ...dry };
      const queued = await this.repository.redeliverDeadLetters(sink.id);
      this.engine.changed(sink.id);
      return { queued, position: sink.position.toString() };
    }
    const from = await this.log.startPosition(dto.from);
    if (!narrowed && !dto.dryRun) {
      await this.repository.rewind(sink.id, from);
      this.engine.changed(sink.id);
      return { queued: null, position: from.toString() };
    }
    // A rewind's dry run counts up to the log's end; a range stops at `to` and at the position.
    const to = narrowed ? min(dto.to === undefined ? sink.position : BigInt(dto.to), sink.position) : undefined;
    if (to !== undefined && to <= from) throw new BadSinkRequest(`the range (${from}, ${to}] is empty: to must be after from, and at most the sink's position ${sink.position}`);
    const ids = await this.matching(sink, from, to, filter);
    const range = { first: ids[0] ?? null, last: ids.at(-1) ?? null };
    if (dto.dryRun) return { queued: ids.length, position: (narrowed ? sink.position : from).toString(), ...range, ...dry };
    const queued = ids.length ? await this.repository.redeliverMany(sink.id, ids) : 0;
    this.engine.changed(sink.id);
    return { queued, position: sink.position.toString(), ...range };
  }

  /**
   * The ids in (from, to] (to the log's end without `to`) that the sink's filter and `filter` both
   * take, read in pages; refused when the range holds more than REDELIVER_SCAN notifications, or
   * more than REDELIVER_MAX match (narrow it with to).
   */
  private async matching(sink: Sink, from: bigint, to: bigint | undefined, filter: NotificationFilterDto): Promise<string[]> {
    const own = new NotificationFilter(sink.filter, sink.id);
    const narrower = new NotificationFilter(filter, sink.id);
    const ids: string[] = [];
    let scanned = 0;
    for (let after = from; ; ) {
      const page = await this.log.readAfter(after, 1000);
      for (const notification of page) {
        if (to !== undefined && BigInt(notification.id) > to) return ids;
        if (own.matches(notification) && narrower.matches(notification)) ids.push(notification.id);
      }
      scanned += page.length;
      if (page.length < 1000) return ids;
      if (scanned >= REDELIVER_SCAN || ids.length > REDELIVER_MAX) {
        throw new RedeliveryTooLarge(
          `more than ${ids.length > REDELIVER_MAX ? `${REDELIVER_MAX.toLocaleString('en')} matching` : `${REDELIVER_SCAN.toLocaleString('en')}`} notifications after ${from}: narrow the range with to (or rewind with from alone, without dryRun)`,
        );
      }
      after = BigInt(page[page.length - 1].id);
    }
  }

  async deliveries(id: string, kind: SinkKind | undefined, limit: number): Promise<DeliveryAttemptDto[]> {
    const sink = await this.find(id, kind);
    return this.repository.attempts(sink.id, limit);
  }

  async deadLetters(id: string, kind: SinkKind | undefined, limit: number): Promise<DeadLetterDto[]> {
    const sink = await this.find(id, kind);
    return this.repository.deadLetters(sink.id, limit);
  }

  private async change(sink: Sink, changes: SinkChanges): Promise<Sink> {
    try {
      const changed = await this.repository.update(sink.id, changes);
      if (!changed) throw new SinkNotFound('sink', sink.id);
      this.engine.changed(sink.id);
      return changed;
    } catch (error) {
      if (postgresError(error)?.code === PG.uniqueViolation) throw new SinkNameTaken(changes.name!);
      throw error;
    }
  }

  /**
   * Readies a sink's destination, when its kind has one to ready: a destination that answers no
   * refuses the request (422, naming why); returns why it could not be reached, if it could not.
   */
  private async prepare(kind: SinkKind, settings: StoredSettings<Sink>): Promise<string | undefined> {
    const outcome = await driverFor(kind).prepare?.(settings, this.config.sinks, this.logger);
    if (outcome?.refused) throw new SinkDestinationRefused(`the ${kind} server refused to ready this sink's destination: ${outcome.refused}`);
    return outcome?.unreachable;
  }

  /** The sink `id`; with `kind`, only a sink of that kind (the route's). */
  private async find<K extends SinkKind>(id: string, kind?: K): Promise<SinkOfKind<K>> {
    const sink = await this.repository.get(id);
    if (!sink || (kind !== undefined && sink.kind !== kind)) throw new SinkNotFound(kind ?? 'sink', id);
    return sink as SinkOfKind<K>;
  }

  /** The position a sink starts after: `now` (default), `start`, or a cursor the log still holds. */
}

/**
 * The settings a body gives for a sink of `kind`: under the kind's name. Settings of another kind
 * are a mistake worth naming (they would otherwise be ignored in silence).
 */
function settingsOf(dto: Partial<Record<SinkKind, object>>, kind: SinkKind, use: 'create' | 'update'): object | undefined {
  const others = SINK_KINDS.filter((other) => other !== kind && dto[other] !== undefined);
  if (others.length) {
    const sink = use === 'create' ? `kind ${kind}` : `this sink, of kind ${kind}`;
    throw new BadSinkRequest(`${others.join(' and ')} settings do not apply to ${sink}: give them as ${kind}`);
  }
  return dto[kind];
}


/** `onExhausted` means something only for kinds whose retries end. */
function checkOnExhausted(onExhausted: ExhaustedAction | undefined, kind: SinkKind): void {
  if (onExhausted !== undefined && !driverFor(kind).givesUp) {
    throw new BadSinkRequest(`onExhausted does not apply to ${kind} sinks: they retry a notification until it is delivered, and never give up on it`);
  }
}

function toDto(sink: Sink): SinkView {
  const driver = driverFor(sink.kind);
  return {
    id: sink.id,
    kind: sink.kind,
    name: sink.name,
    events: sink.filter.events ?? null,
    tables: sink.filter.tables ?? null,
    where: sink.filter.where ?? null,
    ...driver.view(sink),
    state: sink.state,
    onExhausted: driver.givesUp ? sink.onExhausted : null,
    coalesce: sink.coalesce,
    position: sink.position.toString(),
    lastDeliveredId: sink.lastDeliveredId?.toString() ?? null,
    lastDeliveredAt: sink.lastDeliveredAt,
    lastError: sink.lastError,
    lastErrorAt: sink.lastErrorAt,
    recoveredAt: sink.recoveredAt,
    createdAt: sink.createdAt,
    updatedAt: sink.updatedAt,
  } as SinkView;
}
