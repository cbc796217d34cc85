import { DomainError } from '../common/errors/domain-error.js';

export class ConsumerNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(name: string) {
    super(`consumer group ${name} not found`);
  }
}

export class ConsumerNameTaken extends DomainError {
  readonly kind = 'conflict';
  constructor(name: string) {
    super(`a consumer group named ${name} already exists`);
  }
}

export class BadConsumerRequest extends DomainError {
  readonly kind = 'bad_request';
}
