import { DomainError } from '../common/errors/domain-error.js';
import type { ApiKey, Scope } from './api-key.js';

export class MissingApiKey extends DomainError {
  readonly kind = 'unauthorized';
  constructor() {
    super('an API key is required: send Authorization: Bearer <key>');
  }
}

export class InvalidApiKey extends DomainError {
  readonly kind = 'unauthorized';
  constructor() {
    super('the API key is not valid');
  }
}

export class RevokedApiKey extends DomainError {
  readonly kind = 'unauthorized';
  constructor(key: ApiKey) {
    super(`the API key ${key.name} was revoked`);
  }
}

export class MissingScope extends DomainError {
  readonly kind = 'forbidden';
  constructor(key: ApiKey, scope: Scope) {
    super(`the API key ${key.name} lacks the scope ${scope}`);
  }
}

export class TableNotAllowed extends DomainError {
  readonly kind = 'forbidden';
  constructor(key: ApiKey, tables: readonly string[]) {
    super(`the API key ${key.name} may read only the tables ${tables.join(', ')}`);
  }
}
