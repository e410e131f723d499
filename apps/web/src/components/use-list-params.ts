import { useEffect, useState } from 'react';
import { useDebouncedValue } from '@mantine/hooks';
import { useSearchParams } from 'react-router';

/** What a paged list page shares (ThingsBoard's page link): page, page size, name search and sort. */
export type SortOrder = 'ASC' | 'DESC';
export interface ListParams<S extends string> {
  page: number;
  pageSize: number;
  textSearch: string;
  sortProperty: S;
  sortOrder: SortOrder;
}

export const PAGE_SIZES = ['10', '20', '50'];

/** The order a column sorts in when first chosen: newest first for the creation time, A to Z otherwise. */
export const firstOrder = (property: string): SortOrder => (property === 'createdTime' ? 'DESC' : 'ASC');

/**
 * Paging, search, sort and the page's `filters` (each a param name -> its key in the URL) live in the
 * URL, so a reload or a shared link shows the same page. Unset means page 0, 10 rows, no search, the
 * newest first (every list here has createdTime among `sortable`), no filter.
 */
export function useListParams<S extends string, F extends string = never>(
  sortable: readonly S[],
  filters: Readonly<Record<F, string>> = {} as Record<F, string>,
): [ListParams<S> & Record<F, string | null>, (patch: Partial<ListParams<S> & Record<F, string | null>>) => void] {
  const [sp, setSp] = useSearchParams();
  const filterKeys = Object.entries(filters) as Array<[F, string]>;
  const sortProperty = (sortable as readonly string[]).includes(sp.get('sort') ?? '') ? (sp.get('sort') as S) : ('createdTime' as S);
  const params = {
    page: Math.max(0, Number(sp.get('page') ?? 0) || 0),
    pageSize: PAGE_SIZES.includes(sp.get('pageSize') ?? '') ? Number(sp.get('pageSize')) : 10,
    textSearch: sp.get('q') ?? '',
    ...(Object.fromEntries(filterKeys.map(([name, key]) => [name, sp.get(key) || null])) as Record<F, string | null>),
    sortProperty,
    sortOrder: sp.get('order') === 'ASC' ? 'ASC' : sp.get('order') === 'DESC' ? 'DESC' : firstOrder(sortProperty),
  } as ListParams<S> & Record<F, string | null>;
  const update = (patch: Partial<ListParams<S> & Record<F, string | null>>) => {
    const next: ListParams<S> & Partial<Record<string, unknown>> = { ...params, ...patch };
    const out = new URLSearchParams();
    if (next.page) out.set('page', String(next.page));
    if (next.pageSize !== 10) out.set('pageSize', String(next.pageSize));
    if (next.textSearch) out.set('q', next.textSearch);
    for (const [name, key] of filterKeys) {
      const value = next[name];
      if (typeof value === 'string' && value) out.set(key, value);
    }
    if (next.sortProperty !== 'createdTime' || next.sortOrder !== 'DESC') {
      out.set('sort', next.sortProperty);
      out.set('order', next.sortOrder);
    }
    setSp(out, { replace: true });
  };
  return [params, update];
}

/** The search box's text; the URL's search follows it 300 ms after typing stops, back on the first page. */
export function useSearchText(textSearch: string, setParams: (patch: { textSearch: string; page: number }) => void): [string, (text: string) => void] {
  const [search, setSearch] = useState(textSearch);
  const [debouncedSearch] = useDebouncedValue(search, 300);
  useEffect(() => {
    if (debouncedSearch !== textSearch) setParams({ textSearch: debouncedSearch, page: 0 });
    // Only the typed text drives this; the URL follows it.
  }, [debouncedSearch]);
  return [search, setSearch];
}

/** A page past the end (rows deleted elsewhere, a stale link): go to the last page. */
export function useLastPageFallback(list: { data?: { data: unknown[]; totalPages: number } | undefined; isPlaceholderData: boolean }, page: number, setParams: (patch: { page: number }) => void): void {
  useEffect(() => {
    const d = list.data;
    if (d && !list.isPlaceholderData && d.data.length === 0 && page > 0) setParams({ page: Math.max(0, d.totalPages - 1) });
  });
}
