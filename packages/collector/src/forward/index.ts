export { toNdjson, toOtlpLogs, toOtlpMetrics } from './encode.ts';
export type { SinkStats } from './forwarder.ts';
export { cursorName, SinkForwarder } from './forwarder.ts';
export { Forwarding } from './forwarding.ts';
