import { DomainError } from '../common/errors/domain-error.js';

export class NotificationNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(`notification ${id} not found`);
  }
}

export class BadTailQuery extends DomainError {
  readonly kind = 'bad_request';
  constructor() {
    super('tail and after do not go together: tail gives the newest notifications, after pages from a cursor');
  }
}
