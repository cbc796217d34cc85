import { NatsTransport, type SubjectVocabulary } from './nats.transport.js';
import type { SinkOf } from '../sink.js';
import { brokerRetryDelay, checkBrokerUrl } from './broker.js';
import { NatsSettingsChangesDto, NatsSettingsDto, NatsSinkDto } from './nats.dto.js';
import type { SinkDriver } from './sink-driver.js';

export interface NatsConfig {
  servers: string[];
  subjectPrefix: string;
  /**
   * Set on every sink: `events` on those created since 0.2.0, `legacy` on those that were there
   * before (migration NatsSubjectVocabulary), whose consumers subscribe to the old subjects.
   */
  subjectVocabulary: SubjectVocabulary;
  stream: string;
  user?: string;
}
export interface NatsSecrets {
  pass?: string;
  token?: string;
}
export type NatsSink = SinkOf<'nats', NatsConfig, NatsSecrets>;

/** How long creating a sink may wait for its server to create or find the stream. */
const PREPARE_TIMEOUT_MS = 5_000;

/**
 * A stored sink's subject vocabulary. A row without one was written by an instance older than
 * 0.2.0 (during a rolling upgrade, after the migration marked the sinks already there): its
 * consumers were told the old subjects too.
 */
function subjectVocabularyOf(config: NatsConfig): SubjectVocabulary {
  return config.subjectVocabulary ?? 'legacy';
}

/** NATS JetStream: subjects `<subjectPrefix>.<event>`, advanced on the stream's PubAck. */
export const natsDriver: SinkDriver<NatsSink, NatsSettingsDto, NatsSettingsChangesDto, NatsSinkDto> = {
  kind: 'nats',
  dto: { create: NatsSettingsDto, update: NatsSettingsChangesDto, sink: NatsSinkDto },
  minimalSettings: { servers: ['nats://127.0.0.1:4222'] },
  givesUp: false,
  // Pipelined: a larger window keeps more publishes waiting for their acks at once.
  sendSize: 1000,

  async configure({ servers, subjectPrefix, subjectVocabulary, stream, user, pass, token }) {
    for (const server of servers) checkBrokerUrl(server, 'nats.servers', { allowed: false, instead: 'give nats.user and nats.pass, or nats.token' });
    return {
      config: {
        servers,
        subjectPrefix: subjectPrefix ?? 'rowcast',
        subjectVocabulary: subjectVocabulary ?? 'events',
        stream: stream ?? 'ROWCAST',
        ...(user ? { user } : {}),
      },
      secrets: { pass, token },
    };
  },

  reconfigure(sink, changes, config) {
    const credentials = changes.user !== undefined || changes.pass !== undefined || changes.token !== undefined;
    return natsDriver.configure(
      {
        servers: changes.servers ?? sink.config.servers,
        subjectPrefix: changes.subjectPrefix ?? sink.config.subjectPrefix,
        subjectVocabulary: changes.subjectVocabulary ?? subjectVocabularyOf(sink.config),
        stream: changes.stream ?? sink.config.stream,
        ...(credentials ? { user: changes.user, pass: changes.pass, token: changes.token } : { user: sink.config.user, ...sink.secrets }),
      },
      config,
    );
  },

  async prepare(settings, _config, logger) {
    const transport = new NatsTransport({ ...settings.config, ...settings.secrets, timeoutMs: PREPARE_TIMEOUT_MS }, logger);
    try {
      return await transport.prepare();
    } finally {
      await transport.close();
    }
  },

  view: (sink) => ({ settings: { ...sink.config, subjectVocabulary: subjectVocabularyOf(sink.config) } }),

  transport: (sink, _config, logger) => {
    const { servers, subjectPrefix, stream, user } = sink.config;
    return new NatsTransport({ servers, subjectPrefix, subjectVocabulary: subjectVocabularyOf(sink.config), stream, user, ...sink.secrets }, logger);
  },

  transportIdentity: () => '',

  retryDelay: brokerRetryDelay,
};
