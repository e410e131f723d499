/**
 * Error codes shared by every package. The HTTP status is a hint for protocol edges; other edges
 * (MQTT, CoAP) map `code` to their own return codes.
 */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  TIMEOUT: 'TIMEOUT',
  UNAVAILABLE: 'UNAVAILABLE',
  INVALID_CONFIG: 'INVALID_CONFIG',
  INVALID_RULE_CHAIN: 'INVALID_RULE_CHAIN',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  TIMEOUT: 504,
  UNAVAILABLE: 503,
  INVALID_CONFIG: 400,
  INVALID_RULE_CHAIN: 400,
  INTERNAL: 500,
};

export class RivuletError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RivuletError';
    this.code = code;
    this.status = STATUS[code];
    this.details = options?.details;
  }
}

export class BadRequestError extends RivuletError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(ErrorCode.BAD_REQUEST, message, options);
    this.name = 'BadRequestError';
  }
}

export class NotFoundError extends RivuletError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.NOT_FOUND, message, options);
    this.name = 'NotFoundError';
  }
}

export class UnauthorizedError extends RivuletError {
  constructor(message = 'Authentication failed', options?: { cause?: unknown }) {
    super(ErrorCode.UNAUTHORIZED, message, options);
    this.name = 'UnauthorizedError';
  }
}

export class ConflictError extends RivuletError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CONFLICT, message, options);
    this.name = 'ConflictError';
  }
}

export function isRivuletError(e: unknown): e is RivuletError {
  return e instanceof RivuletError;
}

/** A message safe to show a caller, for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
