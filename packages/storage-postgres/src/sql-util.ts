import { BadRequestError, ConflictError, NotFoundError, isRivuletError } from '@rivulet/core';

/** bigint and count(*) arrive as strings from pg and as numbers from PGlite. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

export function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : num(v);
}

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface PgErrorLike {
  code?: unknown;
  constraint?: unknown;
}

function pgError(e: unknown): PgErrorLike | null {
  return typeof e === 'object' && e !== null ? (e as PgErrorLike) : null;
}

/** PostgreSQL's SQLSTATE of a driver error (both drivers put it on `code`). */
export function sqlState(e: unknown): string | undefined {
  const c = pgError(e)?.code;
  return typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c) ? c : undefined;
}

export function constraintOf(e: unknown): string | undefined {
  const c = pgError(e)?.constraint;
  return typeof c === 'string' ? c : undefined;
}

/**
 * Turns driver errors into the platform's errors: unique violations become ConflictError with the
 * message `conflict` picks for the violated constraint, malformed input (a uuid that is not one)
 * or a row a CHECK constraint refuses BadRequestError, a missing referenced row NotFoundError. Anything else is rethrown untouched.
 */
export function mapDbError(e: unknown, conflict: (constraint: string | undefined) => string, notFound = 'Not found'): never {
  if (isRivuletError(e)) throw e;
  switch (sqlState(e)) {
    case '23505':
      throw new ConflictError(conflict(constraintOf(e)), { cause: e });
    case '23503':
      throw new NotFoundError(notFound, { cause: e });
    case '22P02':
    case '22003':
    // check_violation: a row a constraint refuses (an entity of the null tenant, a user whose tenant does not fit its authority)
    case '23514':
      throw new BadRequestError(e instanceof Error ? e.message : 'Invalid input', { cause: e });
    default:
      throw e;
  }
}

/** Escapes LIKE wildcards so a search for "50%" matches the text "50%". */
export function likeContains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
