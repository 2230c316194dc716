import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { StageConfig } from './schema.ts';
import { type ApplyRecord, onceLogger, type StageContext } from './stage.ts';

/** FNV-1a: cheap and stable across restarts and hosts, so a keyed sample keeps the same keys everywhere. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * sample: keeps 1 in `rate`, or a `fraction`. Without a key it counts records (exactly
 * floor(n × fraction) of n are kept); with a key, the key's hash decides, so all records of one
 * key share a fate. Records lacking the key attr fall back to counting.
 */
export function createSample(config: StageConfig<'sample'>, { counters }: StageContext): ApplyRecord {
  const fraction = config.fraction ?? 1 / (config.rate as number);
  const rate = config.rate;
  const key = config.key;
  let seen = 0;

  const byCount = (): boolean => {
    const i = seen++;
    if (rate !== undefined) return i % rate === 0;
    return Math.floor((i + 1) * fraction) > Math.floor(i * fraction);
  };
  const byKey = (value: string): boolean => {
    const h = hash32(value);
    return rate !== undefined ? h % rate === 0 : h / 0x1_0000_0000 < fraction;
  };

  return (record) => {
    const value = key === undefined ? undefined : record.attrs[key];
    if (value === undefined ? byCount() : byKey(String(value))) return record;
    counters.dropped++;
    return null;
  };
}

// Keys (sources, or values of the key attr) tracked at once; beyond it the oldest bucket is
// forgotten, which at worst grants that key a fresh burst.
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  last: number;
}

/** rate_limit: a token bucket per source (or per value of `key`); refused records are dropped and counted. */
export function createRateLimit(config: StageConfig<'rate_limit'>, context: StageContext): ApplyRecord {
  const { counters, now } = context;
  const perMs = config.records_per_second / 1000;
  const burst = config.burst ?? Math.max(1, Math.ceil(config.records_per_second));
  const key = config.key;
  const buckets = new Map<string, Bucket>();
  const warn = onceLogger(context.logger);

  const bucketFor = (record: OutpostRecord, t: number): Bucket => {
    const id = key === undefined ? record.source : String(record.attrs[key] ?? '');
    let bucket = buckets.get(id);
    if (bucket === undefined) {
      if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
      bucket = { tokens: burst, last: t };
      buckets.set(id, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + (t - bucket.last) * perMs);
      bucket.last = t;
    }
    return bucket;
  };

  return (record) => {
    const bucket = bucketFor(record, now());
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return record;
    }
    counters.dropped++;
    warn(`rate limit of ${config.records_per_second} records/s reached; dropping (counted as dropped)`, {
      key: key === undefined ? record.source : key,
    });
    return null;
  };
}
