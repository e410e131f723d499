import { BadRequestError, isUuid } from '@rivulet/core';
import type { Page, PageQuery } from '@rivulet/storage';
import { likeContains, num } from './sql-util';
import type { SqlClient } from './sql-client';

export interface PagedSelect {
  /** `SELECT ... FROM ... WHERE ...` of every matching row, without ORDER BY or LIMIT. */
  filtered: string;
  params: unknown[];
  /** API sort property -> SQL column. */
  sortColumns: Readonly<Record<string, string>>;
  defaultSort: string;
}

export function checkPage(page: PageQuery): void {
  if (!Number.isInteger(page.pageSize) || page.pageSize < 1) throw new BadRequestError('pageSize must be a positive integer');
  if (!Number.isInteger(page.page) || page.page < 0) throw new BadRequestError('page must be a non-negative integer');
}

/**
 * One ThingsBoard page from one statement: the count and the page come from the same snapshot, so
 * totalElements always agrees with the rows, and a page past the end still reports the total.
 * Default order is createdTime DESC, as in ThingsBoard; id breaks ties so pages never overlap.
 */
export async function selectPage<R extends object, T>(client: SqlClient, q: PagedSelect, page: PageQuery, map: (row: R) => T): Promise<Page<T>> {
  checkPage(page);
  const prop = page.sortProperty ?? q.defaultSort;
  const column = Object.hasOwn(q.sortColumns, prop) ? q.sortColumns[prop] : undefined;
  if (column === undefined) {
    throw new BadRequestError(`Unsupported sortProperty "${prop}"; use one of ${Object.keys(q.sortColumns).join(', ')}`);
  }
  const dir = (page.sortOrder ?? 'DESC') === 'ASC' ? 'ASC' : 'DESC';
  const n = q.params.length;
  const sql = `
    WITH f AS (${q.filtered})
    SELECT c.total AS page_total, p.*
      FROM (SELECT count(*) AS total FROM f) c
      LEFT JOIN LATERAL (
        SELECT * FROM f ORDER BY ${column} ${dir}, id ${dir} LIMIT $${n + 1} OFFSET $${n + 2}
      ) p ON true
     ORDER BY p.${column} ${dir}, p.id ${dir}`;
  const { rows } = await client.query<R & { page_total: unknown; id: unknown }>(sql, [...q.params, page.pageSize, page.page * page.pageSize]);
  const totalElements = num(rows[0]?.page_total ?? 0);
  const data = rows.filter((r) => r.id !== null && r.id !== undefined).map(map);
  return {
    data,
    totalPages: Math.ceil(totalElements / page.pageSize),
    totalElements,
    hasNext: (page.page + 1) * page.pageSize < totalElements,
  };
}

/**
 * A tenant's page of one table: `columns` of `table` where tenant_id matches, `searchColumn`
 * containing `page.textSearch` (case-insensitive, wildcards taken literally), created time first by
 * default. A tenant id that is not a UUID has no rows.
 */
export function selectTenantPage<R extends object, T>(
  client: SqlClient,
  q: { table: string; columns?: string; tenantId: string; searchColumn: string; sortColumns: Readonly<Record<string, string>> },
  page: PageQuery,
  map: (row: R) => T,
): Promise<Page<T>> {
  if (!isUuid(q.tenantId)) return Promise.resolve({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
  const search = page.textSearch?.trim();
  const params: unknown[] = [q.tenantId];
  let where = 'tenant_id = $1';
  if (search) {
    params.push(likeContains(search));
    where += ` AND ${q.searchColumn} ILIKE $2`;
  }
  return selectPage<R, T>(
    client,
    { filtered: `SELECT ${q.columns ?? '*'} FROM ${q.table} WHERE ${where}`, params, sortColumns: q.sortColumns, defaultSort: 'createdTime' },
    page,
    map,
  );
}

/**
 * A page of a table that belongs to no tenant (tenants, tenant profiles: the system administrator's
 * lists), as selectTenantPage without the tenant: rows whose `searchColumn` contains `page.textSearch`.
 */
export function selectSearchPage<R extends object, T>(
  client: SqlClient,
  q: { table: string; searchColumn: string; sortColumns: Readonly<Record<string, string>> },
  page: PageQuery,
  map: (row: R) => T,
): Promise<Page<T>> {
  const search = page.textSearch?.trim();
  const params: unknown[] = search ? [likeContains(search)] : [];
  const where = search ? ` WHERE ${q.searchColumn} ILIKE $1` : '';
  return selectPage<R, T>(client, { filtered: `SELECT * FROM ${q.table}${where}`, params, sortColumns: q.sortColumns, defaultSort: 'createdTime' }, page, map);
}
