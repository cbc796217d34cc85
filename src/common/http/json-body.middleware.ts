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
  next();
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}
