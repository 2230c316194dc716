/**
 * Every error this package raises on purpose carries a stable `code`; callers and tests branch on
 * the code, never on the message. The SDK cannot import agent-core, so it keeps its own copy of the
 * class with the same shape (code, message, details).
 */
export class OutpostError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, details?: Record<string, unknown>, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OutpostError';
    this.code = code;
    this.details = details;
  }
}

export function isOutpostError(err: unknown, code?: string): err is OutpostError {
  return err instanceof OutpostError && (code === undefined || err.code === code);
}
