import { useCallback, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useSubscription } from '../../api/use-subscription';
import { getLatest, getTimeseriesKeys } from './device-api';

export interface LatestValue {
  ts: number;
  value: unknown;
}

/**
 * The latest value of every time-series key of a device: the keys and their values over REST, then
 * live over the WebSocket (TIMESERIES with no keys: every key, new ones included).
 */
export function useLatestTelemetry(deviceId: string) {
  const query = useQuery({
    queryKey: ['device-latest', deviceId],
    queryFn: async () => {
      const keys = await getTimeseriesKeys(deviceId);
      const values = await getLatest(deviceId, keys);
      const out: Record<string, LatestValue> = {};
      for (const key of keys) {
        const p = values[key]?.[0];
        if (p) out[key] = { ts: p.ts, value: p.value };
      }
      return out;
    },
  });
  const [live, setLive] = useState<Record<string, LatestValue>>({});
  const onData = useCallback((data: Record<string, Array<[number, string | null]>>) => {
    setLive((prev) => {
      let next = prev;
      for (const [key, points] of Object.entries(data)) {
        // The newest point of the update (a snapshot may carry several).
        let best: [number, string | null] | undefined;
        for (const p of points) if (!best || p[0] > best[0]) best = p;
        if (!best) continue;
        const cur = next[key];
        if (cur && cur.ts > best[0]) continue;
        if (next === prev) next = { ...prev };
        next[key] = { ts: best[0], value: best[1] };
      }
      return next;
    });
  }, []);
  useSubscription({ type: 'TIMESERIES', entityType: 'DEVICE', entityId: deviceId }, onData);

  // REST values are typed; a live value (a string on the wire) wins when it is newer.
  let merged: Record<string, LatestValue> | undefined;
  if (query.data) {
    merged = { ...query.data };
    for (const [key, v] of Object.entries(live)) {
      const rest = merged[key];
      if (!rest || v.ts > rest.ts) merged[key] = v;
    }
  }
  return { ...query, values: merged };
}
