import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PgListener } from '../capture/pg-listener.service.js';
import { NotificationsAppendedEvent } from '../events/event-catalog.js';
import { SubscriptionsService } from '../realtime/subscriptions.service.js';
import { SinkEngine } from '../sinks/sink-engine.service.js';
import { RunnerStats } from '../sinks/sink-runner.js';

/**
 * Prometheus metrics of this instance, in a registry of its own (several apps in one process, as
 * in tests, do not collide). Most values are read from their owners when scraped; the owners keep
 * plain counts and know nothing of Prometheus.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly notifications: Counter;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(
    listener: PgListener,
    subscriptions: SubscriptionsService,
    sinks: SinkEngine,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'rowcast_' });
    // Gauges named like counters (promtool refuses them); the same counts by type remain as
    // rowcast_nodejs_active_handles, _requests and _resources.
    for (const name of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`rowcast_nodejs_active_${name}_total`);
    // A scrape must answer when the database does not: the backlog is then NaN and database_up 0.
    const backlog = () => listener.backlog();
    new Gauge({
      name: 'rowcast_database_up',
      help: 'Whether the backlog query of this scrape answered within 2 s (1) or not (0)',
      registers,
      async collect() {
        this.set((await backlog()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'rowcast_journal_backlog',
      help: 'Journal rows committed but not yet drained into notifications (NaN: database unreachable)',
      registers,
      async collect() {
        this.set((await backlog())?.backlog ?? NaN);
      },
    });
    new Gauge({
      name: 'rowcast_drain_lag_seconds',
      help: 'Age of the oldest undrained journal row, 0 when drained (NaN: database unreachable)',
      registers,
      async collect() {
        const value = await backlog();
        this.set(value ? value.lagMs / 1000 : NaN);
      },
    });
    const status = () => listener.getStatus();
    gaugeOf('rowcast_listener_connected', 'Whether the listener connection is up (1) or not (0)', () => +status().connected);
    gaugeOf('rowcast_listener_draining', 'Whether this instance holds the drain lock (1) or stands by (0)', () => +status().draining);
    counterOf('rowcast_listener_reconnects_total', 'Listener connections lost or drains failed, each followed by a reconnect', () => status().reconnects);
    counterOf('rowcast_changes_drained_total', 'Journal rows this instance drained into notifications', () => status().drained);
    this.notifications = new Counter({
      name: 'rowcast_notifications_total',
      help: 'Notifications appended to the log, as this instance read them (the same on every instance)',
      registers,
    });
    counterOf('rowcast_pushes_total', 'Notification messages sent to WebSocket clients (live and replay)', () => subscriptions.stats.pushed);
    gaugeOf('rowcast_websocket_clients', 'WebSocket clients connected to this instance', () => subscriptions.connectedClients);
    counterOf(
      'rowcast_slow_clients_disconnected_total',
      'WebSocket clients disconnected for not reading fast enough',
      () => subscriptions.stats.slowDisconnects,
    );
    // Per sink, from the instance delivering it (each sink is delivered by one instance at a time).
    const sinkLabels = ['sink', 'kind'] as const;
    const perSink = (read: (stats: RunnerStats, logEnd: bigint) => number) =>
      function (this: Gauge<'sink' | 'kind'> | Counter<'sink' | 'kind'>) {
        this.reset();
        const logEnd = sinks.logEnd;
        for (const stats of sinks.stats().filter((s) => s.name)) {
          const labels = { sink: stats.name, kind: stats.kind };
          if (this instanceof Gauge) this.set(labels, read(stats, logEnd));
          else this.inc(labels, read(stats, logEnd));
        }
      };
    new Gauge({
      name: 'rowcast_sink_lag_notifications',
      help: 'Notifications in the log after the sink position (delivered by this instance)',
      labelNames: sinkLabels,
      registers,
      collect: perSink((stats, logEnd) => Math.max(0, Number(logEnd - stats.position))),
    });
    new Gauge({
      name: 'rowcast_sink_lag_seconds',
      help: 'Age of the oldest notification the sink has yet to deliver, 0 when caught up',
      labelNames: sinkLabels,
      registers,
      collect: perSink((stats) => (stats.oldestPendingAt ? Math.max(0, (Date.now() - stats.oldestPendingAt.getTime()) / 1000) : 0)),
    });
    const sinkCounter = (name: string, help: string, read: (stats: RunnerStats) => number) =>
      new Counter({ name, help, labelNames: sinkLabels, registers, collect: perSink(read) });
    sinkCounter('rowcast_sink_deliveries_total', 'Notifications the receiver confirmed, by sink (since this instance took it)', (s) => s.delivered);
    sinkCounter('rowcast_sink_failures_total', 'Sends the receiver did not confirm, by sink', (s) => s.failures);
    sinkCounter('rowcast_sink_retries_total', 'Retries scheduled after a failed send, by sink', (s) => s.retries);
    sinkCounter('rowcast_sink_dead_letters_total', 'Notifications given up on after the last retry, by sink', (s) => s.deadLetters);
    gaugeOf('rowcast_sinks_delivering', 'Sinks this instance holds the lease of and delivers', () => sinks.stats().length);
    this.httpDuration = new Histogram({
      name: 'rowcast_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });

    function gaugeOf(name: string, help: string, read: () => number): void {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    }
    function counterOf(name: string, help: string, read: () => number): void {
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(read()); } });
    }
  }

  @OnEvent(NotificationsAppendedEvent.eventName)
  countNotifications(event: NotificationsAppendedEvent): void {
    this.notifications.inc(event.notifications.length);
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
