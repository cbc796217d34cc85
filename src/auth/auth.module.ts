import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysService } from './api-keys.service.js';
import { RateLimitGuard } from './rate-limit.guard.js';

/** API keys and per-key rate limits for HTTP; exports what the WebSocket gateway checks with. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        throttlers: [{ name: 'default', ttl: 60_000, limit: config.limits.restPerMinute }],
        skipIf: () => config.limits.restPerMinute === 0,
        errorMessage: (_context, limit) =>
          `rate limit reached: at most ${limit.limit} requests a minute per API key; retry in ${limit.timeToBlockExpire} s`,
      }),
    }),
  ],
  providers: [
    ApiKeysService,
    // Guards run in this order: who is calling, then how often.
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [ApiKeysService, ThrottlerModule],
})
export class AuthModule {}
