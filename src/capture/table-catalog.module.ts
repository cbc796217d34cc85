import { Module } from '@nestjs/common';
import { TableCatalog } from './table-catalog.js';
import { TablesController } from './tables.controller.js';

/** Imported by whoever checks table names (REST, WebSocket, sinks); depends on the database only. */
@Module({ controllers: [TablesController], providers: [TableCatalog], exports: [TableCatalog] })
export class TableCatalogModule {}
