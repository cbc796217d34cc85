import { DomainError } from '../common/errors/domain-error.js';

export class NotificationNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(id: string) {
    super(`notification ${id} not found`);
  }
}
