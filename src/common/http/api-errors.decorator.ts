import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input; the message names each bad field',
  401: 'No API key, or a key that is unknown or revoked (once any key exists)',
  403: 'The API key lacks the scope this route needs, or may not read this table',
  404: 'Not found',
  409: 'Conflicts with existing data',
  413: 'Request body too large',
  422: 'Valid request that the data or a destination refuses: a total out of range, an invoiceId of no invoice, a NATS stream that cannot serve a sink',
  429: 'Rate limit reached; Retry-After says when to try again',
  503: 'Not ready',
};

/** Documents a route's error responses, all of shape ErrorResponseDto. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponseDto })),
  );
}
