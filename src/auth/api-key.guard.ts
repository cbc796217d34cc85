import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ActorContext } from '../common/actor/actor.context.js';
import { hasScope } from './api-key.js';
import { ApiKeysService } from './api-keys.service.js';
import { MissingScope } from './auth.errors.js';
import { AuthenticatedRequest, REQUIRED_SCOPE, Requirement } from './require-scope.decorator.js';

/**
 * Global guard for HTTP routes: once keys exist, a route needs a bearer key with its scope.
 * A route that declares nothing needs admin, so a forgotten decorator fails closed. The key's
 * name becomes the actor of the request's writes. (WebSockets authenticate at the handshake.)
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const required =
      this.reflector.getAllAndOverride<Requirement | undefined>(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]) ??
      'admin';
    if (required === 'public' || !this.keys.required) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = this.keys.authenticate(bearerToken(request.headers.authorization));
    if (!hasScope(key, required)) throw new MissingScope(key, required);
    request.apiKey = key;
    ActorContext.set(key.name);
    return true;
  }
}

/** The token of `Authorization: Bearer <token>`; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
