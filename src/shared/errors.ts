/**
 * Errors that cross the contract. A service throws `UserError` for anything a user can cause
 * (bad input, a name already taken, a missing record); its message says what to do next.
 * Everything else is a bug and reaches the caller as `internal`.
 */
export const errorCodes = [
  'invalid_input',
  'not_found',
  'conflict',
  'unknown_call',
  'unavailable',
  /** The user stopped a long operation (an import) before it wrote anything. */
  'cancelled',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface ContractErrorBody {
  code: ErrorCode;
  message: string;
}

export class UserError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
