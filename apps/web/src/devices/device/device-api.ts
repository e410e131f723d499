import type { AttributeScopeName, AttributeValues, DeviceDto, Json, TimeseriesValues } from '@rivulet/api-types';
import { api } from '../../api/client';

/** The REST calls of the device page (ThingsBoard's paths), typed with @rivulet/api-types. */

export const SCOPES: readonly AttributeScopeName[] = ['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'];

const telemetry = (deviceId: string) => `/api/plugins/telemetry/DEVICE/${encodeURIComponent(deviceId)}`;

export function getDevice(deviceId: string): Promise<DeviceDto> {
  return api<DeviceDto>(`/api/device/${encodeURIComponent(deviceId)}`);
}

export function getTimeseriesKeys(deviceId: string): Promise<string[]> {
  return api<string[]>(`${telemetry(deviceId)}/keys/timeseries`);
}

/** Latest value of each key (typed values). */
export function getLatest(deviceId: string, keys: readonly string[]): Promise<TimeseriesValues> {
  if (keys.length === 0) return Promise.resolve({});
  return api<TimeseriesValues>(`${telemetry(deviceId)}/values/timeseries`, { query: { keys: keys.join(','), useStrictDataTypes: true } });
}

export interface HistoryQuery {
  key: string;
  startTs: number;
  endTs: number;
  agg: 'NONE' | 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'COUNT';
  interval?: number | undefined;
  limit: number;
  orderBy?: 'ASC' | 'DESC';
}

export function getHistory(deviceId: string, q: HistoryQuery, signal?: AbortSignal): Promise<TimeseriesValues> {
  return api<TimeseriesValues>(`${telemetry(deviceId)}/values/timeseries`, {
    query: { keys: q.key, startTs: q.startTs, endTs: q.endTs, agg: q.agg, interval: q.interval, limit: q.limit, orderBy: q.orderBy, useStrictDataTypes: true },
    ...(signal ? { signal } : {}),
  });
}

export function getAttributes(deviceId: string, scope: AttributeScopeName): Promise<AttributeValues> {
  return api<AttributeValues>(`${telemetry(deviceId)}/values/attributes/${scope}`);
}

export function saveAttribute(deviceId: string, scope: AttributeScopeName, key: string, value: Json): Promise<void> {
  return api<void>(`${telemetry(deviceId)}/attributes/${scope}`, { method: 'POST', body: { [key]: value } });
}

export function deleteAttribute(deviceId: string, scope: AttributeScopeName, key: string): Promise<void> {
  return api<void>(`${telemetry(deviceId)}/${scope}`, { method: 'DELETE', query: { keys: key } });
}

export interface RpcRequest {
  method: string;
  params: Json;
  timeout: number;
}

export function sendRpc(deviceId: string, twoWay: boolean, req: RpcRequest): Promise<Json | undefined> {
  return api<Json | undefined>(`/api/rpc/${twoWay ? 'twoway' : 'oneway'}/${encodeURIComponent(deviceId)}`, { method: 'POST', body: req });
}

/** A value for a table cell: JSON for objects and arrays, the text otherwise. */
export function displayValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** "12 s ago", "3 min ago", "2 h ago", or the date for older times. */
export function ago(ts: number, now: number): string {
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ts).toLocaleString();
}
