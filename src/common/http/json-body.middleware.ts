import { BadRequestException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Writes take a JSON object. Without this, a text/plain body or a JSON array reaches validation
 * as "no fields" and the caller gets a list of missing fields instead of the real mistake.
 */
export function jsonObjectBody(req: Request, _res: Response, next: NextFunction): void {
  if (!WRITES.has(req.method) || !hasBody(req)) return next();
  if (!req.is('application/json')) {
    return next(new UnsupportedMediaTypeException('Content-Type must be application/json'));
  }
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    return next(new BadRequestException('body must be a JSON object'));
  }
  // JSON.parse keeps `__proto__` as a plain key; validation, which refuses every other unknown
  // field, does not see it (class-transformer drops it), so it would pass silently.
  const proto = protoKey(req.body, '');
  if (proto) return next(new BadRequestException(`property ${proto} should not exist`));
  next();
}

/** The query parameters that take several values by being repeated (`where=a:1&where=b:2`). */
const REPEATABLE = new Set(['where']);

/** Query parameters are single values (but REPEATABLE's): one given twice is refused as such, not as "not an integer". */
export function singleQueryValues(req: Request, _res: Response, next: NextFunction): void {
  const repeated = Object.entries(req.query).find(([name, value]) => Array.isArray(value) && !REPEATABLE.has(name));
  if (repeated) return next(new BadRequestException(`query parameter ${repeated[0]} is given more than once`));
  next();
}

/** The path of the first `__proto__` key in a parsed JSON value, if any. */
function protoKey(value: unknown, path: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '__proto__') return at;
    const inner = protoKey((value as Record<string, unknown>)[key], at);
    if (inner) return inner;
  }
  return undefined;
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}
