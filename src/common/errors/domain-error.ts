/** What kind of refusal a domain error is; the HTTP filter maps each kind to one status. */
export type DomainErrorKind = 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'unprocessable';

/** Base of every error a service throws on purpose. Services never build HTTP bodies. */
export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
