import type { AttrValue, OutpostRecord, RecordKind } from '../record.ts';

/** Bounds on one record from a plugin or a push, so one bad producer cannot bloat the queue or the collector. */
export const RECORD_LIMITS = Object.freeze({
  nameChars: 1024,
  sourceChars: 256,
  unitChars: 64,
  bodyChars: 64 * 1024,
  attrs: 64,
  attrKeyChars: 128,
  attrValueChars: 4096,
});

const KINDS: ReadonlySet<string> = new Set<RecordKind>(['metric', 'log', 'event', 'alert']);
const FIELDS: ReadonlySet<string> = new Set([
  'kind',
  'ts',
  'name',
  'value',
  'unit',
  'body',
  'attrs',
  'source',
]);
const ALERT_STATES: ReadonlySet<unknown> = new Set(['firing', 'resolved']);
const ALERT_SEVERITIES: ReadonlySet<unknown> = new Set(['info', 'warning', 'critical']);

/** A record a plugin produced is refused; `path` names the field, e.g. `emitted[2].attrs.host`. */
export class RecordProblem extends Error {
  readonly path: string;
  /** What is wrong, without the path. */
  readonly problem: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'RecordProblem';
    this.path = path;
    this.problem = problem;
  }
}

export interface NormalizeOptions {
  /** `ts` of records that have none. */
  now: number;
  /** `source` of records that have none, and of every record unless `keepSource`. */
  source: string;
  /** Process plugins transform records from elsewhere and may keep their source. */
  keepSource?: boolean;
  /** Rules may only produce alerts. */
  alertsOnly?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkString(value: unknown, path: string, max: number, min = 0): string {
  if (typeof value !== 'string') throw new RecordProblem(path, 'must be a string');
  if (value.length < min) throw new RecordProblem(path, 'must not be empty');
  if (value.length > max) throw new RecordProblem(path, `must be at most ${max} characters`);
  return value;
}

function checkAttrs(value: unknown, path: string): Record<string, AttrValue> {
  if (value === undefined) return {};
  if (!isPlainObject(value))
    throw new RecordProblem(path, 'must be an object of string, number or boolean values');
  const keys = Object.keys(value);
  if (keys.length > RECORD_LIMITS.attrs)
    throw new RecordProblem(path, `must have at most ${RECORD_LIMITS.attrs} keys`);
  const out: Record<string, AttrValue> = {};
  for (const key of keys) {
    const at = `${path}.${key}`;
    if (key.length === 0 || key.length > RECORD_LIMITS.attrKeyChars) {
      throw new RecordProblem(at, `key must be 1 to ${RECORD_LIMITS.attrKeyChars} characters`);
    }
    const v = value[key];
    if (typeof v === 'string') out[key] = checkString(v, at, RECORD_LIMITS.attrValueChars);
    else if (typeof v === 'boolean') out[key] = v;
    else if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    else throw new RecordProblem(at, 'must be a string, a finite number or a boolean');
  }
  return out;
}

/** Checks one record and builds a fresh one holding only the record fields. */
export function normalizeRecord(value: unknown, path: string, options: NormalizeOptions): OutpostRecord {
  if (!isPlainObject(value)) throw new RecordProblem(path, 'must be a record object');
  for (const key of Object.keys(value)) {
    if (!FIELDS.has(key)) throw new RecordProblem(`${path}.${key}`, 'unknown field');
  }
  const kind = value.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new RecordProblem(`${path}.kind`, 'must be "metric", "log", "event" or "alert"');
  }
  if (options.alertsOnly && kind !== 'alert')
    throw new RecordProblem(`${path}.kind`, 'must be "alert" (rule output)');
  const ts = value.ts ?? options.now;
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
    throw new RecordProblem(`${path}.ts`, 'must be unix time in milliseconds');
  }
  const name = checkString(value.name, `${path}.name`, RECORD_LIMITS.nameChars, 1);
  const record: OutpostRecord = { kind: kind as RecordKind, ts, name } as OutpostRecord;
  if (value.value !== undefined) {
    if (typeof value.value !== 'number' || !Number.isFinite(value.value)) {
      throw new RecordProblem(`${path}.value`, 'must be a finite number');
    }
    record.value = value.value;
  } else if (kind === 'metric') {
    throw new RecordProblem(`${path}.value`, 'a metric needs a value');
  }
  if (value.unit !== undefined)
    record.unit = checkString(value.unit, `${path}.unit`, RECORD_LIMITS.unitChars);
  if (value.body !== undefined)
    record.body = checkString(value.body, `${path}.body`, RECORD_LIMITS.bodyChars);
  record.attrs = checkAttrs(value.attrs, `${path}.attrs`);
  record.source =
    options.keepSource && value.source !== undefined
      ? checkString(value.source, `${path}.source`, RECORD_LIMITS.sourceChars, 1)
      : options.source;
  if (kind === 'alert') {
    if (!ALERT_STATES.has(record.attrs.state)) {
      throw new RecordProblem(`${path}.attrs.state`, 'must be "firing" or "resolved" for an alert');
    }
    if (!ALERT_SEVERITIES.has(record.attrs.severity)) {
      throw new RecordProblem(
        `${path}.attrs.severity`,
        'must be "info", "warning" or "critical" for an alert',
      );
    }
  }
  return record;
}

/** `normalizeRecord` over a list whose elements are named `<root>[i]`. */
export function normalizeRecords(
  values: readonly unknown[],
  root: string,
  options: NormalizeOptions,
): OutpostRecord[] {
  const out: OutpostRecord[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = normalizeRecord(values[i], `${root}[${i}]`, options);
  return out;
}
