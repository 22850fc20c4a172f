// Harness errors: one base class, a stable `code` per kind. Callers and tests
// match on `code`, never on message text. A device misbehaving is a verdict,
// never one of these.

export type ErrorCode =
  | 'USAGE' // bad command line
  | 'CONFIG_NOT_FOUND' // a named file does not exist or cannot be read
  | 'CONFIG_PARSE' // not YAML / JSON
  | 'CONFIG_INVALID' // parsed, but a field is wrong
  | 'CONFIG_VERSION' // written by a newer Gauntlet
  | 'SECRET_MISSING' // ${VAR} in a target file with no such environment variable
  | 'SCOPE_VIOLATION' // a connect to a host the target file does not name
  | 'CHECK_TIMEOUT' // a check ran past its time bound
  | 'CHECK_CRASHED' // a check threw something that is not a GauntletError
  | 'DEVICE_START' // the reference device could not start
  | 'REPORT_WRITE' // a report file could not be written
  | 'ABORTED'; // the run was interrupted

/** Exit codes of the CLI: 0 gate passed, 1 gate failed, 2 usage/config, 3 harness error. */
export const EXIT = { ok: 0, gateFailed: 1, usage: 2, harness: 3, interrupted: 130 } as const;

export class GauntletError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GauntletError';
    this.code = code;
  }

  get exitCode(): number {
    switch (this.code) {
      case 'USAGE':
      case 'CONFIG_NOT_FOUND':
      case 'CONFIG_PARSE':
      case 'CONFIG_INVALID':
      case 'CONFIG_VERSION':
      case 'SECRET_MISSING':
      case 'SCOPE_VIOLATION':
        return EXIT.usage;
      case 'ABORTED':
        return EXIT.interrupted;
      default:
        return EXIT.harness;
    }
  }
}

export function isGauntletError(e: unknown): e is GauntletError {
  return e instanceof GauntletError;
}

/** A message for any thrown value, without a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
