import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { Request } from 'express';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import type { ApiKey, Scope } from './api-key.js';

export const REQUIRED_SCOPE = 'rowcast:required-scope';
export type Requirement = Scope | 'public';

/** The scope a route needs once keys exist; documents the bearer auth and its refusals too. */
export function RequireScope(scope: Scope): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(REQUIRED_SCOPE, scope), ApiBearerAuth(), ApiErrors(401, 403, 429));
}

/** Open to anyone and not rate limited: health probes. Routes with neither decorator need admin. */
export function Public(): ClassDecorator & MethodDecorator {
  return applyDecorators(SetMetadata(REQUIRED_SCOPE, 'public'), SkipThrottle());
}

export interface AuthenticatedRequest extends Request {
  apiKey?: ApiKey;
}

/** The caller's key; undefined while no key exists (the service is open). */
export const CallerKey = createParamDecorator(
  (_data: unknown, context: ExecutionContext): ApiKey | undefined =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().apiKey,
);
