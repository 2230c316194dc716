import { compileAny } from './condition.ts';
import type { StageConfig } from './schema.ts';
import type { ApplyRecord, StageContext } from './stage.ts';

/** filter: with `keep`, records matching none of its conditions are dropped; then `drop` removes matches. */
export function createFilter(config: StageConfig<'filter'>, { counters }: StageContext): ApplyRecord {
  const keep = config.keep === undefined ? undefined : compileAny(config.keep);
  const drop = config.drop === undefined ? undefined : compileAny(config.drop);
  return (record) => {
    if ((keep !== undefined && !keep(record)) || drop?.(record)) {
      counters.dropped++;
      return null;
    }
    return record;
  };
}
