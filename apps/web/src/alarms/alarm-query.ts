import type { AlarmSeverityDto } from '@rivulet/api-types';

/** Pure helpers of the alarm table: the REST query for a set of filters, and how severities and statuses read. */

export const SEVERITIES: readonly AlarmSeverityDto[] = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'];

/** The status filter offered to a person: ThingsBoard's searchStatus values (ANY = no filter). */
export const STATUS_FILTERS = [
  { value: 'ACTIVE', label: 'Active' },
  { value: 'CLEARED', label: 'Cleared' },
  { value: 'UNACK', label: 'Unacknowledged' },
  { value: 'ACK', label: 'Acknowledged' },
] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number]['value'];

export const SORTABLE = ['createdTime', 'startTs', 'type', 'severity'] as const;
export type AlarmSortProperty = (typeof SORTABLE)[number];

export interface AlarmFilters {
  severity: AlarmSeverityDto | null;
  status: StatusFilter | null;
  /** The originating device; null: every originator of the tenant. */
  deviceId: string | null;
  textSearch: string;
  page: number;
  pageSize: number;
  sortProperty: AlarmSortProperty;
  sortOrder: 'ASC' | 'DESC';
}

export const DEFAULT_FILTERS: AlarmFilters = {
  severity: null,
  status: null,
  deviceId: null,
  textSearch: '',
  page: 0,
  pageSize: 20,
  sortProperty: 'createdTime',
  sortOrder: 'DESC',
};

/**
 * The request for a page of alarms: one device's alarms come from `/api/alarm/DEVICE/{id}` (the
 * tenant-wide `/api/alarms` has no originator filter); the other filters are the same query on both.
 */
export function alarmRequest(f: AlarmFilters): { path: string; query: Record<string, string | number> } {
  const query: Record<string, string | number> = {
    pageSize: f.pageSize,
    page: f.page,
    sortProperty: f.sortProperty,
    sortOrder: f.sortOrder,
  };
  if (f.status) query.searchStatus = f.status;
  if (f.severity) query.severity = f.severity;
  const text = f.textSearch.trim();
  if (text) query.textSearch = text;
  const path = f.deviceId ? `/api/alarm/DEVICE/${encodeURIComponent(f.deviceId)}` : '/api/alarms';
  return { path, query };
}

/** Clicking a column header: a new column sorts descending first (newest, most severe), the same column flips. */
export function nextSort(f: Pick<AlarmFilters, 'sortProperty' | 'sortOrder'>, column: AlarmSortProperty): Pick<AlarmFilters, 'sortProperty' | 'sortOrder'> {
  if (f.sortProperty !== column) return { sortProperty: column, sortOrder: 'DESC' };
  return { sortProperty: column, sortOrder: f.sortOrder === 'DESC' ? 'ASC' : 'DESC' };
}

export const SEVERITY_COLOR: Record<AlarmSeverityDto, string> = {
  CRITICAL: 'red',
  MAJOR: 'orange',
  MINOR: 'yellow',
  WARNING: 'blue',
  INDETERMINATE: 'gray',
};

export function statusLabel(a: { cleared: boolean; acknowledged: boolean }): string {
  return `${a.cleared ? 'Cleared' : 'Active'}, ${a.acknowledged ? 'acknowledged' : 'unacknowledged'}`;
}

/** Active and unacknowledged stands out; cleared recedes. */
export function statusColor(a: { cleared: boolean; acknowledged: boolean }): string {
  if (a.cleared) return 'gray';
  return a.acknowledged ? 'orange' : 'red';
}

/** A timestamp for a person; 0 is ThingsBoard's "not yet". */
export function formatTs(ts: number): string {
  return ts > 0 ? new Date(ts).toLocaleString() : '—';
}

/** What a bulk action can do to a selection: the alarms still to acknowledge, the ones still to clear. */
export function actionable<T extends { id: { id: string }; acknowledged: boolean; cleared: boolean }>(alarms: readonly T[], selected: ReadonlySet<string>): { toAck: T[]; toClear: T[] } {
  const chosen = alarms.filter((a) => selected.has(a.id.id));
  return { toAck: chosen.filter((a) => !a.acknowledged), toClear: chosen.filter((a) => !a.cleared) };
}
