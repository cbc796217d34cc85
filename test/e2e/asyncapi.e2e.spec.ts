import { Parser } from '@asyncapi/parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

describe('AsyncAPI document of the WebSocket protocol', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is served at /docs/asyncapi.yaml, linked from the OpenAPI page, and valid AsyncAPI 3', async () => {
    const res = await t.http.get('/docs/asyncapi.yaml').buffer(true).parse((response, done) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () => done(null, text));
    }).expect(200);
    expect(res.headers['content-type']).toContain('yaml');
    const { document, diagnostics } = await new Parser().parse(res.body as string);
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
    expect(document!.version()).toMatch(/^3\./);
    expect(document!.channels().all().map((channel) => channel.address())).toEqual(['/events']);
    expect(document!.operations().all().map((operation) => operation.id()).sort()).toEqual(
      ['receiveErrorNotice', 'receiveNotification', 'subscribe', 'unsubscribe'],
    );
    const { body: openapi } = await t.http.get('/docs-json').expect(200);
    expect(openapi.info.description).toContain('/docs/asyncapi.yaml');
  });
});
