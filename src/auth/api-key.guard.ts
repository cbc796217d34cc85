import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ThrottlerException, ThrottlerStorage } from '@nestjs/throttler';
import type { Response } from 'express';
import { ActorContext } from '../common/actor/actor.context.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiKey, hasScope } from './api-key.js';
import { ApiKeysService } from './api-keys.service.js';
import { MissingScope } from './auth.errors.js';
import { AuthenticatedRequest, REQUIRED_SCOPE, Requirement } from './require-scope.decorator.js';

/**
 * Global guard for HTTP routes: once keys exist, a route needs a bearer key with its scope.
 * A route that declares nothing needs admin, so a forgotten decorator fails closed. The key's
 * name becomes the actor of the request's writes. (WebSockets authenticate at the handshake.)
 * Refused keys count against the caller's address, RATE_LIMIT a minute: guessing is throttled.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
    @Inject(ThrottlerStorage) private readonly counters: ThrottlerStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const required =
      this.reflector.getAllAndOverride<Requirement | undefined>(REQUIRED_SCOPE, [context.getHandler(), context.getClass()]) ??
      'admin';
    if (required === 'public' || !this.keys.required) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    let key: ApiKey;
    try {
      key = await this.keys.authenticateFresh(bearerToken(request.headers.authorization));
    } catch (error) {
      await this.countRefusal(request.ip ?? 'unknown', context.switchToHttp().getResponse<Response>());
      throw error;
    }
    if (!hasScope(key, required)) throw new MissingScope(key, required);
    request.apiKey = key;
    ActorContext.set(key.name);
    return true;
  }

  private async countRefusal(address: string, response: Response): Promise<void> {
    const limit = this.config.limits.restPerMinute;
    if (limit === 0) return;
    const { isBlocked, timeToBlockExpire } = await this.counters.increment(`refused:${address}`, 60_000, limit, 60_000, 'refused');
    if (!isBlocked) return;
    response.setHeader('Retry-After', String(timeToBlockExpire));
    throw new ThrottlerException(`too many requests without a valid API key from this address; retry in ${timeToBlockExpire} s`);
  }
}

/** The token of `Authorization: Bearer <token>`; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
