import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module.js';
import { TableCatalog } from './table-catalog.js';
import { TablesController } from './tables.controller.js';

/** What is captured: the catalog whoever checks table names imports (REST, WebSocket, sinks), and GET /tables. */
@Module({ imports: [LogModule], controllers: [TablesController], providers: [TableCatalog], exports: [TableCatalog] })
export class CaptureModule {}
