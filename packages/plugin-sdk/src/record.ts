/** A value of a record attribute. Nested objects are not allowed, so every backend can index them. */
export type AttrValue = string | number | boolean;

export type RecordKind = 'metric' | 'log' | 'event' | 'alert';

/**
 * Every datum Outpost moves is a record. Metric names follow the OpenTelemetry semantic
 * conventions (system.cpu.utilization, process.memory.usage, ...).
 */
export interface OutpostRecord {
  kind: RecordKind;
  /** Unix time in milliseconds. */
  ts: number;
  /** Metric name, log source, event or alert name. */
  name: string;
  /** Metrics only. */
  value?: number;
  /** UCUM unit as OpenTelemetry uses it: "1", "By", "s", "{operation}". */
  unit?: string;
  /** Logs only. */
  body?: string;
  attrs: Record<string, AttrValue>;
  /** "system", "process", "log" or "plugin:<name>". */
  source: string;
}
