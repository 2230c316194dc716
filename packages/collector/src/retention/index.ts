export type { RetentionOptions, SweepResult } from './retention.ts';
export { Retention } from './retention.ts';
