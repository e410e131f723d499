import { formatIssues } from '@rivulet/api-types';
import { isUuid } from '@rivulet/core';
import type { PageQuery } from '@rivulet/storage';
import { badParam, invalidBody } from './api-error';

/** A path or query id: 400 unless it is a UUID. */
export function parseId(value: string | undefined, name: string): string {
  if (!isUuid(value)) throw badParam(`Incorrect ${name} '${value ?? ''}': not a UUID`);
  return value.toLowerCase();
}

/** The part of a zod schema parseBody uses (typed structurally: zod itself is api-types' dependency). */
export interface BodySchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: Parameters<typeof formatIssues>[0] };
}

/** Validates a body with its schema; 400 naming each failing field. */
export function parseBody<T>(schema: BodySchema<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw invalidBody(formatIssues(r.error));
  return r.data;
}

/** A query parameter that is present and not empty, else undefined. */
export function optionalParam(query: URLSearchParams, name: string): string | undefined {
  const v = query.get(name);
  return v === null || v === '' ? undefined : v;
}

export function requiredParam(query: URLSearchParams, name: string): string {
  const v = optionalParam(query, name);
  if (v === undefined) throw badParam(`Parameter '${name}' can't be empty!`);
  return v;
}

const INT_RE = /^-?\d+$/;

export function intParam(query: URLSearchParams, name: string, opts: { min?: number; max?: number }): number | undefined {
  const v = optionalParam(query, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!INT_RE.test(v) || !Number.isSafeInteger(n)) throw badParam(`Parameter '${name}' must be an integer, got '${v}'`);
  if (opts.min !== undefined && n < opts.min) throw badParam(`Parameter '${name}' must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw badParam(`Parameter '${name}' must be at most ${opts.max}, got ${n}`);
  return n;
}

export function boolParam(query: URLSearchParams, name: string): boolean | undefined {
  const v = optionalParam(query, name);
  if (v === undefined) return undefined;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw badParam(`Parameter '${name}' must be true or false, got '${v}'`);
}

/** One of the allowed values (compared case-insensitively, answered in the allowed spelling). */
export function enumParam<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const v = optionalParam(query, name);
  if (v === undefined) return undefined;
  const found = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (found === undefined) throw badParam(`Parameter '${name}' must be one of ${allowed.join(', ')}, got '${v}'`);
  return found;
}

export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 1000;

/**
 * ThingsBoard's page parameters (pageSize, page, textSearch, sortProperty, sortOrder). ThingsBoard
 * requires pageSize; Rivulet defaults it and caps it rather than failing. As in ThingsBoard's
 * createPageLink, a sort property without an order sorts ascending.
 */
export function pageParams<S extends string>(q: URLSearchParams, sortProperties: readonly S[]): PageQuery & { sortProperty: S | undefined } {
  const sortProperty = enumParam(q, 'sortProperty', sortProperties);
  return {
    pageSize: Math.min(intParam(q, 'pageSize', { min: 1 }) ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    page: intParam(q, 'page', { min: 0 }) ?? 0,
    textSearch: optionalParam(q, 'textSearch'),
    sortProperty,
    sortOrder: enumParam(q, 'sortOrder', ['ASC', 'DESC'] as const) ?? (sortProperty !== undefined ? 'ASC' : undefined),
  };
}
