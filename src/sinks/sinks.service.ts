import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { TableCatalog } from '../capture/table-catalog.js';
import { NotificationFilterDto } from '../events/notification-filter.js';
import { NotificationLog } from '../log/notification-log.js';
import {
  CreatedWebhookDto,
  CreateSinkDto,
  CreateWebhookDto,
  DeadLetterDto,
  DeliveryAttemptDto,
  RedeliverDto,
  RedeliveryDto,
  RotatedSecretDto,
  SinkDto,
  UpdateSinkDto,
  UpdateWebhookDto,
} from './dto/sink.dto.js';
import { redactUrl } from './rabbitmq.transport.js';
import { NatsConfig, previousSecretExpiry, RabbitMqConfig, Sink, SinkKind, WebhookConfig, WebhookSecrets } from './sink.js';
import { NewSink, SinkChanges, SinkRepository } from './sink.repository.js';
import { SinkEngine } from './sink-engine.service.js';
import { BadSinkRequest, PositionUnavailable, SinkNameTaken, SinkNotFound, SinkTargetRefused } from './sinks.errors.js';
import { refusedTarget } from './target-address.js';
import { newWebhookSecret } from './webhook-signature.js';

/** Which sinks a route manages: /webhooks its own kind, /sinks the brokers (and lists every kind). */
export type SinkScope = 'webhook' | 'broker' | 'any';

/** Managing sinks (the API's side); delivering them is the SinkEngine's. */
@Injectable()
export class SinksService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: SinkRepository,
    private readonly log: NotificationLog,
    private readonly engine: SinkEngine,
    private readonly tables: TableCatalog,
  ) {}

  async createWebhook(dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    await this.checkTarget(dto.url);
    await this.tables.check(dto.tables);
    const secret = newWebhookSecret();
    const sink = await this.create({
      kind: 'webhook',
      name: dto.name ?? defaultName('webhook'),
      filter: filterOf(dto),
      config: { url: dto.url } satisfies WebhookConfig,
      secrets: { current: secret } satisfies WebhookSecrets,
      onExhausted: dto.onExhausted ?? 'dead-letter',
      position: await this.startPosition(dto.from),
    });
    return { ...toDto(sink), secret };
  }

  async createBrokerSink(dto: CreateSinkDto): Promise<SinkDto> {
    await this.tables.check(dto.tables);
    const base = { name: dto.name ?? defaultName(dto.kind), filter: filterOf(dto), onExhausted: 'dead-letter' as const };
    const position = await this.startPosition(dto.from);
    if (dto.kind === 'rabbitmq') {
      const settings = dto.rabbitmq!;
      checkBrokerUrl(settings.url, 'rabbitmq.url', true);
      const config: RabbitMqConfig = { url: redactUrl(settings.url), exchange: settings.exchange ?? 'rowcast' };
      return toDto(await this.create({ ...base, kind: 'rabbitmq', config, secrets: { url: settings.url }, position }));
    }
    const { servers, subjectPrefix, stream, user, pass, token } = dto.nats!;
    for (const server of servers) checkBrokerUrl(server, 'nats.servers', false);
    const config: NatsConfig = { servers, subjectPrefix: subjectPrefix ?? 'rowcast', stream: stream ?? 'ROWCAST', ...(user ? { user } : {}) };
    return toDto(await this.create({ ...base, kind: 'nats', config, secrets: { pass, token }, position }));
  }

  async list(scope: SinkScope): Promise<SinkDto[]> {
    const sinks = await this.repository.list(scope === 'webhook' ? 'webhook' : undefined);
    return sinks.filter((sink) => inScope(sink.kind, scope)).map(toDto);
  }

  async get(id: string, scope: SinkScope): Promise<SinkDto> {
    return toDto(await this.find(id, scope));
  }

  async update(id: string, scope: SinkScope, dto: UpdateSinkDto | UpdateWebhookDto): Promise<SinkDto> {
    const sink = await this.find(id, scope);
    await this.tables.check(dto.tables);
    const changes: SinkChanges = {};
    if (dto.name !== undefined) changes.name = dto.name;
    if (dto.events !== undefined || dto.tables !== undefined || dto.where !== undefined) {
      const filter: Record<string, unknown> = { ...sink.filter };
      for (const field of ['events', 'tables', 'where'] as const) {
        if (dto[field] === null) delete filter[field];
        else if (dto[field] !== undefined) filter[field] = dto[field];
      }
      changes.filter = filter as NotificationFilterDto;
    }
    if (dto.paused !== undefined) changes.state = dto.paused ? 'paused' : 'active';
    if ('url' in dto && dto.url !== undefined) {
      await this.checkTarget(dto.url);
      changes.config = { ...(sink.config as WebhookConfig), url: dto.url };
    }
    if ('onExhausted' in dto && dto.onExhausted !== undefined) changes.onExhausted = dto.onExhausted;
    return toDto(await this.change(sink, changes));
  }

  async remove(id: string, scope: SinkScope): Promise<void> {
    const sink = await this.find(id, scope);
    await this.repository.remove(sink.id);
    this.engine.changed(sink.id);
  }

  /** Delivery goes on after a pause or a failure; a notification given up on with `pause` is retried. */
  async resume(id: string, scope: SinkScope): Promise<SinkDto> {
    return toDto(await this.change(await this.find(id, scope), { state: 'active' }));
  }

  async rotateSecret(id: string, overlapSeconds = 86_400): Promise<RotatedSecretDto> {
    const sink = await this.find(id, 'webhook');
    const secret = newWebhookSecret();
    const expires = overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null;
    const previous = expires ? { previous: (sink.secrets as WebhookSecrets).current, previousExpiresAt: expires.toISOString() } : {};
    await this.change(sink, { secrets: { current: secret, ...previous } });
    return { secret, previousSecretExpiresAt: expires };
  }

  async redeliver(id: string, scope: SinkScope, dto: RedeliverDto): Promise<RedeliveryDto> {
    const sink = await this.find(id, scope);
    const given = [dto.notificationId, dto.deadLetters, dto.from].filter((value) => value !== undefined).length;
    if (given !== 1) throw new BadSinkRequest('give exactly one of notificationId, deadLetters or from');
    let queued: number | null = 1;
    let position = sink.position;
    if (dto.notificationId !== undefined) {
      if (BigInt(dto.notificationId) > sink.position) {
        throw new BadSinkRequest(`notification ${dto.notificationId} is after the sink's position ${sink.position}: it is yet to be delivered, in order`);
      }
      if (!(await this.log.get(dto.notificationId))) throw new SinkNotFound('notification', dto.notificationId);
      await this.repository.redeliver(sink.id, dto.notificationId);
    } else if (dto.deadLetters) {
      queued = await this.repository.redeliverDeadLetters(sink.id);
    } else {
      position = await this.startPosition(dto.from);
      await this.repository.rewind(sink.id, position);
      queued = null;
    }
    this.engine.changed(sink.id);
    return { queued, position: position.toString() };
  }

  async deliveries(id: string, limit: number): Promise<DeliveryAttemptDto[]> {
    const sink = await this.find(id, 'webhook');
    return this.repository.attempts(sink.id, limit);
  }

  async deadLetters(id: string, limit: number): Promise<DeadLetterDto[]> {
    const sink = await this.find(id, 'webhook');
    return this.repository.deadLetters(sink.id, limit);
  }

  private async create(sink: NewSink): Promise<Sink> {
    try {
      const created = await this.repository.create(sink);
      this.engine.changed(created.id);
      return created;
    } catch (error) {
      if (postgresError(error)?.code === PG.uniqueViolation) throw new SinkNameTaken(sink.name);
      throw error;
    }
  }

  private async change(sink: Sink, changes: SinkChanges): Promise<Sink> {
    try {
      const changed = await this.repository.update(sink.id, changes);
      if (!changed) throw new SinkNotFound(sink.kind, sink.id);
      this.engine.changed(sink.id);
      return changed;
    } catch (error) {
      if (postgresError(error)?.code === PG.uniqueViolation) throw new SinkNameTaken(changes.name!);
      throw error;
    }
  }

  private async find(id: string, scope: SinkScope): Promise<Sink> {
    const sink = await this.repository.get(id);
    const what = scope === 'webhook' ? 'webhook' : 'sink';
    if (!sink || !inScope(sink.kind, scope)) throw new SinkNotFound(what, id);
    return sink;
  }

  private async checkTarget(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new BadSinkRequest('url must be an http:// or https:// URL');
    }
    if (parsed.username || parsed.password) {
      throw new BadSinkRequest('url must not hold credentials (user:password@): a receiver knows rowcast by the signature');
    }
    const refused = await refusedTarget(parsed.hostname, this.config.sinks.webhook.allowPrivate);
    if (refused) throw new SinkTargetRefused(refused);
  }

  /** The position a sink starts after: `now` (default), `start`, or a cursor the log still holds. */
  private async startPosition(from = 'now'): Promise<bigint> {
    if (from === 'now') return this.log.lastId();
    const purged = await this.log.purgedThrough();
    if (from === 'start') return purged;
    const cursor = BigInt(from);
    const last = await this.log.lastId();
    if (cursor > last) throw new BadSinkRequest(`from ${from} is after the newest notification (${last})`);
    if (cursor < purged) throw new PositionUnavailable(`notifications up to ${purged} were deleted by retention; from must be at least ${purged}`);
    return cursor;
  }
}

/**
 * A broker URL its client can use (the DTO checked the scheme only). Credentials: in a RabbitMQ
 * URL (stored as a secret, shown redacted); never in NATS servers, which are shown as given.
 */
function checkBrokerUrl(url: string, field: string, credentials: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    throw new BadSinkRequest(`${field} must be a valid URL (host, a port up to 65535, %-encoded user and password)`);
  }
  if (!parsed.hostname) throw new BadSinkRequest(`${field} must name a host`);
  if (!credentials && (parsed.username || parsed.password)) {
    throw new BadSinkRequest(`${field} must not hold credentials: give nats.user and nats.pass, or nats.token`);
  }
}

function inScope(kind: SinkKind, scope: SinkScope): boolean {
  return scope === 'any' || (scope === 'webhook') === (kind === 'webhook');
}

function defaultName(kind: SinkKind): string {
  return `${kind}-${randomBytes(4).toString('hex')}`;
}

function filterOf(dto: NotificationFilterDto): NotificationFilterDto {
  const filter: NotificationFilterDto = {};
  if (dto.events !== undefined) filter.events = dto.events;
  if (dto.tables !== undefined) filter.tables = dto.tables;
  if (dto.where !== undefined) filter.where = dto.where;
  return filter;
}

function toDto(sink: Sink): SinkDto {
  const settings =
    sink.kind === 'webhook'
      ? { url: (sink.config as WebhookConfig).url }
      : sink.kind === 'rabbitmq'
        ? { url: (sink.config as RabbitMqConfig).url, exchange: (sink.config as RabbitMqConfig).exchange }
        : { ...(sink.config as NatsConfig) };

  return {
    id: sink.id,
    kind: sink.kind,
    name: sink.name,
    events: sink.filter.events ?? null,
    tables: sink.filter.tables ?? null,
    where: sink.filter.where ?? null,
    settings,
    state: sink.state,
    onExhausted: sink.onExhausted,
    position: sink.position.toString(),
    lastError: sink.lastError,
    lastErrorAt: sink.lastErrorAt,
    ...(sink.kind === 'webhook' ? { previousSecretExpiresAt: previousSecretExpiry(sink.secrets as WebhookSecrets) } : {}),
    createdAt: sink.createdAt,
    updatedAt: sink.updatedAt,
  };
}
