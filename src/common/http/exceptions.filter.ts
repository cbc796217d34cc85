import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import { DomainError, DomainErrorKind } from '../errors/domain-error.js';
import { PG, postgresError } from '../errors/postgres-error.js';

const STATUS_OF: Record<DomainErrorKind, number> = {
  bad_request: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  unprocessable: HttpStatus.UNPROCESSABLE_ENTITY,
};

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

/**
 * The one place errors become HTTP: domain errors by kind, Nest's HTTP exceptions (validation,
 * body parser) as they are, database refusals that slipped past a service as 409/422/503, and
 * anything else as a bare 500 that is logged but never described to the caller.
 */
@Catch()
export class ExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') {
      // WebSocket handlers answer bad input with error acks; anything reaching here is a bug.
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
      host.switchToWs().getClient<{ emit(event: string, data: unknown): void }>().emit('exception', {
        code: 'INTERNAL',
        message: 'internal error',
      });
      return;
    }
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (body.statusCode >= 500) this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE) response.setHeader('Retry-After', '1');
    if (body.statusCode === HttpStatus.UNAUTHORIZED) response.setHeader('WWW-Authenticate', 'Bearer realm="rowcast"');
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof DomainError) return body(STATUS_OF[exception.kind], exception.message);
    if (exception instanceof HttpException) return fromHttpException(exception);
    const pg = postgresError(exception);
    switch (pg?.code) {
      case PG.uniqueViolation:
        return body(HttpStatus.CONFLICT, 'conflicts with an existing row');
      case PG.checkViolation:
      case PG.notNullViolation:
      case PG.numericOutOfRange:
        return body(HttpStatus.UNPROCESSABLE_ENTITY, 'the data refuses this change: a value is missing or out of range');
      case PG.characterNotInRepertoire:
      case PG.untranslatableCharacter:
        // A value that slipped past validation with a character the database cannot store (NUL).
        return body(HttpStatus.BAD_REQUEST, 'a value holds characters the database cannot store, such as NUL');
      case PG.serializationFailure:
      case PG.deadlockDetected:
        return body(HttpStatus.SERVICE_UNAVAILABLE, 'concurrent update, try again');
    }
    return body(HttpStatus.INTERNAL_SERVER_ERROR, 'internal error');
  }
}

function body(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

function fromHttpException(exception: HttpException): ErrorBody {
  const status = exception.getStatus();
  const response = exception.getResponse();
  let message: unknown = typeof response === 'string' ? response : (response as { message?: unknown }).message;
  if (Array.isArray(message)) message = message.join('; ');
  // Body-parser's own messages quote the body it failed on; say what is wrong instead.
  if (status === HttpStatus.PAYLOAD_TOO_LARGE) message = 'request body too large';
  return body(status, typeof message === 'string' && message ? message : (STATUS_CODES[status] ?? 'Error'));
}
