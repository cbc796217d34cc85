import { RabbitMqTransport, redactUrl } from './rabbitmq.transport.js';
import type { SinkOf } from '../sink.js';
import { brokerRetryDelay, checkBrokerUrl } from './broker.js';
import { RabbitMqSettingsChangesDto, RabbitMqSettingsDto, RabbitMqSinkDto } from './rabbitmq.dto.js';
import type { SinkDriver } from './sink-driver.js';

export interface RabbitMqConfig {
  exchange: string;
  /** The URL with its password replaced: what the API shows. */
  url: string;
}
export interface RabbitMqSecrets {
  url: string;
}
export type RabbitMqSink = SinkOf<'rabbitmq', RabbitMqConfig, RabbitMqSecrets>;

/** RabbitMQ: a durable topic exchange, persistent messages, publisher confirms. */
export const rabbitMqDriver: SinkDriver<RabbitMqSink, RabbitMqSettingsDto, RabbitMqSettingsChangesDto, RabbitMqSinkDto> = {
  kind: 'rabbitmq',
  dto: { create: RabbitMqSettingsDto, update: RabbitMqSettingsChangesDto, sink: RabbitMqSinkDto },
  minimalSettings: { url: 'amqp://user:password@127.0.0.1:5672' },
  givesUp: false,
  // Pipelined: a larger window keeps more publishes waiting for their confirms at once.
  sendSize: 1000,

  async configure(settings) {
    checkBrokerUrl(settings.url, 'rabbitmq.url', { allowed: true });
    return { config: { url: redactUrl(settings.url), exchange: settings.exchange ?? 'rowcast' }, secrets: { url: settings.url } };
  },

  reconfigure(sink, changes, config) {
    return rabbitMqDriver.configure({ url: changes.url ?? sink.secrets.url, exchange: changes.exchange ?? sink.config.exchange }, config);
  },

  view: (sink) => ({ settings: { url: sink.config.url, exchange: sink.config.exchange } }),

  transport: (sink, _config, logger) => new RabbitMqTransport({ url: sink.secrets.url, exchange: sink.config.exchange }, logger),

  transportIdentity: () => '',

  retryDelay: brokerRetryDelay,
};
