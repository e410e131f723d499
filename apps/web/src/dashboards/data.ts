import { useEffect, useMemo, useRef, useState } from 'react';
import { useQueries, useQuery } from '@tanstack/react-query';
import type { DeviceDto, DevicePage, TimeseriesValues } from '@rivulet/api-types';
import { api } from '../api/client';
import { numericValue } from '../charts/values';
import { socket, type SubscriptionSpec, type WsData } from '../api/socket';
import type { AliasTarget, Source, TbDataKey } from './model';
import { MAX_LIVE_POINTS, resolveWindow, type TbTimewindow, type Window } from './timewindow';

/** A device a widget shows, with the keys it shows of it. */
export interface BoundDevice {
  id: string;
  name: string;
  keys: TbDataKey[];
}

export const deviceQuery = (id: string) => ({
  queryKey: ['device', id],
  queryFn: () => api<DeviceDto>(`/api/device/${id}`),
  staleTime: 60_000,
});

/** Resolves a widget's sources (aliases) to devices with names; a device that is gone is left out. */
export function useBoundDevices(sources: Source[]): { devices: BoundDevice[]; loading: boolean; error: unknown; unsupported: string | null } {
  const typeTargets = sources.map((s) => s.target).filter((t): t is Extract<AliasTarget, { kind: 'deviceType' }> => t.kind === 'deviceType');
  const typeQueries = useQueries({
    queries: typeTargets.flatMap((t) =>
      t.types.map((type) => ({
        queryKey: ['devices-of-type', type, t.nameFilter],
        queryFn: () => api<DevicePage>('/api/tenant/devices', { query: { type, pageSize: 100, page: 0, textSearch: t.nameFilter, sortProperty: 'name', sortOrder: 'ASC' } }),
        staleTime: 30_000,
      })),
    ),
  });
  const idsFromTypes = typeQueries.flatMap((q) => q.data?.data ?? []);
  const explicitIds = [...new Set(sources.flatMap((s) => (s.target.kind === 'ids' ? s.target.ids : [])))];
  const infoQueries = useQueries({ queries: explicitIds.map((id) => ({ ...deviceQuery(id), retry: false })) });
  const byId = new Map<string, DeviceDto>();
  for (const d of idsFromTypes) byId.set(d.id.id, d);
  for (const q of infoQueries) if (q.data) byId.set(q.data.id.id, q.data);

  const devices: BoundDevice[] = [];
  const seen = new Map<string, BoundDevice>();
  let typeIndex = 0;
  for (const s of sources) {
    let ids: string[] = [];
    if (s.target.kind === 'ids') ids = s.target.ids;
    else if (s.target.kind === 'deviceType') {
      const n = s.target.types.length;
      ids = typeQueries.slice(typeIndex, typeIndex + n).flatMap((q) => (q.data?.data ?? []).map((d) => d.id.id));
      typeIndex += n;
    }
    for (const id of ids) {
      const d = byId.get(id);
      if (!d) continue;
      const existing = seen.get(id);
      if (existing) {
        for (const k of s.keys) if (!existing.keys.some((x) => x.name === k.name)) existing.keys.push(k);
      } else {
        const b = { id, name: d.name, keys: [...s.keys] };
        seen.set(id, b);
        devices.push(b);
      }
    }
  }
  const unsupported = sources.map((s) => s.target).find((t): t is Extract<AliasTarget, { kind: 'unsupported' }> => t.kind === 'unsupported');
  const loading = typeQueries.some((q) => q.isPending) || infoQueries.some((q) => q.isPending);
  // A deleted device is a 404: the widget shows the others. Anything else is an error.
  const error = [...typeQueries, ...infoQueries].find((q) => q.error && !(q.error as { status?: number }).status?.toString().startsWith('4'))?.error ?? null;
  return { devices, loading, error, unsupported: unsupported ? unsupported.reason : null };
}

/** The time-series keys a device has (what the picker offers). */
export function useDeviceKeys(deviceId: string | null) {
  return useQuery({
    queryKey: ['ts-keys', deviceId],
    queryFn: () => api<string[]>(`/api/plugins/telemetry/DEVICE/${deviceId}/keys/timeseries`),
    enabled: !!deviceId,
    staleTime: 15_000,
  });
}

export type Latest = Record<string, Record<string, { ts: number; value: string | null }>>;

/**
 * The latest value of each bound key, live: one TIMESERIES subscription per device (its first
 * answer is the current values), dropped when the widget goes.
 */
export function useLatestValues(devices: BoundDevice[]): Latest {
  const [latest, setLatest] = useState<Latest>({});
  const specKey = JSON.stringify(devices.map((d) => [d.id, d.keys.map((k) => k.name).sort()]));
  useEffect(() => {
    const specs = JSON.parse(specKey) as Array<[string, string[]]>;
    const unsubs = specs
      .filter(([, keys]) => keys.length > 0)
      .map(([id, keys]) =>
        socket.subscribe({ type: 'TIMESERIES', entityType: 'DEVICE', entityId: id, scope: 'LATEST_TELEMETRY', keys: keys.join(',') }, (data: WsData) => {
          setLatest((prev) => {
            const dev = { ...(prev[id] ?? {}) };
            for (const [key, points] of Object.entries(data)) {
              for (const [ts, value] of points) if (!dev[key] || ts >= dev[key].ts) dev[key] = { ts, value };
            }
            return { ...prev, [id]: dev };
          });
        }),
      );
    return () => unsubs.forEach((u) => u());
  }, [specKey]);
  return latest;
}

export interface SeriesDef {
  deviceId: string;
  deviceName: string;
  key: string;
  label: string;
  color: string;
}

/** One series' points, oldest first; non-numeric values are null (a gap). */
export interface Series {
  def: SeriesDef;
  points: Array<[number, number | null]>;
}

/**
 * Adds a point in time order: appended in the usual case, inserted when updates arrive out of order
 * (the rule engine may finish two messages of a device in either order), replaced for the same ts.
 */
export function insertPoint(points: Array<[number, number | null]>, ts: number, value: number | null): void {
  const n = points.length;
  if (n === 0 || points[n - 1]![0] < ts) {
    points.push([ts, value]);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]![0] < ts) lo = mid + 1;
    else hi = mid;
  }
  if (points[lo]?.[0] === ts) points[lo] = [ts, value];
  else points.splice(lo, 0, [ts, value]);
}

const PAGE = 50_000;

/** Reads one device's keys over the window: raw points in pages of 50,000 (newest first, up to the limit), or aggregated buckets. */
export async function readHistory(deviceId: string, keys: string[], w: Window, signal?: AbortSignal): Promise<Record<string, Array<[number, number | null]>>> {
  const out: Record<string, Array<[number, number | null]>> = {};
  for (const k of keys) out[k] = [];
  const path = `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries`;
  if (w.agg !== 'NONE') {
    const res = await api<TimeseriesValues>(path, { query: { keys: keys.join(','), startTs: w.startTs, endTs: w.endTs, agg: w.agg, interval: w.interval, limit: Math.min(w.limit, PAGE), orderBy: 'ASC', useStrictDataTypes: true }, signal });
    for (const k of keys) for (const p of res[k] ?? []) out[k]!.push([p.ts, numericValue(p.value)]);
    return out;
  }
  // Newest first, page by page: all keys in one read, then each key that filled its page alone.
  const desc: Record<string, Array<{ ts: number; value: unknown }>> = Object.fromEntries(keys.map((k) => [k, []]));
  const read = async (ks: string[], endTs: number, limit: number) =>
    api<TimeseriesValues>(path, { query: { keys: ks.join(','), startTs: w.startTs, endTs, limit, orderBy: 'DESC', agg: 'NONE', useStrictDataTypes: true }, signal });
  const first = Math.min(PAGE, w.limit);
  const res = await read(keys, w.endTs, first);
  for (const k of keys) {
    let pts = res[k] ?? [];
    desc[k]!.push(...pts);
    while (pts.length >= PAGE && desc[k]!.length < w.limit) {
      const page = await read([k], pts[pts.length - 1]!.ts - 1, Math.min(PAGE, w.limit - desc[k]!.length));
      pts = page[k] ?? [];
      desc[k]!.push(...pts);
    }
  }
  for (const k of keys) {
    const pts = desc[k]!;
    const o = out[k]!;
    for (let i = pts.length - 1; i >= 0; i--) o.push([pts[i]!.ts, numericValue(pts[i]!.value)]);
  }
  return out;
}

/**
 * The series of a chart over the dashboard's time window. History: one read. Realtime, raw: the
 * window's points, then live ones appended as the WebSocket delivers them, the window sliding (older
 * points dropped, at most MAX_LIVE_POINTS per series). Realtime, aggregated: read again every
 * interval. Re-renders at most once per animation frame however fast points arrive.
 */
export function useSeries(defs: SeriesDef[], tw: TbTimewindow): { series: Series[]; window: Window; loading: boolean; error: unknown; version: number; reload: () => void } {
  const defsKey = JSON.stringify(defs);
  const twKey = JSON.stringify(tw);
  const [state, setState] = useState<{ loading: boolean; error: unknown; window: Window; version: number }>(() => ({ loading: true, error: null, window: resolveWindow(tw), version: 0 }));
  const store = useRef<Series[]>([]);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const defs = JSON.parse(defsKey) as SeriesDef[];
    const tw = JSON.parse(twKey) as TbTimewindow;
    const w = resolveWindow(tw);
    const abort = new AbortController();
    const series: Series[] = defs.map((def): Series => ({ def, points: [] }));
    const index = new Map(series.map((s) => [`${s.def.deviceId}\u0000${s.def.key}`, s]));
    store.current = series;
    let frame = 0;
    let loaded = false;
    let buffered: Array<[string, WsData]> = [];
    const bump = (patch: Partial<{ loading: boolean; error: unknown; window: Window }> = {}) => {
      if (frame) cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        frame = 0;
        setState((s) => ({ ...s, ...patch, version: s.version + 1 }));
      });
    };
    setState((s) => ({ ...s, loading: true, error: null, window: w }));

    const byDevice = new Map<string, string[]>();
    for (const d of defs) byDevice.set(d.deviceId, [...(byDevice.get(d.deviceId) ?? []), d.key]);

    const append = (deviceId: string, data: WsData) => {
      for (const [key, points] of Object.entries(data)) {
        const s = index.get(`${deviceId}\u0000${key}`);
        if (!s) continue;
        for (const [ts, v] of points) insertPoint(s.points, ts, numericValue(v));
      }
      slide();
    };
    const slide = () => {
      const cutoff = Date.now() - w.spanMs;
      for (const s of series) {
        let drop = 0;
        while (drop < s.points.length && s.points[drop]![0] < cutoff) drop++;
        drop = Math.max(drop, s.points.length - MAX_LIVE_POINTS);
        if (drop > 0) s.points.splice(0, drop);
      }
      const now = Date.now();
      bump({ window: { ...w, startTs: now - w.spanMs, endTs: now } });
    };

    const live = w.mode === 'realtime' && w.agg === 'NONE';
    const unsubs: Array<() => void> = [];
    if (live) {
      // Subscribed before the read so nothing written meanwhile is lost; held until the read is in.
      for (const [deviceId, keys] of byDevice) {
        unsubs.push(
          // startTs: every point from the window's start, not only newer latest values (batches, late points).
          socket.subscribe({ type: 'TIMESERIES', entityType: 'DEVICE', entityId: deviceId, scope: 'LATEST_TELEMETRY', keys: keys.join(','), startTs: w.startTs } as SubscriptionSpec, (data) => {
            if (loaded) append(deviceId, data);
            else buffered.push([deviceId, data]);
          }),
        );
      }
    }

    const load = async () => {
      const win = resolveWindow(tw);
      const results = await Promise.all([...byDevice].map(async ([deviceId, keys]) => [deviceId, await readHistory(deviceId, keys, win, abort.signal)] as const));
      if (abort.signal.aborted) return;
      for (const [deviceId, perKey] of results) {
        for (const [key, pts] of Object.entries(perKey)) {
          const s = index.get(`${deviceId}\u0000${key}`);
          if (s) s.points = pts;
        }
      }
      loaded = true;
      for (const [deviceId, data] of buffered) append(deviceId, data);
      buffered = [];
      bump({ loading: false, error: null, window: win });
    };
    load().catch((e: unknown) => {
      if (!abort.signal.aborted) bump({ loading: false, error: e });
    });

    if (live) {
      // After a lost connection (server restart) the socket resubscribes; what was written while it
      // was down is read over REST from each series' last point, so the chart has no hole.
      // The last point of each device when the connection dropped (taken then: after reconnecting,
      // the new subscription's first answer may land before the read and move the last point on).
      let downSince: Map<string, number> | null = null;
      unsubs.push(
        socket.onState((st) => {
          if (st === 'closed' && !downSince && loaded) {
            downSince = new Map([...byDevice].map(([deviceId, keys]) => [deviceId, Math.min(...keys.map((k) => index.get(`${deviceId}\u0000${k}`)?.points.at(-1)?.[0] ?? Date.now() - w.spanMs))]));
          }
          if (st !== 'open' || !downSince) return;
          const since = downSince;
          downSince = null;
          const now = Date.now();
          for (const [deviceId, keys] of byDevice) {
            const gap: Window = { ...w, startTs: Math.max((since.get(deviceId) ?? now - w.spanMs) + 1, now - w.spanMs), endTs: now };
            readHistory(deviceId, keys, gap, abort.signal)
              .then((perKey) => {
                for (const [key, pts] of Object.entries(perKey)) {
                  const s = index.get(`${deviceId}\u0000${key}`);
                  if (s) for (const [ts, v] of pts) insertPoint(s.points, ts, v);
                }
                slide();
              })
              .catch(() => undefined);
          }
        }),
      );
    }

    const timers: Array<ReturnType<typeof setInterval>> = [];
    if (live) timers.push(setInterval(slide, 5000));
    if (w.mode === 'realtime' && w.agg !== 'NONE') {
      timers.push(setInterval(() => void load().catch(() => undefined), Math.max(w.interval, 10_000)));
    }
    return () => {
      abort.abort();
      unsubs.forEach((u) => u());
      timers.forEach(clearInterval);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [defsKey, twKey, reload]);

  return useMemo(
    () => ({ series: store.current, window: state.window, loading: state.loading, error: state.error, version: state.version, reload: () => setReload((r) => r + 1) }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [state],
  );
}
