import type { LoggerOptions } from 'pino';
import type { AppConfig } from '../../config/config.js';

/**
 * Nest's start-up chatter (a line per module, route and gateway): logged at debug, not info, so
 * that at the default level the ready line ends the start-up, in JSON as on a terminal.
 */
const CHATTER = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication', 'WebSocketsController']);

/**
 * pino's options for the service and its request log: JSON lines, or on a terminal (LOG_FORMAT
 * pretty, the default there) one short line per message.
 */
export function loggerOptions(config: Pick<AppConfig, 'logLevel' | 'logFormat'>): LoggerOptions {
  const hooks: LoggerOptions['hooks'] = {
    logMethod(args, method, level) {
      const [first] = args as unknown[];
      const context = typeof first === 'object' && first !== null ? (first as { context?: unknown }).context : undefined;
      // Nest logs it at info (its `log`); the hook runs again at debug, which passes.
      if (level === 30 && typeof context === 'string' && CHATTER.has(context)) return (this.debug as (...a: unknown[]) => void).apply(this, args);
      method.apply(this, args);
    },
  };
  if (config.logFormat === 'json') return { level: config.logLevel, hooks };
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
    hooks,
  };
}
