import type { LoggerOptions } from 'pino';
import type { AppConfig } from '../../config/config.js';

/** Nest's start-up chatter (a line per module, route and gateway): JSON logs keep it, a terminal does not need it. */
const CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'WebSocketsController']);

/**
 * pino's options for the service and its request log: JSON lines, or on a terminal (LOG_FORMAT
 * pretty, the default there) one short line per message, without Nest's start-up chatter.
 */
export function loggerOptions(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): LoggerOptions {
  if (config.logFormat === 'json') return { level: config.logLevel };
  return {
    level: config.logLevel,
    transport: {
      target: 'pino-pretty',
      options: {
        colorize: true,
        translateTime: 'HH:MM:ss',
        ignore: 'pid,hostname,name,context,req,res,responseTime,key',
        singleLine: true,
      },
    },
    hooks: {
      logMethod(args, method, level) {
        const [first] = args as unknown[];
        const context = typeof first === 'object' && first !== null ? (first as { context?: unknown }).context : undefined;
        if (level <= 30 && typeof context === 'string' && CHATTER.has(context)) return;
        method.apply(this, args);
      },
    },
  };
}
