export { CollectorTelemetry, type CollectorTelemetryOptions } from './collector-metrics.ts';
