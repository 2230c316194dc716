export { PARSE_ERROR_ATTR } from './parse.ts';
export type { PipelineOptions, ProcessPlugin, ResolvePlugin, StageStats, TapListener } from './pipeline.ts';
export { Pipeline } from './pipeline.ts';
export type {
  AggregateFunction,
  Condition,
  ProcessorConfig,
  ProcessorsConfig,
  ProcessorType,
  RecordLevel,
  TimestampFormat,
} from './schema.ts';
export {
  AGGREGATE_FUNCTIONS,
  PROCESSOR_TYPES,
  processorsSchema,
  RECORD_LEVELS,
  TIMESTAMP_FORMATS,
} from './schema.ts';
