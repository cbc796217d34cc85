import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { ActorContext } from '../common/actor/actor.context.js';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor.js';
import { likePrefix } from '../common/sql/like.js';
import { InvoiceItemDto, UpdateInvoiceItemDto, CreateInvoiceItemDto } from './dto/invoice-item.dto.js';
import { CreateInvoiceDto, InvoiceDto, InvoicePageDto, UpdateInvoiceDto } from './dto/invoice.dto.js';
import { InvoiceItemEntity } from './invoice-item.entity.js';
import { mapInvoice, mapInvoiceItem } from './invoice.mapper.js';
import { InvoiceEntity } from './invoice.entity.js';
import {
  DuplicateInvoiceNo,
  EmptyItemUpdate,
  InvalidCursor,
  InvoiceItemNotFound,
  InvoiceNotFound,
  TargetInvoiceNotFound,
  TotalOutOfRange,
} from './invoices.errors.js';

const ITEM_ORDER = { createdAt: 'ASC', id: 'ASC' } as const;

@Injectable()
export class InvoicesService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async create(dto: CreateInvoiceDto): Promise<InvoiceDto> {
    return this.write(async (manager) => {
      const { id } = await manager.save(InvoiceEntity, manager.create(InvoiceEntity, { invoiceNo: dto.invoiceNo }));
      if (dto.items?.length) {
        await manager.insert(
          InvoiceItemEntity,
          dto.items.map((item) => ({ invoiceId: id, quantity: item.quantity, amountPerUnit: item.amountPerUnit })),
        );
      }
      return this.load(manager, id);
    }, { invoiceNo: dto.invoiceNo });
  }

  /** A page of invoices, newest first; `invoiceNo`: only those whose number starts with it, in any case. */
  async list(limit: number, cursor?: string, invoiceNo?: string): Promise<InvoicePageDto> {
    const query = this.dataSource
      .getRepository(InvoiceEntity)
      .createQueryBuilder('invoice')
      .addSelect('(extract(epoch FROM invoice.created_at) * 1000000)::bigint::text', 'cursor_micros')
      .orderBy('invoice.created_at', 'DESC')
      .addOrderBy('invoice.id', 'DESC')
      .limit(limit + 1);
    // lower(invoice_no): the expression invoices_invoice_no_prefix_idx indexes.
    if (invoiceNo !== undefined) query.andWhere('lower(invoice.invoice_no) LIKE lower(:prefix)', { prefix: likePrefix(invoiceNo) });
    if (cursor !== undefined) {
      const [micros, id] = parseInvoiceCursor(cursor);
      query.andWhere(
        `(invoice.created_at, invoice.id) < ('epoch'::timestamptz + :micros::bigint * interval '1 microsecond', :id::uuid)`,
        { micros, id },
      );
    }
    const { entities, raw } = await query.getRawAndEntities<{ cursor_micros: string }>();
    const page = entities.slice(0, limit);
    const items = await this.itemsOf(this.dataSource.manager, page.map((invoice) => invoice.id));
    const last = page.length - 1;
    return {
      data: page.map((invoice) => mapInvoice(invoice, items.get(invoice.id) ?? [])),
      nextCursor: entities.length > limit ? encodeCursor([Number(raw[last].cursor_micros), page[last].id]) : null,
    };
  }

  async get(id: string): Promise<InvoiceDto> {
    return this.load(this.dataSource.manager, id);
  }

  async update(id: string, dto: UpdateInvoiceDto): Promise<InvoiceDto> {
    return this.write(async (manager) => {
      const { affected } = await manager.update(InvoiceEntity, { id }, { invoiceNo: dto.invoiceNo });
      if (!affected) throw new InvoiceNotFound(id);
      return this.load(manager, id);
    }, { invoiceNo: dto.invoiceNo });
  }

  async remove(id: string): Promise<void> {
    await this.write(async (manager) => {
      const { affected } = await manager.delete(InvoiceEntity, { id });
      if (!affected) throw new InvoiceNotFound(id);
    });
  }

  async addItem(invoiceId: string, dto: CreateInvoiceItemDto): Promise<InvoiceItemDto> {
    return this.write(async (manager) => {
      const { identifiers } = await manager.insert(InvoiceItemEntity, {
        invoiceId,
        quantity: dto.quantity,
        amountPerUnit: dto.amountPerUnit,
      });
      return mapInvoiceItem(await manager.findOneByOrFail(InvoiceItemEntity, { id: identifiers[0].id as string }));
    }, { missingInvoice: () => new InvoiceNotFound(invoiceId) });
  }

  async updateItem(invoiceId: string, itemId: string, dto: UpdateInvoiceItemDto): Promise<InvoiceItemDto> {
    const changes = {
      ...(dto.quantity !== undefined && { quantity: dto.quantity }),
      ...(dto.amountPerUnit !== undefined && { amountPerUnit: dto.amountPerUnit }),
      ...(dto.invoiceId !== undefined && { invoiceId: dto.invoiceId }),
    };
    if (Object.keys(changes).length === 0) throw new EmptyItemUpdate();
    return this.write(async (manager) => {
      const { affected } = await manager.update(InvoiceItemEntity, { id: itemId, invoiceId }, changes);
      if (!affected) throw new InvoiceItemNotFound(invoiceId, itemId);
      return mapInvoiceItem(await manager.findOneByOrFail(InvoiceItemEntity, { id: itemId }));
    }, { missingInvoice: () => new TargetInvoiceNotFound(dto.invoiceId ?? invoiceId) });
  }

  async removeItem(invoiceId: string, itemId: string): Promise<void> {
    await this.write(async (manager) => {
      const { affected } = await manager.delete(InvoiceItemEntity, { id: itemId, invoiceId });
      if (!affected) throw new InvoiceItemNotFound(invoiceId, itemId);
    });
  }

  private async load(manager: EntityManager, id: string): Promise<InvoiceDto> {
    const invoice = await manager.findOneBy(InvoiceEntity, { id });
    if (!invoice) throw new InvoiceNotFound(id);
    const items = await this.itemsOf(manager, [id]);
    return mapInvoice(invoice, items.get(id) ?? []);
  }

  private async itemsOf(manager: EntityManager, invoiceIds: string[]): Promise<Map<string, InvoiceItemEntity[]>> {
    const byInvoice = new Map<string, InvoiceItemEntity[]>();
    if (invoiceIds.length === 0) return byInvoice;
    const items = await manager.find(InvoiceItemEntity, { where: { invoiceId: In(invoiceIds) }, order: ITEM_ORDER });
    for (const item of items) byInvoice.set(item.invoiceId, [...(byInvoice.get(item.invoiceId) ?? []), item]);
    return byInvoice;
  }

  /**
   * Runs a write in one transaction and turns the database's refusals into domain errors.
   * Every REST write goes through here, so per-transaction settings belong here too.
   */
  private async write<T>(
    work: (manager: EntityManager) => Promise<T>,
    context: { invoiceNo?: string; missingInvoice?: () => Error } = {},
  ): Promise<T> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        // Without a key or X-Actor the write is still the API's, not a psql session's: said so.
        const actor = ActorContext.current() ?? ANONYMOUS_ACTOR;
        await manager.query(`SELECT set_config('rowcast.actor', $1, true)`, [actor]);
        return work(manager);
      });
    } catch (error) {
      const pg = postgresError(error);
      if (pg?.code === PG.uniqueViolation && pg.constraint === 'invoices_invoice_no_key' && context.invoiceNo) {
        throw new DuplicateInvoiceNo(context.invoiceNo);
      }
      if (pg?.code === PG.foreignKeyViolation && context.missingInvoice) throw context.missingInvoice();
      if (pg?.code === PG.numericOutOfRange || (pg?.code === PG.checkViolation && pg.constraint?.endsWith('_range'))) {
        throw new TotalOutOfRange();
      }
      throw error;
    }
  }
}

/** The actor of a REST write made with no API key and no X-Actor. */
export const ANONYMOUS_ACTOR = 'api (anonymous)';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An invoice cursor is [created_at in microseconds since the epoch, id]. */
function parseInvoiceCursor(cursor: string): [number, string] {
  const [micros, id, ...rest] = decodeCursor(cursor) ?? [];
  const validMicros = Number.isSafeInteger(micros) && (micros as number) >= 0;
  if (!validMicros || typeof id !== 'string' || !UUID.test(id) || rest.length) throw new InvalidCursor();
  return [micros as number, id];
}
