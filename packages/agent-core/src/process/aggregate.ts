import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import type { AggregateFunction, StageConfig } from './schema.ts';

interface Group {
  name: string;
  source: string;
  attrs: Record<string, AttrValue>;
  unit: string | undefined;
  /** Records seen, with or without a value. */
  count: number;
  /** Values seen. */
  n: number;
  sum: number;
  min: number;
  max: number;
  /** Every value, only when p95 is asked for: an exact percentile needs them all (8 bytes each). */
  values: Float64Array | undefined;
}

const SEPARATOR = '\u0000';
const MISSING = '\u0001';

/**
 * Tumbling windows aligned on multiples of `window` in processing time (when the agent sees a
 * record, not the time written in it), as Vector's aggregate and Fluent Bit's log_to_metrics do,
 * so backfilled old lines do not reopen windows that were already sent.
 */
export class Aggregator {
  readonly #window: number;
  readonly #functions: readonly AggregateFunction[];
  readonly #groupBy: readonly string[];
  readonly #field: string | undefined;
  readonly #outputName: string | undefined;
  readonly #keepInput: boolean;
  readonly #keepValues: boolean;
  #groups = new Map<string, Group>();
  #end: number;

  constructor(config: StageConfig<'aggregate'>, now: number) {
    this.#window = config.window;
    this.#functions = config.functions;
    this.#groupBy = config.group_by;
    this.#field = config.field;
    this.#outputName = config.output_name;
    this.#keepInput = config.keep_input;
    this.#keepValues = config.functions.includes('p95');
    this.#end = this.#endOf(now);
  }

  /** When the open window closes (unix ms). */
  get windowEnd(): number {
    return this.#end;
  }

  get windowMs(): number {
    return this.#window;
  }

  /** Adds a record to the open window; returns it when inputs pass through, else null (consumed). */
  add(record: OutpostRecord): OutpostRecord | null {
    let key = this.#outputName === undefined ? record.source + SEPARATOR + record.name : record.source;
    for (const attr of this.#groupBy) {
      const value = record.attrs[attr];
      key += SEPARATOR + (value === undefined ? MISSING : String(value));
    }
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = this.#newGroup(record);
      this.#groups.set(key, group);
    }
    group.count++;
    const value = this.#valueOf(record);
    if (value !== undefined) {
      group.n++;
      group.sum += value;
      if (value < group.min) group.min = value;
      if (value > group.max) group.max = value;
      if (group.values !== undefined) {
        if (group.n > group.values.length) {
          const grown = new Float64Array(group.values.length * 2);
          grown.set(group.values);
          group.values = grown;
        }
        group.values[group.n - 1] = value;
      }
    }
    return this.#keepInput ? record : null;
  }

  /** Metric records of the open window if it has closed by `now`, and opens the window `now` falls in. */
  takeDue(now: number): OutpostRecord[] {
    if (now < this.#end) return [];
    const out = this.#emit(this.#end);
    this.#end = this.#endOf(now);
    return out;
  }

  /** Metric records of the open window, closed early (on close()): stamped `now`. */
  flush(now: number): OutpostRecord[] {
    return this.#emit(Math.min(now, this.#end));
  }

  #endOf(now: number): number {
    return (Math.floor(now / this.#window) + 1) * this.#window;
  }

  #valueOf(record: OutpostRecord): number | undefined {
    if (this.#field === undefined) {
      return record.kind === 'metric' && typeof record.value === 'number' && Number.isFinite(record.value)
        ? record.value
        : undefined;
    }
    const raw = record.attrs[this.#field];
    // Parsed fields (regex groups, logfmt) are text: "0.153" must count as a number.
    const value =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw !== '' ? Number(raw) : Number.NaN;
    return Number.isFinite(value) ? value : undefined;
  }

  #newGroup(record: OutpostRecord): Group {
    const attrs: Record<string, AttrValue> = {};
    for (const attr of this.#groupBy) {
      const value = record.attrs[attr];
      if (value !== undefined) attrs[attr] = value;
    }
    return {
      name: this.#outputName ?? record.name,
      source: record.source,
      attrs,
      unit: record.kind === 'metric' ? record.unit : undefined,
      count: 0,
      n: 0,
      sum: 0,
      min: Number.POSITIVE_INFINITY,
      max: Number.NEGATIVE_INFINITY,
      values: this.#keepValues ? new Float64Array(64) : undefined,
    };
  }

  #emit(ts: number): OutpostRecord[] {
    const out: OutpostRecord[] = [];
    for (const group of this.#groups.values()) {
      for (const fn of this.#functions) {
        const value = fn === 'count' ? group.count : group.n === 0 ? undefined : compute(fn, group);
        if (value === undefined) continue;
        const record: OutpostRecord = {
          kind: 'metric',
          ts,
          name: `${group.name}.${fn}`,
          value,
          attrs: { ...group.attrs },
          source: group.source,
        };
        const unit = fn === 'count' ? '{record}' : group.unit;
        if (unit !== undefined) record.unit = unit;
        out.push(record);
      }
    }
    this.#groups = new Map();
    return out;
  }
}

function compute(fn: Exclude<AggregateFunction, 'count'>, group: Group): number {
  switch (fn) {
    case 'sum':
      return group.sum;
    case 'min':
      return group.min;
    case 'max':
      return group.max;
    case 'avg':
      return group.sum / group.n;
    case 'p95':
      return percentile(group.values as Float64Array, group.n, 0.95);
  }
}

/** Nearest-rank percentile of the first `n` values: the smallest value with at least q of them at or below it. */
export function percentile(values: Float64Array, n: number, q: number): number {
  const sorted = values.subarray(0, n).sort();
  return sorted[Math.max(0, Math.ceil(q * n) - 1)] as number;
}
