import { readFileSync } from 'node:fs';
import { INestApplication } from '@nestjs/common';
import type { Response } from 'express';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { actorMiddleware } from './common/actor/actor.middleware.js';
import { refuseWhileClosing, ShutdownState } from './common/shutdown/shutdown.js';
import { httpErrorsAsExceptions } from './common/http/http-errors.middleware.js';
import { jsonObjectBody, singleQueryValues } from './common/http/json-body.middleware.js';
import { refineDocument } from './common/http/openapi.js';
import { projectFile } from './common/project-file.js';
import { AppConfig } from './config/config.js';
import { MetricsService } from './metrics/metrics.service.js';
import { serveDashboard } from './dashboard/dashboard.js';
import { RealtimeIoAdapter } from './realtime/io-adapter.js';
import { outgoingWebhooks, WEBHOOK_MODELS } from './sinks/drivers/webhook.openapi.js';

/**
 * What the HTTP server needs beyond the module graph: logger, security headers, CORS, body
 * limits, the OpenAPI page.
 * main.ts and the e2e tests both call it, so tests exercise the same server.
 */
export function configureApp(app: NestExpressApplication, config: AppConfig): INestApplication {
  app.useLogger(app.get(Logger));
  app.use(app.get(MetricsService).httpMiddleware());
  app.use(refuseWhileClosing(app.get(ShutdownState)));
  app.useWebSocketAdapter(new RealtimeIoAdapter(app, config));
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        // The dashboard and Swagger UI load only their own files; plain HTTP deployments must
        // not have those loads rewritten to https.
        directives: { 'upgrade-insecure-requests': null },
      },
    }),
  );
  // Empty: no CORS headers at all, so only same-origin pages (the dashboard) can call from a browser.
  if (config.corsOrigins.length) app.enableCors({ origin: config.corsOrigins, exposedHeaders: ['Retry-After'] });
  // Not strict: `null` or `"text"` parse, so that jsonObjectBody says what is wrong with them
  // (the same message as for an array) instead of the parser's "Unexpected token".
  app.useBodyParser('json', { limit: config.bodyLimit, strict: false });
  app.use(jsonObjectBody);
  app.use(singleQueryValues);
  app.use(actorMiddleware);
  const document = refineDocument(SwaggerModule.createDocument(app, documentConfig(), { extraModels: WEBHOOK_MODELS }));
  // Registered before Swagger UI's /docs routes so that this path is not taken for one of its files.
  app.getHttpAdapter().get('/docs/asyncapi.yaml', (_req, res) => {
    (res as Response).type('application/yaml').sendFile(projectFile('docs/asyncapi.yaml'));
  });
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', customSiteTitle: 'rowcast API' });
  serveDashboard(app);
  app.use(httpErrorsAsExceptions);
  return app;
}

/** The document's own parts; the routes and their schemas come from the controllers and DTOs. */
function documentConfig(): Omit<OpenAPIObject, 'paths'> {
  const pkg = JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as { version: string; license: string };
  const config = new DocumentBuilder()
    // 3.1: for `webhooks`, the request rowcast sends (receivers generate their types from it).
    .setOpenAPIVersion('3.1.0')
    .setTitle('rowcast')
    .setDescription(
      'Every committed row change in PostgreSQL as a durable, ordered event. ' +
        'Amounts are integers in minor units (cents). ' +
        'Live push over Socket.IO (namespace /events): see the [AsyncAPI document](/docs/asyncapi.yaml). ' +
        'What a webhook receiver gets is under `webhooks`.',
    )
    .setVersion(pkg.version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key from `npm run keys -- create`' })
    .build();
  // UNLICENSED (package.json): no terms to link to, so no url (setLicense would write `url: undefined`).
  return { ...config, info: { ...config.info, license: { name: pkg.license } }, webhooks: outgoingWebhooks() };
}
