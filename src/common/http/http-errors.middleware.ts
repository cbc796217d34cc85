import { HttpException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';

/**
 * Express middleware's client errors as Nest HTTP exceptions: body-parser's 413 for a body over
 * BODY_LIMIT, 415 for an unsupported charset or encoding, 400 for a body that does not decode.
 * They are http-errors, which NestJS 11 hands to the exception filter as they are (so a 500);
 * NestJS 12's Express adapter maps them like this (a 5xx one stays a server fault).
 * Registered after the other middleware, before the routes.
 */
export function httpErrorsAsExceptions(error: unknown, _req: Request, _res: Response, next: NextFunction): void {
  if (!isClientHttpError(error)) return next(error);
  // An error not meant for the client gets its status text only.
  const message = error.expose ? error.message : (STATUS_CODES[error.statusCode] ?? 'Error');
  next(new HttpException(message, error.statusCode, { cause: error }));
}

function isClientHttpError(error: unknown): error is Error & { statusCode: number; expose: boolean } {
  if (!(error instanceof Error)) return false;
  const { statusCode, status, expose } = error as Error & { statusCode?: unknown; status?: unknown; expose?: unknown };
  return typeof expose === 'boolean' && typeof statusCode === 'number' && status === statusCode && statusCode >= 400 && statusCode < 500;
}
