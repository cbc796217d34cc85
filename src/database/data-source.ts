/**
 * The DataSource the TypeORM CLI loads (`npm run migration:run | migration:revert | migration:generate`).
 * Same options as the app; with no DATABASE_URL it starts the embedded PostgreSQL, which stops
 * again when the CLI exits.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/config.js';
import { buildDataSourceOptions } from './data-source.options.js';
import { resolveDatabase } from './database-url.js';

const config = loadConfig();
const database = await resolveDatabase(config, { keepSignalHandlers: true });

export const dataSource = new DataSource(
  buildDataSourceOptions({ url: database.url, applicationName: 'rowcast-migrations' }),
);
