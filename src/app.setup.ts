import { INestApplication } from '@nestjs/common';
import type { Response } from 'express';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { actorMiddleware } from './common/actor/actor.middleware.js';
import { jsonObjectBody } from './common/http/json-body.middleware.js';
import { projectFile } from './common/project-file.js';
import { AppConfig } from './config/config.js';
import { serveDashboard } from './dashboard/dashboard.js';
import { RealtimeIoAdapter } from './realtime/io-adapter.js';

/**
 * What the HTTP server needs beyond the module graph: logger, body limits, the OpenAPI page.
 * main.ts and the e2e tests both call it, so tests exercise the same server.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): INestApplication {
  app.useLogger(app.get(Logger));
  app.useWebSocketAdapter(new RealtimeIoAdapter(app, config));
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: config.bodyLimit });
  app.use(jsonObjectBody);
  app.use(actorMiddleware);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('rowcast')
      .setDescription(
        'Every committed row change in PostgreSQL as a durable, ordered event. ' +
          'Amounts are integers in minor units (cents). ' +
          'Live push over Socket.IO (namespace /events): see the [AsyncAPI document](/docs/asyncapi.yaml).',
      )
      .setVersion('0.1.0')
      .build(),
  );
  // Registered before Swagger UI's /docs routes so that this path is not taken for one of its files.
  app.getHttpAdapter().get('/docs/asyncapi.yaml', (_req, res) => {
    (res as Response).type('application/yaml').sendFile(projectFile('docs/asyncapi.yaml'));
  });
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', customSiteTitle: 'rowcast API' });
  serveDashboard(app);
  return app;
}
