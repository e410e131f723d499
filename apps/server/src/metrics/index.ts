export { createMetrics, METRICS_PATH, type Metrics, type MetricsSources } from './metrics';
export { metricsSources } from './sources';
