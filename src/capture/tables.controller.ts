import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { CapturedTableDto } from './dto/captured-table.dto.js';
import { TableCatalog } from './table-catalog.js';

@ApiTags('notifications')
@Controller('tables')
@RequireScope('notifications:read')
export class TablesController {
  constructor(private readonly catalog: TableCatalog) {}

  /** The tables under capture, with their column filters (what `events`/`tables` filters can name) */
  @Get()
  list(): Promise<CapturedTableDto[]> {
    return this.catalog.list();
  }
}
