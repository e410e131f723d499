import { useMemo, useState } from 'react';
import { Box } from '@mantine/core';
import { useElementSize } from '@mantine/hooks';
import { PALETTE, TimeSeriesChart, type ChartRenderInfo, type ChartSeries } from '../../charts';
import { sourcesOf } from '../model';
import { useBoundDevices, useSeries, type SeriesDef } from '../data';
import { formatValue } from './format';
import { widgetDecimals, type WidgetProps } from './types';
import { WidgetMessage, widgetError } from './WidgetMessage';

/**
 * The height of uPlot's legend under the plot: its items (the time, then one per series) wrap into
 * rows of about 26 px; estimated from the labels rather than measured, so the plot is sized once.
 */
function legendHeight(width: number, labels: string[]): number {
  const items = [150, ...labels.map((l) => l.length * 7.5 + 70)];
  let rows = 1;
  let used = 0;
  for (const w of items) {
    if (used > 0 && used + w > width) {
      rows++;
      used = 0;
    }
    used += w;
  }
  return rows * 26 + 4;
}

/** ThingsBoard's time-series chart: every bound key of every bound device, over the dashboard's time window. */
export function ChartWidget({ config, widget, timewindow }: WidgetProps) {
  const sources = useMemo(() => sourcesOf(config, widget), [config, widget]);
  const bound = useBoundDevices(sources);
  const defs: SeriesDef[] = useMemo(() => {
    const many = bound.devices.length > 1;
    let i = 0;
    return bound.devices.flatMap((d) =>
      d.keys.map((k) => {
        const color = many ? PALETTE[i % PALETTE.length]! : (k.color ?? PALETTE[i % PALETTE.length]!);
        i++;
        return { deviceId: d.id, deviceName: d.name, key: k.name, label: many ? `${d.name} · ${k.label || k.name}` : k.label || k.name, color };
      }),
    );
    // bound.devices is rebuilt each render; its content is what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(bound.devices)]);
  const data = useSeries(defs, timewindow);
  const decimals = widgetDecimals(widget);
  const { ref, width, height } = useElementSize();
  // The last draw's time (ms), shown to tests and measurements as data-render-ms.
  const [render, setRender] = useState<ChartRenderInfo | null>(null);

  const chartSeries: ChartSeries[] = useMemo(
    () => data.series.map((s) => ({ label: s.def.label, color: s.def.color, points: s.points })),
    // A new array each version: the chart re-feeds the same plot.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [data.series, data.version],
  );
  const points = chartSeries.reduce((n, s) => n + s.points.length, 0);

  let body;
  if (bound.unsupported && bound.devices.length === 0) body = <WidgetMessage kind="empty">This widget's data source is not supported here ({bound.unsupported}).</WidgetMessage>;
  else if (bound.error) body = widgetError(bound.error);
  else if (bound.loading) body = <WidgetMessage kind="loading" />;
  else if (defs.length === 0) body = <WidgetMessage kind="empty">No device or key bound. Configure the widget to pick them.</WidgetMessage>;
  else if (data.error) body = widgetError(data.error);
  else if (data.loading && points === 0) body = <WidgetMessage kind="loading" />;
  else
    body = (
      <TimeSeriesChart
        series={chartSeries}
        height={Math.max(80, height - legendHeight(width, chartSeries.map((c) => c.label)) - 4)}
        xRange={{ min: data.window.startTs, max: data.window.endTs }}
        formatValue={(v) => formatValue(v, decimals)}
        onRender={setRender}
        data-testid="chart"
      />
    );
  return (
    <Box
      ref={ref}
      h="100%" data-testid="chart-widget" data-points={points} data-agg={data.window.agg} data-interval={data.window.interval} data-render-ms={render ? Math.round(render.ms) : undefined} style={{ overflow: 'hidden' }}>
      {height > 0 && body}
    </Box>
  );
}
