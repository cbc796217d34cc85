import { BadRequestException, Body, Controller, Get, HttpCode, HttpStatus, Param, PipeTransform, Post } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { BackfillsService } from './backfills.service.js';
import { BackfillDto, CreateBackfillDto, toBackfillDto } from './dto/backfill.dto.js';

/** A backfill's id: digits. */
class BackfillIdPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value === 'string' && /^\d{1,18}$/.test(value)) return value;
    throw new BadRequestException('id must be a backfill id (digits)');
  }
}
const BackfillId = () => Param('id', new BackfillIdPipe());

/** The rows a table already holds, as `<table>.read` notifications in the log's order. */
@ApiTags('backfills')
@Controller('backfills')
@RequireScope('admin')
export class BackfillsController {
  constructor(private readonly service: BackfillsService) {}

  /** Start a backfill: every row the table holds now (up to its largest key now), once, as `<table>.read` */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiResponse({ status: HttpStatus.CREATED, type: BackfillDto })
  @ApiErrors(400, 422)
  async start(@Body() dto: CreateBackfillDto): Promise<BackfillDto> {
    return toBackfillDto(await this.service.start(dto.table, dto.where ?? null, dto.destinations));
  }

  /** The latest 100 backfills, newest first */
  @Get()
  @ApiResponse({ status: HttpStatus.OK, type: [BackfillDto] })
  async list(): Promise<BackfillDto[]> {
    return (await this.service.list()).map(toBackfillDto);
  }

  /** One backfill: state, rows done, estimate, rate, ETA, chunk size */
  @Get(':id')
  @ApiResponse({ status: HttpStatus.OK, type: BackfillDto })
  @ApiErrors(400, 404)
  async get(@BackfillId() id: string): Promise<BackfillDto> {
    return toBackfillDto(await this.service.get(id));
  }

  /** Pause a running backfill: at once (a chunk under way still lands), no chunk after it until resumed */
  @Post(':id/pause')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: HttpStatus.OK, type: BackfillDto })
  @ApiErrors(400, 404, 409)
  async pause(@BackfillId() id: string): Promise<BackfillDto> {
    return toBackfillDto(await this.service.transition(id, 'pause'));
  }

  /** Resume a paused backfill from where it stopped */
  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: HttpStatus.OK, type: BackfillDto })
  @ApiErrors(400, 404, 409)
  async resume(@BackfillId() id: string): Promise<BackfillDto> {
    return toBackfillDto(await this.service.transition(id, 'resume'));
  }

  /** Cancel a running or paused backfill for good (the reads already in the log stay) */
  @Post(':id/cancel')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: HttpStatus.OK, type: BackfillDto })
  @ApiErrors(400, 404, 409)
  async cancel(@BackfillId() id: string): Promise<BackfillDto> {
    return toBackfillDto(await this.service.transition(id, 'cancel'));
  }
}
