import type { SinkKind } from '../sink.js';
import { natsDriver } from './nats.driver.js';
import { rabbitMqDriver } from './rabbitmq.driver.js';
import type { SinkDriver } from './sink-driver.js';
import { webhookDriver } from './webhook.driver.js';

/** Every kind's driver: a new kind of sink is a driver added here (and to `Sink`), nothing else. */
const DRIVERS = { webhook: webhookDriver, rabbitmq: rabbitMqDriver, nats: natsDriver } satisfies { [K in SinkKind]: { kind: K } };

export const SINK_DRIVERS: readonly SinkDriver[] = Object.values(DRIVERS) as readonly SinkDriver[];

/**
 * The driver of a kind. Typed for any sink: each driver takes only sinks of its own kind, which is
 * what asking it by the sink's own `kind` ensures (the one place that needs saying to TypeScript).
 */
export function driverFor(kind: SinkKind): SinkDriver {
  return DRIVERS[kind] as unknown as SinkDriver;
}

/** What the API shows of a sink: one response class per kind. */
export type SinkView = { [K in SinkKind]: InstanceType<(typeof DRIVERS)[K]['dto']['sink']> }[SinkKind];
