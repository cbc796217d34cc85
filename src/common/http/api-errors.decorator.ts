import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto } from './error-response.dto.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input; the message names each bad field',
  404: 'Not found',
  409: 'Conflicts with existing data',
  413: 'Request body too large',
  422: 'Valid request that the data refuses (a total out of range)',
  503: 'Not ready',
};

/** Documents a route's error responses, all of shape ErrorResponseDto. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status], type: ErrorResponseDto })),
  );
}
