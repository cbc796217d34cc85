import { DataSourceOptions } from 'typeorm';
import { InvoiceItemEntity } from '../invoices/invoice-item.entity.js';
import { InvoiceEntity } from '../invoices/invoice.entity.js';
import { migrations } from './migrations.js';

export const entities = [InvoiceEntity, InvoiceItemEntity];

export interface DataSourceSettings {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

/** The one definition of the DataSource options: the app, the migration CLI and the tests use it. */
export function buildDataSourceOptions(settings: DataSourceSettings): DataSourceOptions {
  return {
    type: 'postgres',
    url: settings.url,
    entities,
    migrations,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    // The migrations own the schema; gen_random_uuid() is built into PostgreSQL 13+.
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    // TypeORM's logger writes plain text to the console; errors that matter reach the exception
    // filter (and the JSON log) anyway, and expected refusals (a duplicate number) are not errors.
    logging: false,
    poolSize: settings.poolSize ?? 10,
    applicationName: settings.applicationName ?? 'rowcast',
    extra: { connectionTimeoutMillis: 5_000 },
  };
}
