export { TimeSeriesChart, type ChartRenderInfo, type ChartSeries, type TimeRange, type TimeSeriesChartProps } from './TimeSeriesChart';
export { PALETTE, seriesColor } from './theme';
