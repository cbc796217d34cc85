import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogDrainer } from '../../src/log/log-drainer.js';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

interface Operation {
  summary?: string;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
  security?: Record<string, string[]>[];
}

describe('OpenAPI and health', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('serves the Swagger UI page with its own assets (no CDN)', async () => {
    const page = await t.http.get('/docs').redirects(1).expect(200);
    expect(page.type).toBe('text/html');
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect(asset).not.toMatch(/^(https?:)?\/\//);
      await t.http.get(new URL(asset, 'http://localhost/docs').pathname).expect(200);
    }
    const init = await t.http.get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toContain('"/invoices"');
  });

  it('documents every route with a summary, its response type and its errors', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const operations = Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(
      ([path, methods]) => Object.entries(methods).map(([method, op]) => ({ route: `${method} ${path}`, op })),
    );
    expect(operations.map((o) => o.route).sort()).toEqual(
      [
        'delete /invoices/{id}',
        'delete /invoices/{id}/items/{itemId}',
        'get /health',
        'get /invoices',
        'get /invoices/{id}',
        'get /metrics',
        'get /notifications',
        'get /notifications/{id}',
        'get /notifications/{id}/deliveries',
        'get /tables',
        'patch /invoices/{id}',
        'patch /invoices/{id}/items/{itemId}',
        'post /invoices',
        'post /invoices/{id}/items',
        'post /webhooks',
        'get /webhooks',
        'get /webhooks/{id}',
        'patch /webhooks/{id}',
        'delete /webhooks/{id}',
        'post /webhooks/{id}/resume',
        'post /webhooks/{id}/rotate-secret',
        'post /webhooks/{id}/redeliver',
        'get /webhooks/{id}/deliveries',
        'get /webhooks/{id}/dead-letters',
        'post /sinks',
        'get /sinks',
        'get /sinks/{id}',
        'patch /sinks/{id}',
        'delete /sinks/{id}',
        'post /sinks/{id}/resume',
        'post /sinks/{id}/redeliver',
        'get /sinks/{id}/deliveries',
        'get /sinks/{id}/dead-letters',
        'post /consumers',
        'get /consumers',
        'get /consumers/{name}',
        'patch /consumers/{name}',
        'delete /consumers/{name}',
        'post /consumers/{name}/receive',
        'post /consumers/{name}/ack',
        'post /consumers/{name}/nack',
        'post /consumers/{name}/extend',
        'post /consumers/{name}/term',
        'get /consumers/{name}/dead-letters',
        'post /consumers/{name}/dead-letters/redeliver',
        'delete /consumers/{name}/dead-letters',
        'post /consumers/{name}/seek',
        'post /backfills',
        'get /backfills',
        'get /backfills/{id}',
        'post /backfills/{id}/pause',
        'post /backfills/{id}/resume',
        'post /backfills/{id}/cancel',
      ].sort(),
    );
    for (const { route, op } of operations) {
      expect(op.summary, route).toMatch(/\w{3,}/);
      const codes = Object.keys(op.responses);
      const success = codes.find((code) => code.startsWith('2'));
      expect(success, route).toBeDefined();
      const content = op.responses[success!].content;
      if (success !== '204') expect((content?.['application/json'] ?? content?.['text/plain'])?.schema, route).toBeDefined();
      const errors = codes.filter((code) => /^[45]/.test(code));
      expect(errors.length, route).toBeGreaterThan(0);
      // Every route but /health needs a key once keys exist, and says so.
      if (route !== 'get /health') {
        expect(op.security, route).toEqual([{ bearer: [] }]);
        expect(codes, route).toEqual(expect.arrayContaining(['401', '403', '429']));
      }
    }
  });

  it("passes Redocly's recommended rules with no error", async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'docs-json.json', config });
    const errors = problems.filter((problem) => problem.severity === 'error').map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`);
    expect(errors).toEqual([]);
  });

  it('documents what every route shares: 415 for a body, rate-limit headers, X-Actor on writes, uuid ids, opaque keys', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toBe('JWT');
    expect(Object.keys(doc.paths['/invoices'].post.responses)).toContain('415');
    expect(Object.keys(doc.paths['/invoices'].post.responses['429'].headers).sort()).toEqual(['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']);
    expect(doc.paths['/invoices'].post.parameters).toContainEqual(expect.objectContaining({ name: 'X-Actor', in: 'header' }));
    expect(doc.paths['/invoices/{id}'].get.parameters[0].schema).toEqual({ type: 'string', format: 'uuid' });
    expect(doc.components.schemas.InvoiceDto.properties.id.format).toBe('uuid');
    expect(doc.components.schemas.NotificationPayloadDto.properties.changedAt.format).toBe('date-time');
    expect(doc.paths['/health'].get.security).toEqual([]);
    expect(doc.components.schemas.CreateWebhookDto.properties.events).toMatchObject({ type: 'array', minItems: 1 });
  });

  it('is OpenAPI 3.1 with a license, null as a type, and the request a webhook receiver gets', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.license).toEqual({ name: 'UNLICENSED' });
    // 3.1 has no `nullable`: generators read null from the type.
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
    expect(doc.components.schemas.NotificationPageDto.properties.nextCursor.type).toEqual(['string', 'null']);
    expect(doc.components.schemas.SchemaChangeDto.properties.after.anyOf).toEqual([{ $ref: '#/components/schemas/TableShapeDto' }, { type: 'null' }]);

    const post = doc.webhooks.notification.post;
    expect(post.requestBody.content['application/json'].schema.anyOf).toEqual([
      { $ref: '#/components/schemas/NotificationDto' },
      { $ref: '#/components/schemas/TruncatedNotificationDto' },
    ]);
    expect(doc.components.schemas.TruncatedNotificationDto.required).toEqual(expect.arrayContaining(['id', 'event', 'truncated', 'href', 'payload']));
    expect(Object.keys(doc.components.schemas.TruncatedNotificationPayloadDto.properties)).not.toContain('new');
    const headers = (post.parameters as { name: string; in: string; required: boolean }[]).filter((p) => p.in === 'header');
    expect(headers.map((h) => h.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'user-agent']);
    expect(headers.every((h) => h.required)).toBe(true);
    expect(Object.keys(post.responses).sort()).toEqual(['2XX', '413', 'default']);
  });

  it('asks no body of rotate-secret', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const body = doc.paths['/webhooks/{id}/rotate-secret'].post.requestBody;
    expect(body.required).toBe(false);
    expect(body.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RotateSecretDto' });
  });

  it('describes the DTOs from their validation rules', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const { schemas } = doc.components;
    expect(schemas.CreateInvoiceDto.required).toEqual(['invoiceNo']);
    expect(schemas.CreateInvoiceDto.properties.invoiceNo).toMatchObject({ type: 'string', maxLength: 64 });
    expect(schemas.CreateInvoiceItemDto.properties.quantity).toMatchObject({ type: 'integer', minimum: 1 });
    expect(schemas.InvoiceDto.properties).toHaveProperty('totalAmount');
    expect(schemas.ErrorResponseDto.required).toEqual(expect.arrayContaining(['statusCode', 'error', 'message']));
    // A sink is one of its kinds, told apart by `kind`, each with its own settings.
    const sink = doc.paths['/sinks/{id}'].get.responses['200'].content['application/json'].schema;
    expect(sink.discriminator).toEqual({
      propertyName: 'kind',
      mapping: { webhook: '#/components/schemas/WebhookSinkDto', rabbitmq: '#/components/schemas/RabbitMqSinkDto', nats: '#/components/schemas/NatsSinkDto' },
    });
    expect(sink.oneOf).toHaveLength(3);
    expect(schemas.NatsSinkDto.properties.kind.enum).toEqual(['nats']);
    expect(schemas.NatsSinkDto.properties.settings).toEqual({ $ref: '#/components/schemas/NatsSettingsView' });
    expect(Object.keys(schemas.NatsSettingsView.properties).sort()).toEqual(['servers', 'stream', 'subjectPrefix', 'subjectVocabulary', 'user']);
    expect(Object.keys(schemas.RabbitMqSettingsChangesDto.properties).sort()).toEqual(['exchange', 'url']);
    expect(schemas.CreateSinkDto.properties.nats).toMatchObject({ allOf: [{ $ref: '#/components/schemas/NatsSettingsDto' }] });
  });

  it('reports the database and the listener in /health', async () => {
    const res = await waitFor(async () => {
      const response = await t.http.get('/health');
      return response.status === 200 && response.body.listener.draining ? response : undefined;
    }, { what: 'the listener to drain' });
    expect(res.body).toEqual({
      status: 'ok',
      database: 'up',
      listener: { connected: true, draining: true, lagMs: 0, backlog: 0 },
      capture: { problems: [] },
    });
  });

  it('answers 503 while the listener is not connected', async () => {
    await t.app.get(LogDrainer).beforeApplicationShutdown();
    const res = await t.http.get('/health').expect(503);
    expect(res.body).toMatchObject({ status: 'error', database: 'up', listener: { connected: false, draining: false } });
  });

  it('answers unknown routes with the error shape', async () => {
    const res = await t.http.get('/no-such-route').expect(404);
    expect(res.body).toEqual({ statusCode: 404, error: 'Not Found', message: expect.any(String) });
  });

});
