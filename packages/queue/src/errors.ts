import { ErrorCode, RivuletError } from '@rivulet/core';

/**
 * Raised by produce/subscribe after close(), and by produce calls still waiting for room when the
 * queue closes: the records were not (all) accepted, so the caller must not treat them as queued.
 * Shared by every Queue implementation so callers can test for one class.
 */
export class QueueClosedError extends RivuletError {
  constructor(kind: string, options?: { cause?: unknown }) {
    super(ErrorCode.UNAVAILABLE, `The ${kind} queue is closed`, options);
    this.name = 'QueueClosedError';
  }
}
