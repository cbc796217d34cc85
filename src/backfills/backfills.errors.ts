import { DomainError } from '../common/errors/domain-error.js';

export class BackfillNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(`backfill ${id} not found`);
  }
}

/** The table does not exist (the message names it): the request is well formed, the data refuses it. */
export class UnknownTable extends DomainError {
  readonly kind = 'unprocessable';
  constructor(table: string) {
    super(`table ${table} does not exist`);
  }
}

/** Destinations that name no sink (by id or name). */
export class UnknownSinks extends DomainError {
  readonly kind = 'unprocessable';
  constructor(references: readonly string[]) {
    super(`destinations: no sink has the id or name ${references.join(', ')}`);
  }
}

/** A table, or a where, that a backfill cannot read: not captured, no primary key, a column it lacks. */
export class BackfillRefused extends DomainError {
  readonly kind = 'unprocessable';
}

export class BadBackfillRequest extends DomainError {
  readonly kind = 'bad_request';
}

/** Pause, resume or cancel from a state that does not allow it. */
export class WrongBackfillState extends DomainError {
  readonly kind = 'conflict';
  constructor(id: string, action: string, state: string) {
    super(`backfill ${id} is ${state}: it cannot be ${action}`);
  }
}
