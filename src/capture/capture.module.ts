import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module.js';
import { CaptureWatch } from './capture-watch.js';
import { TableCatalog } from './table-catalog.js';
import { TablesController } from './tables.controller.js';

/** What is captured: the catalog whoever checks table names imports (REST, WebSocket, sinks), GET /tables, and the watch on capture's triggers. */
@Module({ imports: [LogModule], controllers: [TablesController], providers: [TableCatalog, CaptureWatch], exports: [TableCatalog, CaptureWatch] })
export class CaptureModule {}
