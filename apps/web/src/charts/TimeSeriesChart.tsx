import { useEffect, useMemo, useRef, useState } from 'react';
import { Box, Button, useComputedColorScheme } from '@mantine/core';
import { IconZoomReset } from '@tabler/icons-react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './chart.css';
import { alignSeries, type ChartSeries } from './align';
import { CHART_THEMES, seriesColor, type ChartTheme } from './theme';
import { tooltipPlugin } from './tooltip';

export type { ChartSeries } from './align';

export interface TimeRange {
  min: number;
  max: number;
}

export interface ChartRenderInfo {
  /** Milliseconds from handing the data to the chart to its drawn frame (alignment + uPlot). */
  ms: number;
  /** Points drawn (every series). */
  points: number;
}

export interface TimeSeriesChartProps {
  /** The lines; points are `[epoch ms, value]`. A new array re-feeds the plot (setData), it is not re-created. */
  series: readonly ChartSeries[];
  /** Height in pixels (default 300); the width follows the container. */
  height?: number;
  /** The x range to show when not zoomed (e.g. the time window); the data's extent when absent. */
  xRange?: TimeRange | undefined;
  /** A drag-to-zoom selected a range (ms), or the zoom was reset (null). */
  onZoom?: ((range: TimeRange | null) => void) | undefined;
  /** After each draw that followed new data: how long it took. */
  onRender?: ((info: ChartRenderInfo) => void) | undefined;
  /** Formats values in the legend and tooltip (default: up to 4 significant decimals). */
  formatValue?: ((v: number) => string) | undefined;
  'data-testid'?: string;
}

function defaultFormat(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 2 : 4);
}

function countPoints(data: uPlot.AlignedData): number {
  let n = 0;
  for (let i = 1; i < data.length; i++) n += data[i]!.length;
  return n;
}

/**
 * A time-series chart on uPlot: several series aligned on the union of their timestamps, a legend
 * with the values under the cursor, a tooltip, drag-to-zoom (double-click or the button resets),
 * width following the container, colours following the light/dark scheme. New data goes through
 * `setData` on the existing plot, so live appends do not rebuild it.
 */
export function TimeSeriesChart({ series, height = 300, xRange, onZoom, onRender, formatValue = defaultFormat, 'data-testid': testId }: TimeSeriesChartProps) {
  const scheme = useComputedColorScheme('light');
  const theme = CHART_THEMES[scheme];
  const wrapRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const zoomedRef = useRef(false);
  const pendingRender = useRef<number | null>(null);
  const [zoomed, setZoomed] = useState(false);
  const props = useRef({ xRange, onZoom, onRender, formatValue });
  props.current = { xRange, onZoom, onRender, formatValue };

  // The plot is rebuilt only when the set of series, their colours, the height or the theme change.
  const shape = useMemo(() => JSON.stringify(series.map((s, i) => [s.label, seriesColor(i, s.color)])), [series]);
  const t0 = performance.now();
  const data = useMemo(() => alignSeries(series), [series]);
  const dataRef = useRef(data);
  dataRef.current = data;

  const resetZoom = () => {
    const u = plotRef.current;
    zoomedRef.current = false;
    setZoomed(false);
    u?.setData(u.data, true);
    props.current.onZoom?.(null);
  };
  const resetRef = useRef(resetZoom);
  resetRef.current = resetZoom;

  useEffect(() => {
    const wrap = wrapRef.current;
    if (!wrap) return;
    const labels = JSON.parse(shape) as Array<[string, string]>;
    const opts = buildOptions({
      width: Math.max(wrap.clientWidth, 100),
      height,
      theme,
      labels,
      xRange: () => (zoomedRef.current ? null : (props.current.xRange ?? null)),
      format: (v) => props.current.formatValue(v),
      onUserZoom: (range) => {
        zoomedRef.current = true;
        setZoomed(true);
        props.current.onZoom?.(range);
      },
      onReset: () => resetRef.current(),
      onDraw: () => {
        if (pendingRender.current === null) return;
        const ms = performance.now() - pendingRender.current;
        pendingRender.current = null;
        const u = plotRef.current;
        props.current.onRender?.({ ms, points: u ? countPoints(u.data) : 0 });
      },
    });
    pendingRender.current ??= t0;
    const u = new uPlot(opts, dataRef.current, wrap);
    plotRef.current = u;
    zoomedRef.current = false;
    setZoomed(false);
    const ro = new ResizeObserver(() => {
      const w = wrap.clientWidth;
      if (w > 0 && w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(wrap);
    return () => {
      ro.disconnect();
      u.destroy();
      if (plotRef.current === u) plotRef.current = null;
    };
  }, [shape, height, theme]);

  // New data (or a new window): fed to the same plot; a zoomed view keeps its range.
  const rangeKey = xRange ? `${xRange.min}:${xRange.max}` : '';
  const fedRange = useRef(rangeKey);
  useEffect(() => {
    const u = plotRef.current;
    if (!u) return;
    if (u.data === data && fedRange.current === rangeKey) return;
    fedRange.current = rangeKey;
    if (u.data !== data) pendingRender.current ??= t0;
    if (zoomedRef.current) {
      u.setData(data, false);
      u.setScale('x', { min: u.scales.x!.min!, max: u.scales.x!.max! });
    } else u.setData(data, true);
    // t0 is this render's start: it is read, not a dependency.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, rangeKey]);

  return (
    <Box pos="relative" className="rv-chart" data-testid={testId} data-zoomed={zoomed || undefined}>
      {zoomed && (
        <Button size="compact-xs" variant="default" leftSection={<IconZoomReset size={14} />} pos="absolute" top={4} right={4} style={{ zIndex: 2 }} onClick={resetZoom} data-testid="chart-reset-zoom">
          Reset zoom
        </Button>
      )}
      <div ref={wrapRef} style={{ width: '100%' }} />
    </Box>
  );
}

interface BuildOptions {
  width: number;
  height: number;
  theme: ChartTheme;
  labels: Array<[string, string]>;
  xRange: () => TimeRange | null;
  format: (v: number) => string;
  onUserZoom: (range: TimeRange) => void;
  onReset: () => void;
  onDraw: () => void;
}

function buildOptions(o: BuildOptions): uPlot.Options {
  const axis = (): uPlot.Axis => ({
    stroke: o.theme.text,
    grid: { stroke: o.theme.grid, width: 1 },
    ticks: { stroke: o.theme.grid, width: 1 },
    font: '12px system-ui, sans-serif',
  });
  return {
    width: o.width,
    height: o.height,
    ms: 1,
    cursor: {
      drag: { x: true, y: false, setScale: true },
      // Double-click resets the zoom (and tells the owner), as the button does.
      bind: {
        dblclick: () => () => {
          o.onReset();
          return null;
        },
      },
    },
    select: { show: true, left: 0, top: 0, width: 0, height: 0 },
    legend: { live: true },
    scales: {
      x: {
        time: true,
        range: (_u, min, max) => {
          const r = o.xRange();
          return r ? [r.min, r.max] : [min, max];
        },
      },
    },
    axes: [{ ...axis(), space: 80 }, { ...axis(), size: 60 }],
    series: [
      { label: 'Time', value: (_u, v) => (v == null ? '—' : new Date(v).toLocaleString()) },
      ...o.labels.map(
        ([label, color]): uPlot.Series => ({
          label,
          stroke: color,
          width: 1.5,
          spanGaps: false,
          points: { size: 4 },
          value: (_u, v) => (v == null ? '—' : o.format(v)),
        }),
      ),
    ],
    hooks: {
      // A drag selection (uPlot then zooms to it); programmatic scale changes do not come here.
      setSelect: [
        (u) => {
          if (u.select.width <= 0) return;
          const min = u.posToVal(u.select.left, 'x');
          const max = u.posToVal(u.select.left + u.select.width, 'x');
          o.onUserZoom({ min, max });
        },
      ],
      draw: [() => o.onDraw()],
    },
    plugins: [tooltipPlugin({ theme: o.theme, format: o.format })],
  };
}
