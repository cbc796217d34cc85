import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from './config.js';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Provides the already-validated config object to every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: APP_CONFIG, useValue: config }], exports: [APP_CONFIG] };
  }
}
