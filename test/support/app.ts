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
  close(): Promise<void>;
}

/** The whole app module on a database of its own, configured as main.ts configures it. */
export async function createTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', ...env });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ config, databaseUrl: db.url })],
  }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: false });
  configureApp(app, config);
  await app.init();
  return {
    app,
    http: supertest(app.getHttpServer()),
    db,
    config,
    close: async () => {
      await app.close();
      await db.drop();
    },
  };
}
