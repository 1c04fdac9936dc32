/**
 * Typed errors of the driver contract. Suites and the scorer branch on `code`, never on message text,
 * so an adapter must map every platform failure onto one of these.
 */
export type ErrorCode =
  | 'not-found'
  | 'conflict'
  | 'unsupported'
  | 'auth-failed'
  | 'timeout'
  | 'platform-error'
  | 'prereq-missing'
  | 'not-owned'
  | 'config-invalid';

export abstract class VmconformError extends Error {
  abstract readonly code: ErrorCode;
}

/** The object does not exist (or no longer exists) on the platform. */
export class NotFound extends VmconformError {
  readonly code = 'not-found';
}

/** The request conflicts with current state (already running, name taken, locked). */
export class Conflict extends VmconformError {
  readonly code = 'conflict';
}

/** The platform (or this adapter) cannot do this. `by` says who lacks it: scoring blames only the platform. */
export class Unsupported extends VmconformError {
  readonly code = 'unsupported';
  constructor(
    message: string,
    readonly by: 'platform' | 'adapter' = 'platform',
  ) {
    super(message);
  }
}

export class AuthFailed extends VmconformError {
  readonly code = 'auth-failed';
}

export class Timeout extends VmconformError {
  readonly code = 'timeout';
  constructor(
    message: string,
    readonly waitedMs: number,
  ) {
    super(message);
  }
}

/** Any other platform failure, carrying the platform's own code and message verbatim. */
export class PlatformError extends VmconformError {
  readonly code = 'platform-error';
  constructor(
    message: string,
    readonly platformCode: string,
    readonly platformMessage: string,
  ) {
    super(message);
  }
}

/** The lab lacks something the check needs (KVM, 802.1q, a second site): inconclusive, not a platform failure. */
export class PrereqMissing extends VmconformError {
  readonly code = 'prereq-missing';
}

/** Refusal to touch an object that does not carry this harness's ownership tag. */
export class NotOwned extends VmconformError {
  readonly code = 'not-owned';
}

/** Bad input: names the field and what was expected. */
export class ConfigInvalid extends VmconformError {
  readonly code = 'config-invalid';
}

export function isVmconformError(e: unknown): e is VmconformError {
  return e instanceof VmconformError;
}
