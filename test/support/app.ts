import { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import supertest from 'supertest';
import { AppModule } from '../../src/app.module.js';
import { configureApp } from '../../src/app.setup.js';
import { AppConfig, loadConfig } from '../../src/config/config.js';
import { createTestDatabase, TestDatabase } from './database.js';

export interface TestApp {
  app: NestExpressApplication;
  http: ReturnType<typeof supertest>;
  db: TestDatabase;
  config: AppConfig;
  /** http://127.0.0.1:<port> when started with `listen` (WebSocket tests need a real port). */
  url: string;
  /** Closes the app; drops the database too when this app created it. */
  close(): Promise<void>;
}

/**
 * The whole app module, configured as main.ts configures it, on a database of its own or on
 * `db` (a second instance, or the same one started again).
 */
export async function createTestApp(
  options: { db?: TestDatabase; env?: Record<string, string>; listen?: boolean } = {},
): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const config = loadConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', CAPTURE_TAKEOVER_MS: '200', ...options.env });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ config, databaseUrl: db.url })],
  }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureApp(app, config);
  let url = '';
  if (options.listen) {
    await app.listen(0, '127.0.0.1');
    url = await app.getUrl();
  } else {
    await app.init();
  }
  return {
    url: url.replace('[::1]', '127.0.0.1'),
    app,
    http: supertest(app.getHttpServer()),
    db,
    config,
    close: async () => {
      await app.close();
      if (!options.db) await db.drop();
    },
  };
}
