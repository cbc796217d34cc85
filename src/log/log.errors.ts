import { DomainError } from '../common/errors/domain-error.js';

/** A starting position after the newest notification: it would skip whatever comes next. */
export class PositionAhead extends DomainError {
  readonly kind = 'bad_request';
}

/** A position the log cannot resume from: retention deleted what follows it. */
export class PositionUnavailable extends DomainError {
  readonly kind = 'conflict';
}
