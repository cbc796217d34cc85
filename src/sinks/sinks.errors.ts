import { DomainError } from '../common/errors/domain-error.js';

export class SinkNotFound extends DomainError {
  readonly kind = 'not_found';
  constructor(what: string, id: string) {
    super(`${what} ${id} not found`);
  }
}

export class SinkNameTaken extends DomainError {
  readonly kind = 'conflict';
  constructor(name: string) {
    super(`a sink named ${name} already exists`);
  }
}

export class SinkTargetRefused extends DomainError {
  readonly kind = 'bad_request';
  constructor(reason: string) {
    super(`url refused: ${reason} (set WEBHOOK_ALLOW_PRIVATE=true to allow such targets)`);
  }
}

/** A sink's destination answered no when it was readied (a NATS stream that captures other subjects). */
export class SinkDestinationRefused extends DomainError {
  readonly kind = 'unprocessable';
}

export class BadSinkRequest extends DomainError {
  readonly kind = 'bad_request';
}

/** A ranged redelivery (or its dry run) over more of the log than one request reads. */
export class RedeliveryTooLarge extends DomainError {
  readonly kind = 'unprocessable';
}
