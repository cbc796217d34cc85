/** The body of every error response. */
export class ErrorResponseDto {
  /** The HTTP status code, repeated. @example 400 */
  statusCode: number;
  /** The status's name. @example "Bad Request" */
  error: string;
  /** What is wrong, naming each bad field. @example "quantity must not be less than 1" */
  message: string;
}
