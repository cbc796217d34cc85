import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { AuthenticatedRequest } from './require-scope.decorator.js';

/**
 * @nestjs/throttler's guard for HTTP, counting per API key across all routes (per client address
 * while the service is open). Registered after ApiKeyGuard, so the key is known when it counts.
 * WebSocket messages have their own limit (SocketAccess); global guards run on gateway handlers
 * too, so this one steps aside there.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.getType() !== 'http' || super.shouldSkip(context);
  }

  /** One counter per caller, not one per route (the throttler's default key names the handler). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async getTracker(request: Record<string, unknown>): Promise<string> {
    const key = (request as unknown as AuthenticatedRequest).apiKey;
    return key ? `key:${key.id}` : `ip:${await super.getTracker(request)}`;
  }
}
