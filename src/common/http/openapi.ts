import type { OpenAPIObject } from '@nestjs/swagger';

/** The parts of an operation this file touches (the full types are not exported by @nestjs/swagger). */
interface Operation {
  requestBody?: unknown;
  responses: Record<string, { description: string; headers?: Record<string, unknown>; content?: unknown }>;
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: unknown }[];
  security?: Record<string, string[]>[];
}

const ERROR = { $ref: '#/components/schemas/ErrorResponseDto' };

/**
 * What every route shares and the decorators cannot say once: the 415 of a body that is not JSON,
 * the rate-limit headers, X-Actor on writes, uuid path ids, the open /health, and a server entry
 * (an empty `servers` is invalid for Redocly's recommended rules). Run on the document Nest builds.
 */
export function refineDocument(document: OpenAPIObject): OpenAPIObject {
  document.servers = [{ url: '/', description: 'this service' }];
  const bearer = document.components?.securitySchemes?.bearer;
  if (bearer && 'scheme' in bearer) bearer.bearerFormat = 'opaque API key';
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item) as [string, Operation][]) {
      if (!operation?.responses) continue;
      if (path === '/health') operation.security = [];
      if (operation.requestBody) {
        operation.responses['415'] ??= { description: 'The body is not JSON (Content-Type must be application/json)', content: { 'application/json': { schema: ERROR } } };
      }
      const limited = operation.responses['429'];
      if (limited) {
        limited.headers = {
          'Retry-After': { description: 'Seconds until a request may succeed', schema: { type: 'integer' } },
          'X-RateLimit-Limit': { description: 'Requests allowed per minute for this key (RATE_LIMIT)', schema: { type: 'integer' } },
          'X-RateLimit-Remaining': { description: 'Requests left in the current minute', schema: { type: 'integer' } },
          'X-RateLimit-Reset': { description: 'Seconds until the current minute ends', schema: { type: 'integer' } },
        };
      }
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'path' && (parameter.name === 'id' || parameter.name === 'itemId') && !path.startsWith('/notifications')) {
          parameter.schema = { type: 'string', format: 'uuid' };
        }
      }
      if (path.startsWith('/invoices') && method !== 'get') {
        operation.parameters = [
          ...(operation.parameters ?? []),
          {
            name: 'X-Actor',
            in: 'header',
            required: false,
            description: 'Who makes the change, for the audit trail (1–128 printable characters); honoured only while the service has no API keys',
            schema: { type: 'string', maxLength: 128 },
          },
        ];
      }
    }
  }
  return document;
}
