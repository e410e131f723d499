import { ErrorCodes, type ErrorCodeNumber, type ErrorResponse } from '@rivulet/api-types';
import { ErrorCode, RivuletError, TenantLimitError, type ErrorCode as RivuletErrorCode } from '@rivulet/core';

/**
 * An error that carries ThingsBoard's errorCode number besides Rivulet's code, for the cases where the
 * number is not implied by the code (expired JWT: 11, invalid body: 30).
 */
export class ApiError extends RivuletError {
  readonly errorCode: ErrorCodeNumber;

  constructor(code: RivuletErrorCode, errorCode: ErrorCodeNumber, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ApiError';
    this.errorCode = errorCode;
  }
}

/** 400, errorCode 31: a bad path or query parameter, or data that fails a rule (ThingsBoard's DataValidationException). */
export function badParam(message: string): ApiError {
  return new ApiError(ErrorCode.BAD_REQUEST, ErrorCodes.BAD_REQUEST_PARAMS, message);
}

/** 400, errorCode 30: a request body that is not what the endpoint takes. */
export function invalidBody(message: string): ApiError {
  return new ApiError(ErrorCode.BAD_REQUEST, ErrorCodes.INVALID_ARGUMENTS, message);
}

export function notFound(message = "Requested item wasn't found!"): ApiError {
  return new ApiError(ErrorCode.NOT_FOUND, ErrorCodes.ITEM_NOT_FOUND, message);
}

export function authFailed(message = 'Authentication failed'): ApiError {
  return new ApiError(ErrorCode.UNAUTHORIZED, ErrorCodes.AUTHENTICATION, message);
}

export function permissionDenied(message = "You don't have permission to perform this operation!"): ApiError {
  return new ApiError(ErrorCode.FORBIDDEN, ErrorCodes.PERMISSION_DENIED, message);
}

/** ThingsBoard's errorCode for each of Rivulet's codes, where no ApiError says otherwise. */
const TB_CODE: Record<RivuletErrorCode, ErrorCodeNumber> = {
  BAD_REQUEST: ErrorCodes.BAD_REQUEST_PARAMS,
  UNAUTHORIZED: ErrorCodes.AUTHENTICATION,
  FORBIDDEN: ErrorCodes.PERMISSION_DENIED,
  NOT_FOUND: ErrorCodes.ITEM_NOT_FOUND,
  CONFLICT: ErrorCodes.BAD_REQUEST_PARAMS,
  PAYLOAD_TOO_LARGE: ErrorCodes.BAD_REQUEST_PARAMS,
  TOO_MANY_REQUESTS: ErrorCodes.TOO_MANY_REQUESTS,
  TIMEOUT: ErrorCodes.GENERAL,
  UNAVAILABLE: ErrorCodes.GENERAL,
  INVALID_CONFIG: ErrorCodes.BAD_REQUEST_PARAMS,
  INVALID_RULE_CHAIN: ErrorCodes.BAD_REQUEST_PARAMS,
  INTERNAL: ErrorCodes.GENERAL,
};

/**
 * The JSON error body for any thrown value. Anything that is not a RivuletError is a bug or an
 * infrastructure failure: the caller gets a generic 500 and the details go to the log only.
 */
export function toErrorResponse(e: unknown, now = Date.now()): ErrorResponse {
  if (e instanceof RivuletError) {
    const errorCode = e instanceof ApiError ? e.errorCode : e instanceof TenantLimitError ? ErrorCodes.ENTITIES_LIMIT_EXCEEDED : TB_CODE[e.code];
    const message = e.code === ErrorCode.INTERNAL ? 'Internal server error' : e.message;
    return { status: e.status, message, errorCode, timestamp: now };
  }
  return { status: 500, message: 'Internal server error', errorCode: ErrorCodes.GENERAL, timestamp: now };
}
