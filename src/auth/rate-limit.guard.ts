import { Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { AuthenticatedRequest } from './require-scope.decorator.js';

/**
 * @nestjs/throttler's guard, counting per API key (per client address while the service is open).
 * Registered after ApiKeyGuard, so the key is known when it counts.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const key = (request as unknown as AuthenticatedRequest).apiKey;
    return key ? `key:${key.id}` : `ip:${await super.getTracker(request)}`;
  }
}
