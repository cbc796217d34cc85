import { AppConfig } from '../config/config.js';
import { ensureDatabase, startEmbeddedPostgres } from './embedded-postgres.js';

export const EMBEDDED_DATABASE = 'rowcast';

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  /** The embedded server was started by this process (not by `npm run db` or another app). */
  startedHere: boolean;
  /** Stops the embedded server when this process started it; a no-op for DATABASE_URL. */
  stop(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL in config.embeddedPgDir. */
export async function resolveDatabase(
  config: AppConfig,
  options: { keepSignalHandlers?: boolean; onLog?: (line: string) => void } = {},
): Promise<ResolvedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, startedHere: false, stop: async () => {} };
  const server = await startEmbeddedPostgres({ dataDir: config.embeddedPgDir, ...options });
  await ensureDatabase(server.adminUrl, EMBEDDED_DATABASE);
  return { url: server.urlFor(EMBEDDED_DATABASE), embedded: true, startedHere: server.startedHere, stop: () => server.stop() };
}
