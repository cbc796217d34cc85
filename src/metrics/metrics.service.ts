import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Backfill, BACKFILL_STATES, progress } from '../backfills/backfill.js';
import { BackfillsService } from '../backfills/backfills.service.js';
import { CaptureWatch } from '../capture/capture-watch.js';
import { LiveTail } from '../log/live-tail.js';
import { LogDrainer } from '../log/log-drainer.js';
import { SubscriptionsService } from '../realtime/subscriptions.service.js';
import { ConsumerGroupCounters, ConsumerGroupStanding, ConsumersService } from '../consumers/consumers.service.js';
import { SinkEngine } from '../sinks/sink-engine.service.js';
import { RunnerStats } from '../sinks/sink-runner.js';
import { commitTimeOf } from '../events/commit-time.js';
import { DestinationLag, DestinationLagValue } from './destination-lag.js';

/**
 * Buckets of the latencies from commit: 1 ms to 10 minutes, about three a decade, so that p50, p95
 * and p99 read within a bucket's width from a live system's milliseconds to a stuck receiver's minutes.
 */
const FROM_COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

const SINK_STATES = ['active', 'paused', 'failing'] as const;

/**
 * Prometheus metrics of this instance, in a registry of its own (several apps in one process, as
 * in tests, do not collide). Most values are read from their owners when scraped; the owners keep
 * plain counts and know nothing of Prometheus.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(
    drainer: LogDrainer,
    tail: LiveTail,
    subscriptions: SubscriptionsService,
    sinks: SinkEngine,
    watch: CaptureWatch,
    consumers: ConsumersService,
    lag: DestinationLag,
    backfills: BackfillsService,
  ) {
    processMetrics(this.registry);
    captureMetrics(this.registry, drainer);
    captureProblemMetrics(this.registry, watch);
    counterOf(
      this.registry,
      'rowcast_notifications_total',
      'Notifications appended to the log, as this instance followed them (the same on every instance)',
      () => tail.dispatched,
    );
    counterOf(
      this.registry,
      'rowcast_feed_log_reads_total',
      "Reads of the log by this instance's live tail (none while no client or sink here wants notifications)",
      () => tail.reads,
    );
    webSocketMetrics(this.registry, subscriptions);
    sinkMetrics(this.registry, sinks, lag);
    consumerMetrics(this.registry, consumers);
    destinationMetrics(this.registry, lag);
    fromCommitMetrics(this.registry, { drainer, subscriptions, sinks, consumers });
    backfillMetrics(this.registry, backfills);
    this.httpDuration = new Histogram({
      name: 'rowcast_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  /** Express middleware timing every request; labelled by route pattern, never by raw URL. */
  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const end = this.httpDuration.startTimer();
      res.once('finish', () => {
        const route = (req.route as { path?: string } | undefined)?.path;
        end({ method: req.method, route: route ?? 'unmatched', status: String(res.statusCode) });
      });
      next();
    };
  }
}

function processMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'rowcast_' });
  // Gauges named like counters (promtool refuses them); the same counts by type remain as
  // rowcast_nodejs_active_handles, _requests and _resources.
  for (const name of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`rowcast_nodejs_active_${name}_total`);
}

function captureMetrics(registry: Registry, listener: LogDrainer): void {
  // A scrape answers at once from the drainer's background reading (every second): when the
  // database does not answer it, the backlog is NaN and database_up 0.
  gaugeOf(
    registry,
    'rowcast_database_up',
    'Whether the latest background reading of the backlog (every second) answered within 2 s (1) or not (0)',
    () => (listener.backlog().current ? 1 : 0),
  );
  gaugeOf(
    registry,
    'rowcast_journal_backlog',
    'Journal rows committed but not yet drained into notifications, estimated from the highest ids (NaN: database unreachable)',
    () => listener.backlog().current?.backlog ?? NaN,
  );
  gaugeOf(
    registry,
    'rowcast_drain_lag_seconds',
    'Age of the oldest undrained journal row above the highest drained id, 0 when drained (NaN: database unreachable)',
    () => {
      const backlog = listener.backlog().current;
      return backlog ? backlog.lagMs / 1000 : NaN;
    },
  );
  const status = () => listener.getStatus();
  gaugeOf(registry, 'rowcast_listener_connected', 'Whether the listener connection is up (1) or not (0)', () => +status().connected);
  gaugeOf(registry, 'rowcast_listener_draining', 'Whether this instance holds the drain lock (1) or stands by (0)', () => +status().draining);
  counterOf(registry, 'rowcast_listener_reconnects_total', 'Listener connections lost or drains failed, each followed by a reconnect', () => status().reconnects);
  counterOf(registry, 'rowcast_changes_drained_total', 'Journal rows this instance drained into notifications', () => status().drained);
}

/** Per table (table="" for the whole database): what keeps its capture from being complete. */
function captureProblemMetrics(registry: Registry, watch: CaptureWatch): void {
  new Gauge({
    name: 'rowcast_capture_problems',
    help: 'Problems the last check of the capture triggers found, per table (a trigger missing or disabled; table="": the event triggers)',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ table: '' }, 0); // always present: an alert can read 0
      for (const { table } of watch.problems) this.inc({ table: table ?? '' });
    },
  });
}

function webSocketMetrics(registry: Registry, subscriptions: SubscriptionsService): void {
  counterOf(registry, 'rowcast_pushes_total', 'Notification messages sent to WebSocket clients (live and replay)', () => subscriptions.stats.pushed);
  gaugeOf(registry, 'rowcast_websocket_clients', 'WebSocket clients connected to this instance', () => subscriptions.connectedClients);
  counterOf(
    registry,
    'rowcast_slow_clients_disconnected_total',
    'WebSocket clients disconnected for not reading fast enough',
    () => subscriptions.stats.slowDisconnects,
  );
}

/** Per sink, from the instance delivering it (each sink is delivered by one instance at a time). */
function sinkMetrics(registry: Registry, sinks: SinkEngine, lag: DestinationLag): void {
  const labelNames = ['sink', 'kind'] as const;
  const values = (read: (stats: RunnerStats) => number) =>
    sinks
      .stats()
      .filter((stats) => stats.name)
      .map((stats) => ({ labels: { sink: stats.name, kind: stats.kind }, value: read(stats) }));
  const counter = (name: string, help: string, read: (stats: RunnerStats) => number) =>
    labeledCounter(registry, name, help, labelNames, () => values(read));
  // The sinks' rows of rowcast_destination_lag_*, under the names they had first.
  const lagOfSinks = (read: (value: DestinationLagValue) => number) => () =>
    lag
      .values()
      .filter((value) => value.kind !== 'consumer' && value.kind !== 'websocket')
      .map((value) => ({ labels: { sink: value.destination, kind: value.kind }, value: read(value) }));
  labeledGauge(registry, 'rowcast_sink_lag_notifications', 'Notifications in the log after the sink position (delivered by this instance)', labelNames, lagOfSinks((value) => value.events));
  labeledGauge(
    registry,
    'rowcast_sink_lag_seconds',
    'Seconds since the first notification after the sink position committed, 0 when caught up',
    labelNames,
    lagOfSinks((value) => value.seconds),
  );
  new Gauge({
    name: 'rowcast_sink_state',
    help: 'The sink state (1 for the current one of active, paused, failing), by sink (delivered by this instance)',
    labelNames: [...labelNames, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of sinks.stats().filter((each) => each.name)) {
        for (const state of SINK_STATES) this.set({ sink: stats.name, kind: stats.kind, state }, +(stats.state === state));
      }
    },
  });
  counter('rowcast_sink_deliveries_total', 'Notifications the receiver confirmed, by sink (since this instance took it)', (s) => s.delivered);
  counter('rowcast_sink_failures_total', 'Sends the receiver did not confirm, by sink', (s) => s.failures);
  counter('rowcast_sink_retries_total', 'Retries scheduled after a failed send, by sink', (s) => s.retries);
  counter('rowcast_sink_dead_letters_total', 'Notifications given up on after the last retry, by sink', (s) => s.deadLetters);
  new Counter({
    name: 'rowcast_sink_truncated_deliveries_total',
    help: 'Notifications delivered truncated (keys and a link, no rows) because the destination refused them for their size, by sink and why',
    labelNames: [...labelNames, 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stats of sinks.stats().filter((each) => each.name)) {
        for (const [reason, count] of Object.entries(stats.truncated)) this.inc({ sink: stats.name, kind: stats.kind, reason }, count);
      }
    },
  });
  gaugeOf(registry, 'rowcast_sinks_delivering', 'Sinks this instance holds the lease of and delivers', () => sinks.stats().length);
}

/** Per consumer group: counts and lag as read every 5 s (the same on every instance), and what this instance handed out and settled. */
function consumerMetrics(registry: Registry, consumers: ConsumersService): void {
  const byGroup = <S extends { name: string }>(stats: () => S[], read: (each: S) => number) => () =>
    stats().map((each) => ({ labels: { group: each.name }, value: read(each) }));
  const gauge = (name: string, help: string, read: (stats: ConsumerGroupStanding) => number) =>
    labeledGauge(registry, name, help, ['group'], byGroup(() => consumers.standings(), read));
  const counter = (name: string, help: string, read: (stats: ConsumerGroupCounters) => number) =>
    labeledCounter(registry, name, help, ['group'], byGroup(() => consumers.counted(), read));
  gauge('rowcast_consumer_lag_notifications', 'Notifications in the log after the group position (all acknowledged, dead letters or not for it up to there)', (s) => s.lagNotifications);
  gauge('rowcast_consumer_lag_seconds', 'Seconds since the first notification after the group position committed, 0 when caught up', (s) => s.lagSeconds);
  gauge('rowcast_consumer_pending', 'Messages waiting to be leased, by group', (s) => s.pending);
  gauge('rowcast_consumer_in_flight', 'Messages leased and not yet settled, by group', (s) => s.inFlight);
  gauge('rowcast_consumer_dead_letters', 'Dead letters the group holds', (s) => s.deadLetters);
  counter('rowcast_consumer_deliveries_total', 'Messages handed out by receive on this instance, redeliveries included', (s) => s.deliveries);
  counter('rowcast_consumer_redeliveries_total', 'Messages handed out again on this instance (after a nack, an expired lease, a dead letter redelivered)', (s) => s.redeliveries);
  counter('rowcast_consumer_acks_total', 'Messages acknowledged through this instance', (s) => s.acks);
  counter('rowcast_consumer_nacks_total', 'Messages nacked through this instance', (s) => s.nacks);
  counter('rowcast_consumer_terms_total', 'Messages terminated (dead letters at once) through this instance', (s) => s.terms);
}

/** Lag by position of every destination, in one family: sinks, consumer groups and the WebSocket clients (DestinationLag). */
function destinationMetrics(registry: Registry, lag: DestinationLag): void {
  const byDestination = (read: (value: DestinationLagValue) => number) => () =>
    lag.values().map((value) => ({ labels: { kind: value.kind, destination: value.destination }, value: read(value) }));
  labeledGauge(
    registry,
    'rowcast_destination_lag_events',
    "Notifications in the log after the destination's confirmed position (head id − confirmed id), by kind and destination",
    ['kind', 'destination'],
    byDestination((value) => value.events),
  );
  labeledGauge(
    registry,
    'rowcast_destination_lag_seconds',
    'Seconds since the first notification after the confirmed position committed, 0 when caught up, by kind and destination',
    ['kind', 'destination'],
    byDestination((value) => value.seconds),
  );
}

/**
 * Latencies from a change's commit (commitTimeOf) to each step, observed as they happen: into the
 * log (on the draining instance; both times are the database's), pushed live to WebSocket clients
 * (once per notification, however many sockets), confirmed by each sink's receiver (in-order
 * deliveries; redeliveries of old notifications would say nothing of the pipeline) or acknowledged
 * to a consumer group (through the instance that leased the message).
 */
function fromCommitMetrics(
  registry: Registry,
  { drainer, subscriptions, sinks, consumers }: { drainer: LogDrainer; subscriptions: SubscriptionsService; sinks: SinkEngine; consumers: ConsumersService },
): void {
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Histogram<L>({ name, help, labelNames, buckets: FROM_COMMIT_BUCKETS, registers: [registry] });
  const toLog = histogram('rowcast_commit_to_log_seconds', 'From a change committing to its notification in the log (drained), by the database clock', []);
  drainer.onAppended((notifications) => {
    for (const notification of notifications) toLog.observe(Math.max(0, (notification.createdAt.getTime() - commitTimeOf(notification)) / 1000));
  });
  const toPush = histogram('rowcast_commit_to_push_seconds', 'From a change committing to its notification pushed live to WebSocket clients (once per notification)', []);
  subscriptions.onPushed((notification) => toPush.observe(Math.max(0, (Date.now() - commitTimeOf(notification)) / 1000)));
  const toConfirm = histogram(
    'rowcast_commit_to_confirm_seconds',
    "From a change committing to its notification confirmed by a sink's receiver or acknowledged to a consumer group, by kind and destination",
    ['kind', 'destination'],
  );
  sinks.onConfirmed((sink, notifications) => {
    const now = Date.now();
    const labels = { kind: sink.kind, destination: sink.name };
    for (const notification of notifications) toConfirm.observe(labels, Math.max(0, (now - commitTimeOf(notification)) / 1000));
  });
  consumers.onAcked((group, committed) => {
    const now = Date.now();
    for (const at of committed) toConfirm.observe({ kind: 'consumer', destination: group }, Math.max(0, (now - at) / 1000));
  });
}

/**
 * Per backfill running or paused, and the last five to finish (read every 2 s, the same on every
 * instance): how far it is, and its state; and the rows this instance's runner read.
 */
function backfillMetrics(registry: Registry, backfills: BackfillsService): void {
  const labelNames = ['backfill', 'table'] as const;
  const gauge = (name: string, help: string, read: (backfill: Backfill) => number | null) =>
    labeledGauge(registry, name, help, labelNames, () =>
      backfills.standings().flatMap((backfill) => {
        const value = read(backfill);
        return value === null ? [] : [{ labels: { backfill: backfill.id, table: backfill.table }, value }];
      }),
    );
  gauge('rowcast_backfill_rows', 'Rows the backfill read so far (each one a <table>.read notification)', (b) => b.rowsDone);
  gauge('rowcast_backfill_estimate_rows', "Rows the backfill is to read, as the planner estimated them at start (the rows read once it completed)", (b) => b.estimate);
  gauge('rowcast_backfill_rows_per_second', 'Rows read per second since the start or the last resume (0 before the first rows)', (b) => progress(b).rate ?? 0);
  gauge('rowcast_backfill_eta_seconds', 'Seconds left at that rate, for a running backfill whose rate is known', (b) => (b.state === 'running' ? progress(b).etaSeconds : null));
  new Gauge({
    name: 'rowcast_backfill_state',
    help: 'The state of the backfill: 1 for the one it is in (running, paused, cancelled, completed, failed), 0 for the others',
    labelNames: [...labelNames, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const backfill of backfills.standings()) {
        for (const state of BACKFILL_STATES) this.set({ backfill: backfill.id, table: backfill.table, state }, +(state === backfill.state));
      }
    },
  });
  counterOf(registry, 'rowcast_backfill_rows_read_total', "Rows this instance's backfill runner read into the journal (the CLI's chunks not included)", () => backfills.rowsRead);
}

type Labeled<L extends string> = { labels: Record<L, string>; value: number }[];

/** A gauge per label set, reset at each scrape: a sink or group that went away drops out. */
function labeledGauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], values: () => Labeled<L>): void {
  new Gauge({ name, help, labelNames, registers: [registry], collect() {
    this.reset();
    for (const { labels, value } of values()) this.set(labels, value);
  } });
}

/** A counter per label set showing its owner's running total, reset at each scrape (see counterOf). */
function labeledCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], values: () => Labeled<L>): void {
  new Counter({ name, help, labelNames, registers: [registry], collect() {
    this.reset();
    for (const { labels, value } of values()) this.inc(labels, value);
  } });
}

/** A gauge showing its owner's value at each scrape. */
function gaugeOf(registry: Registry, name: string, help: string, read: () => number | Promise<number>): void {
  new Gauge({ name, help, registers: [registry], async collect() {
    this.set(await read());
  } });
}

/**
 * A counter showing its owner's running total at each scrape. prom-client's Counter only adds, so
 * each scrape starts from a reset: adding the total to the last scrape's would count it again.
 */
function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({ name, help, registers: [registry], collect() {
    this.reset();
    this.inc(read());
  } });
}
