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
 * (an empty `servers` is invalid for Redocly's recommended rules), and null in OpenAPI 3.1's words.
 * Run on the document Nest builds.
 */
export function refineDocument(document: OpenAPIObject): OpenAPIObject {
  nullAsType(document);
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

/**
 * @nestjs/swagger writes OpenAPI 3.0's `nullable: true` whatever the document's version; 3.1 has no
 * such keyword (its schemas are JSON Schema), so generators would drop the `| null`: `null` becomes
 * one of the types, or, beside a reference or a composition, one of the alternatives.
 */
function nullAsType(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  for (const inner of Object.values(value)) nullAsType(inner);
  const schema = value as Record<string, unknown>;
  if (typeof schema.nullable !== 'boolean') return;
  const nullable = schema.nullable;
  delete schema.nullable;
  if (!nullable) return;
  if ('$ref' in schema || 'allOf' in schema || 'oneOf' in schema || 'anyOf' in schema) {
    const { description, example, ...rest } = schema;
    delete rest.type; // `type: object` beside `allOf` would refuse null in the first alternative too
    // `allOf` of one reference is how the plugin attaches a description to it: the reference will do.
    const alternative = Object.keys(rest).length === 1 && Array.isArray(rest.allOf) && rest.allOf.length === 1 ? (rest.allOf[0] as object) : rest;
    for (const key of Object.keys(schema)) delete schema[key];
    Object.assign(schema, description === undefined ? {} : { description }, { anyOf: [alternative, { type: 'null' }] }, example === undefined ? {} : { example });
  } else if (typeof schema.type === 'string') {
    schema.type = [schema.type, 'null'];
    if (Array.isArray(schema.enum)) schema.enum = [...schema.enum, null];
  }
}
