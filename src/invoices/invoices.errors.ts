import { DomainError } from '../common/errors/domain-error.js';
import { MAX_TOTAL_AMOUNT } from './total-amount.js';

export class InvoiceNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(`invoice ${id} not found`);
  }
}

export class InvoiceItemNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(invoiceId: string, itemId: string) {
    super(`item ${itemId} not found on invoice ${invoiceId}`);
  }
}

export class TargetInvoiceNotFound extends DomainError {
  readonly kind = 'unprocessable';
  constructor(id: string) {
    super(`invoiceId: invoice ${id} does not exist`);
  }
}

export class DuplicateInvoiceNo extends DomainError {
  readonly kind = 'conflict';
  constructor(invoiceNo: string) {
    super(`invoiceNo: an invoice numbered ${JSON.stringify(invoiceNo)} already exists`);
  }
}

export class TotalOutOfRange extends DomainError {
  readonly kind = 'unprocessable';
  constructor() {
    super(`totalAmount: the resulting total exceeds ${MAX_TOTAL_AMOUNT} (2^53 - 1)`);
  }
}

export class InvalidCursor extends DomainError {
  readonly kind = 'bad_request';
  constructor() {
    super('cursor: not a cursor returned by this API');
  }
}

export class EmptyItemUpdate extends DomainError {
  readonly kind = 'bad_request';
  constructor() {
    super('body: give at least one of quantity, amountPerUnit, invoiceId');
  }
}
