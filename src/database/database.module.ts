import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { buildDataSourceOptions } from './data-source.options.js';

@Module({})
export class DatabaseModule {
  /** The pool for the app; the URL is resolved (embedded or DATABASE_URL) before Nest starts. */
  static forRoot(url: string, poolSize: number): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [TypeOrmModule.forRoot({ ...buildDataSourceOptions({ url, poolSize }), retryAttempts: 3 })],
    };
  }
}
