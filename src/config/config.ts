import 'reflect-metadata';
import { applyDecorators } from '@nestjs/common';
import { plainToInstance, Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import path from 'node:path';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;

/** An integer variable within [min, max], with one message for every way it can be wrong. */
function IntVar(min: number, max: number): PropertyDecorator {
  const message = `must be an integer from ${min} to ${max}`;
  return applyDecorators(Transform(toInt), IsInt({ message }), Min(min, { message }), Max(max, { message }));
}

/** Durations such as 250ms, 5s, 30m, 2h. */
const DURATION = '\\d{1,9}(ms|s|m|h)';
const DURATIONS = new RegExp(`^${DURATION}(,\\s*${DURATION}){0,19}$`);

function milliseconds(duration: string): number {
  const [, value, unit] = /^(\d+)(ms|s|m|h)$/.exec(duration.trim())!;
  return Number(value) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
}

/**
 * The environment as the service reads it; every variable is documented in README.md's table
 * (config.spec.ts holds the table's names and defaults to this class and loadConfig).
 */
export class EnvironmentVariables {
  @IsOptional()
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'must be a postgres:// or postgresql:// URL' })
  DATABASE_URL?: string;

  @IsOptional()
  @IntVar(0, 65535)
  PORT?: number;

  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9.:\-[\]]+$/, { message: 'must be a host name or IP address' })
  HOST?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL?: LogLevel;

  @IsOptional()
  @IsIn(['pretty', 'json'], { message: 'must be pretty or json' })
  LOG_FORMAT?: 'pretty' | 'json';

  @IsOptional()
  @IsString()
  EMBEDDED_PG_DIR?: string;

  @IsOptional()
  @IntVar(1, 100)
  DB_POOL_SIZE?: number;

  @IsOptional()
  @Matches(/^\d+(b|kb|mb)$/i, { message: 'must be a size such as 100kb or 1mb' })
  BODY_LIMIT?: string;

  @IsOptional()
  @IntVar(1, 3650)
  RETENTION_DAYS?: number;

  @IsOptional()
  @IntVar(10, 10000)
  CAPTURE_BATCH_SIZE?: number;

  @IsOptional()
  @IntVar(50, 60000)
  CAPTURE_TAKEOVER_MS?: number;

  @IsOptional()
  @IntVar(1024, 268435456)
  CAPTURE_BATCH_BYTES?: number;

  @IsOptional()
  @IntVar(0, 1000)
  CAPTURE_DRAIN_INTERVAL_MS?: number;

  @IsOptional()
  @IntVar(100, 30000)
  CAPTURE_CHECK_INTERVAL_MS?: number;

  @IsOptional()
  @IntVar(100, 300000)
  WS_PING_INTERVAL_MS?: number;

  @IsOptional()
  @IntVar(100, 300000)
  WS_PING_TIMEOUT_MS?: number;

  @IsOptional()
  @IntVar(0, 1000000)
  RATE_LIMIT?: number;

  @IsOptional()
  @IntVar(0, 1000000)
  WS_RATE_LIMIT?: number;

  @IsOptional()
  @IntVar(1, 100000)
  WS_MAX_CONNECTIONS_PER_KEY?: number;

  @IsOptional()
  @IntVar(1, 1000)
  WS_MAX_SUBSCRIPTIONS?: number;

  @IsOptional()
  @Matches(/^(\*|https?:\/\/[^\s,/]+(,\s*https?:\/\/[^\s,/]+)*)$/, {
    message: 'must be * or a comma-separated list of origins such as https://app.example.com',
  })
  CORS_ORIGINS?: string;

  @IsOptional()
  @IntVar(1000, 600000)
  SHUTDOWN_TIMEOUT_MS?: number;

  @IsOptional()
  @IntVar(100, 120000)
  WEBHOOK_TIMEOUT_MS?: number;

  @IsOptional()
  @Matches(DURATIONS, { message: 'must be a comma-separated list of durations such as 5s,5m,30m,2h (ms, s, m or h)' })
  WEBHOOK_RETRY_SCHEDULE?: string;

  @IsOptional()
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  WEBHOOK_ALLOW_PRIVATE?: string;

  @IsOptional()
  @IntVar(500, 600000)
  SINK_LEASE_MS?: number;
}

export interface AppConfig {
  /** Unset means: start the embedded PostgreSQL. */
  databaseUrl: string | undefined;
  port: number;
  host: string;
  logLevel: LogLevel;
  /** Short human-readable lines on a terminal, JSON lines otherwise (or when asked). */
  logFormat: 'pretty' | 'json';
  embeddedPgDir: string;
  dbPoolSize: number;
  bodyLimit: string;
  /** Age after which notifications and drained journal rows are deleted. */
  retentionDays: number;
  capture: {
    /** Journal rows per drain transaction (memory stays bounded by it)... */
    batchSize: number;
    /** ...and stored bytes of their rows (a batch has at least one row, however large). */
    batchBytes: number;
    /** How often a standby instance tries to take the drain lock. */
    takeoverIntervalMs: number;
    /**
     * While changes keep coming, drain transactions start at most this often: each costs round
     * trips and a commit whatever it carries, so under load fewer, larger batches leave the
     * writers more of the machine, for at most this much latency.
     */
    drainIntervalMs: number;
    /** How often every captured table's triggers are checked (capture.drift()). */
    checkIntervalMs: number;
    /** Idle, the drainer looks again this long after asking writers to wake it (a writer that read the flag just before)... */
    flagRaceMs: number;
    /** ...then sleeps on LISTEN at most this long: bounds the latency of a commit that raced the flag. */
    safetyPollMs: number;
    maxBackoffMs: number;
  };
  websocket: {
    /** Heartbeat: a ping this often; a peer that has not answered within the timeout is dropped. */
    pingIntervalMs: number;
    pingTimeoutMs: number;
    maxConnectionsPerKey: number;
    maxSubscriptionsPerSocket: number;
  };
  limits: {
    /** HTTP requests per minute per API key (per address while no key exists); 0: unlimited. */
    restPerMinute: number;
    /** WebSocket messages (subscribe, unsubscribe) per minute per key; 0: unlimited. */
    wsPerMinute: number;
  };
  /** Origins allowed to call the API and the WebSocket from a browser; empty: same origin only. */
  corsOrigins: string[] | '*';
  /** A shutdown that takes longer than this is cut short (exit code 1). */
  shutdownTimeoutMs: number;
  sinks: {
    /** An instance delivers a sink while it holds the sink's lease; a lease not renewed this long is taken over. */
    leaseMs: number;
    /** Broker sinks retry without end, backing off up to this long. */
    maxBackoffMs: number;
    webhook: {
      timeoutMs: number;
      /** Waits before the 2nd, 3rd … attempt; after the last one a notification is dead-lettered. */
      retryScheduleMs: number[];
      /** Loopback, private and link-local targets are refused unless this is set. */
      allowPrivate: boolean;
    };
  };
}

/** One line, naming the variable, for a bad value; thrown by loadConfig. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Validates the environment into the one typed config object. Works outside Nest (migration CLI,
 * tests, scripts) as well as inside it (ConfigModule provides the same object).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = plainToInstance(EnvironmentVariables, raw, { excludeExtraneousValues: false });
  const [error] = validateSync(parsed, { skipMissingProperties: false, forbidUnknownValues: false });
  if (error) {
    const reason = Object.values(error.constraints ?? {})[0] ?? 'is invalid';
    throw new ConfigError(`Invalid configuration: ${error.property} ${reason} (got ${JSON.stringify(error.value)})`);
  }
  return {
    databaseUrl: parsed.DATABASE_URL,
    port: parsed.PORT ?? 3000,
    host: parsed.HOST ?? (parsed.DATABASE_URL ? '0.0.0.0' : '127.0.0.1'),
    logLevel: parsed.LOG_LEVEL ?? 'info',
    logFormat: parsed.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    embeddedPgDir: path.resolve(parsed.EMBEDDED_PG_DIR ?? '.data/postgres'),
    dbPoolSize: parsed.DB_POOL_SIZE ?? 10,
    bodyLimit: parsed.BODY_LIMIT ?? '1mb',
    retentionDays: parsed.RETENTION_DAYS ?? 30,
    capture: {
      batchSize: parsed.CAPTURE_BATCH_SIZE ?? 1000,
      batchBytes: parsed.CAPTURE_BATCH_BYTES ?? 16 * 1024 * 1024,
      takeoverIntervalMs: parsed.CAPTURE_TAKEOVER_MS ?? 2000,
      drainIntervalMs: parsed.CAPTURE_DRAIN_INTERVAL_MS ?? 1,
      checkIntervalMs: parsed.CAPTURE_CHECK_INTERVAL_MS ?? 15_000,
      flagRaceMs: 2,
      safetyPollMs: 100,
      maxBackoffMs: 10_000,
    },
    websocket: {
      pingIntervalMs: parsed.WS_PING_INTERVAL_MS ?? 10_000,
      pingTimeoutMs: parsed.WS_PING_TIMEOUT_MS ?? 5_000,
      maxConnectionsPerKey: parsed.WS_MAX_CONNECTIONS_PER_KEY ?? 500,
      maxSubscriptionsPerSocket: parsed.WS_MAX_SUBSCRIPTIONS ?? 20,
    },
    limits: {
      restPerMinute: parsed.RATE_LIMIT ?? 6000,
      wsPerMinute: parsed.WS_RATE_LIMIT ?? 600,
    },
    corsOrigins: parsed.CORS_ORIGINS === '*' ? '*' : (parsed.CORS_ORIGINS?.split(',').map((origin) => origin.trim()) ?? []),
    shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT_MS ?? 10_000,
    sinks: {
      leaseMs: parsed.SINK_LEASE_MS ?? 15_000,
      maxBackoffMs: 30_000,
      webhook: {
        timeoutMs: parsed.WEBHOOK_TIMEOUT_MS ?? 10_000,
        // Standard Webhooks' suggested schedule: 27 hours from the first attempt to the last.
        retryScheduleMs: (parsed.WEBHOOK_RETRY_SCHEDULE ?? '5s,5m,30m,2h,5h,10h,10h').split(',').map(milliseconds),
        allowPrivate: parsed.WEBHOOK_ALLOW_PRIVATE === 'true',
      },
    },
  };
}
