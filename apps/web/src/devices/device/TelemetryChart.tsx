import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Alert, Button, Card, Group, MultiSelect, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { TimeSeriesChart, type ChartRenderInfo, type ChartSeries } from '../../charts';
import { useSubscription } from '../../api/use-subscription';
import { EmptyState, ErrorState, LoadingState } from '../../components/PageState';
import { numericValue } from '../../charts/values';
import { AGG_CHOICES, WINDOWS, dropBefore, readHistory, readPlan, type AggChoice, type Point, type WindowValue } from './history';
import type { LatestValue } from './use-latest-telemetry';

type WindowChoice = WindowValue | 'custom';

/** `YYYY-MM-DDTHH:mm` in local time, for a datetime-local input. */
function toLocalInput(ts: number): string {
  const d = new Date(ts - new Date(ts).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** How often buffered live points are drawn (a burst of messages is one redraw). */
const FLUSH_MS = 250;

/**
 * A chart of any keys of the device over a window: history over REST (raw for short windows, averaged
 * buckets for long ones), then, in a realtime window, live points appended over the WebSocket and
 * points older than the window dropped.
 */
export function TelemetryChart({ deviceId, latest }: { deviceId: string; latest: Record<string, LatestValue> | undefined }) {
  const keysAvailable = useMemo(() => (latest ? Object.keys(latest).sort((a, b) => a.localeCompare(b)) : []), [latest]);
  const [keys, setKeys] = useState<string[]>([]);
  const [windowChoice, setWindowChoice] = useState<WindowChoice>('1h');
  const [aggChoice, setAggChoice] = useState<AggChoice>('AUTO');
  const [custom, setCustom] = useState(() => ({ from: toLocalInput(Date.now() - 3_600_000), to: toLocalInput(Date.now()) }));
  const [customApplied, setCustomApplied] = useState<{ startTs: number; endTs: number } | null>(null);
  const [render, setRender] = useState<ChartRenderInfo | null>(null);

  // First visit: the first key with a numeric value is drawn (once: clearing the pick sticks).
  const picked = useRef(false);
  useEffect(() => {
    if (picked.current || !latest) return;
    const first = keysAvailable.find((k) => numericValue(latest[k]?.value) !== null);
    if (first) {
      picked.current = true;
      setKeys((cur) => (cur.length > 0 ? cur : [first]));
    }
  }, [keysAvailable, latest]);

  const realtime = windowChoice !== 'custom';
  const windowMs = realtime ? WINDOWS.find((w) => w.value === windowChoice)!.ms : customApplied ? customApplied.endTs - customApplied.startTs : 0;
  const plan = readPlan(windowMs, aggChoice);
  const liveAppend = realtime && plan.agg === 'NONE';

  const history = useQuery({
    queryKey: ['device-history', deviceId, keys, windowChoice, customApplied, plan.agg, plan.interval],
    enabled: keys.length > 0 && (realtime || customApplied !== null),
    // Aggregated realtime windows are read again each bucket (at most every 10 s); raw ones get live points.
    refetchInterval: realtime && plan.agg !== 'NONE' ? Math.max(plan.interval ?? 0, 10_000) : false,
    staleTime: 0,
    gcTime: 0,
    queryFn: async ({ signal }) => {
      const endTs = realtime ? Date.now() : customApplied!.endTs;
      const startTs = realtime ? endTs - windowMs : customApplied!.startTs;
      const t0 = performance.now();
      const all = await Promise.all(keys.map((k) => readHistory(deviceId, k, startTs, endTs, plan, signal)));
      return { startTs, endTs, fetchMs: performance.now() - t0, byKey: keys.map((k, i) => ({ key: k, ...all[i]! })) };
    },
  });

  // The points drawn: history, then live appends (buffered and flushed every FLUSH_MS).
  const [points, setPoints] = useState<Record<string, Point[]>>({});
  const recentLive = useRef<Array<{ key: string; p: Point }>>([]);
  const buffer = useRef<Array<{ key: string; p: Point }>>([]);
  const [now, setNow] = useState(() => Date.now());
  const lastSlide = useRef(0);

  useEffect(() => {
    const h = history.data;
    if (!h) return;
    const next: Record<string, Point[]> = {};
    for (const { key, points: pts } of h.byKey) next[key] = pts;
    // Live points that came while the history was being read.
    for (const { key, p } of recentLive.current) {
      const arr = next[key];
      if (arr && p[0] > (arr[arr.length - 1]?.[0] ?? -Infinity)) arr.push(p);
    }
    setPoints(next);
    setNow(Date.now());
  }, [history.data]);

  const onLive = useCallback((data: Record<string, Array<[number, string | null]>>) => {
    for (const [key, pts] of Object.entries(data)) for (const [ts, v] of pts) buffer.current.push({ key, p: [ts, numericValue(v)] });
  }, []);
  useSubscription(liveAppend && keys.length > 0 ? { type: 'TIMESERIES', entityType: 'DEVICE', entityId: deviceId, keys: keys.join(',') } : null, onLive);

  useEffect(() => {
    if (!liveAppend) return;
    const t = setInterval(() => {
      const t1 = Date.now();
      const from = t1 - windowMs;
      const incoming = buffer.current;
      buffer.current = [];
      recentLive.current = [...recentLive.current.filter((x) => x.p[0] > t1 - 60_000), ...incoming];
      // Without new points the window slides once a second (a redraw of every point).
      if (incoming.length === 0 && t1 - lastSlide.current < 1000) return;
      lastSlide.current = t1;
      setNow(t1);
      if (incoming.length === 0) {
        setPoints((prev) => {
          let changed = false;
          const next: Record<string, Point[]> = {};
          for (const [k, arr] of Object.entries(prev)) {
            next[k] = dropBefore(arr, from);
            if (next[k] !== arr) changed = true;
          }
          return changed ? next : prev;
        });
        return;
      }
      setPoints((prev) => {
        const next: Record<string, Point[]> = {};
        for (const [k, arr] of Object.entries(prev)) {
          const add = incoming.filter((x) => x.key === k && x.p[0] >= from && x.p[0] > (arr[arr.length - 1]?.[0] ?? -Infinity)).map((x) => x.p);
          add.sort((a, b) => a[0] - b[0]);
          next[k] = add.length > 0 ? dropBefore(arr, from).concat(add) : dropBefore(arr, from);
        }
        return next;
      });
    }, FLUSH_MS);
    return () => clearInterval(t);
  }, [liveAppend, windowMs]);

  // The shown range: the realtime window slides with the clock (every flush); a custom range is fixed.
  const slidingNow = liveAppend ? Math.max(now, history.data?.endTs ?? 0) : (history.data?.endTs ?? now);
  const xRange = realtime
    ? { min: slidingNow - windowMs, max: slidingNow }
    : customApplied
      ? { min: customApplied.startTs, max: customApplied.endTs }
      : undefined;
  const series: ChartSeries[] = useMemo(() => keys.filter((k) => points[k]).map((k) => ({ label: k, points: points[k]! })), [keys, points]);
  const total = series.reduce((n, s) => n + s.points.length, 0);
  const truncated = history.data?.byKey.some((k) => k.truncated) ?? false;

  const applyCustom = () => {
    const startTs = new Date(custom.from).getTime();
    const endTs = new Date(custom.to).getTime();
    if (Number.isFinite(startTs) && Number.isFinite(endTs) && startTs < endTs) setCustomApplied({ startTs, endTs });
  };
  const customInvalid = (() => {
    const a = new Date(custom.from).getTime();
    const b = new Date(custom.to).getTime();
    return !(Number.isFinite(a) && Number.isFinite(b) && a < b);
  })();

  return (
    <Card withBorder padding="md" h="100%" data-testid="telemetry-chart">
      <Stack gap="sm">
        <Title order={4}>Chart</Title>
        <Group gap="xs" wrap="nowrap" align="flex-start">
          <MultiSelect
            size="xs"
            style={{ flex: 1, minWidth: 0 }}
            aria-label="Keys"
            placeholder={keys.length ? undefined : 'Pick keys'}
            data={keysAvailable}
            value={keys}
            onChange={(v) => {
              picked.current = true;
              setKeys(v);
            }}
            searchable
            clearable
            data-testid="chart-keys"
          />
          <Select
            size="xs"
            w={140}
            aria-label="Time window"
            allowDeselect={false}
            data={[...WINDOWS.map((w) => ({ value: w.value, label: w.label })), { value: 'custom', label: 'Custom range' }]}
            value={windowChoice}
            onChange={(v) => v && setWindowChoice(v as WindowChoice)}
            data-testid="chart-window"
          />
          <Select size="xs" w={110} aria-label="Aggregation" allowDeselect={false} data={AGG_CHOICES} value={aggChoice} onChange={(v) => v && setAggChoice(v as AggChoice)} data-testid="chart-agg" />
        </Group>
        {windowChoice === 'custom' && (
          <Group gap="xs" align="flex-end">
            <TextInput size="xs" type="datetime-local" label="From" value={custom.from} onChange={(e) => setCustom({ ...custom, from: e.currentTarget.value })} data-testid="chart-from" />
            <TextInput size="xs" type="datetime-local" label="To" value={custom.to} onChange={(e) => setCustom({ ...custom, to: e.currentTarget.value })} data-testid="chart-to" />
            <Button size="xs" onClick={applyCustom} disabled={customInvalid} data-testid="chart-apply">
              Show
            </Button>
            {customInvalid && (
              <Text size="xs" c="red">
                "From" must be before "To"
              </Text>
            )}
          </Group>
        )}
        {keysAvailable.length === 0 ? (
          <EmptyState title="Nothing to chart yet">Keys appear here once the device sends telemetry.</EmptyState>
        ) : keys.length === 0 ? (
          <EmptyState title="Pick a key">Choose one or more keys above to chart them.</EmptyState>
        ) : !realtime && !customApplied ? (
          <EmptyState title="Pick a range">Choose the start and end, then Show.</EmptyState>
        ) : history.isLoading ? (
          <LoadingState label="Reading history…" />
        ) : history.error ? (
          <ErrorState error={history.error} onRetry={() => void history.refetch()} />
        ) : (
          <>
            <TimeSeriesChart series={series} height={280} xRange={xRange} onRender={setRender} data-testid="device-chart" />
            <Group justify="space-between" gap="xs">
              <Text size="xs" c="dimmed" data-testid="chart-info" data-points={total} data-render-ms={render ? render.ms.toFixed(1) : undefined} data-fetch-ms={history.data ? history.data.fetchMs.toFixed(0) : undefined}>
                {total.toLocaleString()} points · {plan.agg === 'NONE' ? 'raw' : `${plan.agg.toLowerCase()} per ${Math.round((plan.interval ?? 0) / 1000)} s`}
                {liveAppend ? ' · live' : ''}
                {render ? ` · drawn in ${render.ms.toFixed(0)} ms` : ''}
              </Text>
              <Text size="xs" c="dimmed">
                Drag to zoom · double-click to reset
              </Text>
            </Group>
            {truncated && (
              <Alert color="yellow" p="xs">
                Only the newest points of this window are shown; pick an aggregation to see all of it.
              </Alert>
            )}
          </>
        )}
      </Stack>
    </Card>
  );
}
