export {
  type AgentSnapshot,
  AgentTelemetry,
  type AgentTelemetryOptions,
  METRIC_PREFIX,
} from './agent-metrics.ts';
export { type ListenAddress, parseLoopbackListen } from './listen-address.ts';
export { MetricsListener, type MetricsListenerOptions, type MetricsSource } from './listener.ts';
export { defineScrapedMetric, type MetricLabels, type ScrapedMetricOptions } from './scraped-metric.ts';
