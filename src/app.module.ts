import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { LoggerModule } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { AuthModule } from './auth/auth.module.js';
import { BackfillsModule } from './backfills/backfills.module.js';
import type { AuthenticatedRequest } from './auth/require-scope.decorator.js';
import { CaptureModule } from './capture/capture.module.js';
import { ExceptionsFilter } from './common/http/exceptions.filter.js';
import { loggerOptions } from './common/logging/logger-options.js';
import { ShutdownModule } from './common/shutdown/shutdown.js';
import { AppConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { ConsumersModule } from './consumers/consumers.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { InvoicesModule } from './invoices/invoices.module.js';
import { LogModule } from './log/log.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { TraceModule } from './trace/trace.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { SinksModule } from './sinks/sinks.module.js';

export interface AppModuleOptions {
  config: AppConfig;
  /** Resolved before Nest starts: DATABASE_URL, or the embedded server's URL. */
  databaseUrl: string;
  /** The process's logger (main.ts): one output, so lines keep their order. Absent: one of its own. */
  logger?: PinoLogger;
}

/** POST /consumers/:name/receive, ack, nack, extend, term. */
const CONSUMING_ROUTE = /^\/consumers\/[^/?]+\/(receive|ack|nack|extend|term)(\?|$)/;

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl, logger }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ ...config, databaseUrl }),
        ShutdownModule,
        LoggerModule.forRoot({
          pinoHttp: {
            ...(logger ? { logger } : loggerOptions(config)),
            // One line per request, without bodies or credentials.
            redact: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'],
            customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
            // A worker pool's receives and settles are a queue's traffic (thousands a second, each a
            // write to the log's output on the request's path): at debug when they succeed, as a
            // sink's deliveries are; /metrics counts them. Failures are logged as every request.
            customLogLevel: (req, res, error) => (!error && res.statusCode < 400 && CONSUMING_ROUTE.test(req.url ?? '') ? 'debug' : 'info'),
            customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
            // What the line is for: method, URL, status, time (responseTime) and the caller's key
            // name; not every header (they were most of each line, and some are secrets).
            serializers: {
              req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            customProps: (req) => {
              const key = (req as AuthenticatedRequest).apiKey?.name;
              return key ? { key } : {};
            },
          },
        }),
        DatabaseModule.forRoot(databaseUrl, config.dbPoolSize),
        EventEmitterModule.forRoot({ wildcard: false }),
        AuthModule,
        InvoicesModule,
        LogModule,
        CaptureModule,
        NotificationsModule,
        TraceModule,
        RealtimeModule,
        SinksModule,
        ConsumersModule,
        BackfillsModule,
        HealthModule,
        MetricsModule,
      ],
      providers: [
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            forbidUnknownValues: true,
            transform: true,
            stopAtFirstError: true,
            validationError: { target: false, value: false },
          }),
        },
        { provide: APP_FILTER, useClass: ExceptionsFilter },
      ],
    };
  }
}
