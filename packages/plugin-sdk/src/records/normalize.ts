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
const ALERT_STATES: ReadonlySet<unknown> = new Set(['firing', 'resolved']);
const ALERT_SEVERITIES: ReadonlySet<unknown> = new Set(['info', 'warning', 'critical']);

/** A record a plugin produced is refused; `path` names the field, e.g. `emitted[2].attrs.host`. */
export class RecordProblem extends Error {
  readonly path: string;
  /** What is wrong, without the path. */
  readonly problem: string;
  /** The refused record's index when it was checked as part of a list (normalizeRecords). */
  readonly index: number | undefined;
  constructor(path: string, problem: string, index?: number) {
    super(`${path}: ${problem}`);
    this.name = 'RecordProblem';
    this.path = path;
    this.problem = problem;
    this.index = index;
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
  /**
   * The values are the caller's own plain data, fresh from JSON.parse: each record is completed
   * (ts, attrs, source) and returned as the same object rather than copied. Its keys keep the
   * order they came in. Pushed bodies of 5000 records made two objects per record of garbage.
   */
  inPlace?: boolean;
  /** Name list elements `<root>.i` (as zod paths read) rather than `<root>[i]`. */
  dottedPaths?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where a record sits: `root` alone, `root[index]`, or `root.index` when `dotted`. Paths are built
 * only for an error: built for every record and field that every plugin returns, they cost about
 * a quarter of the checks.
 */
interface Place {
  root: string;
  index: number;
  dotted: boolean;
}

function fail(place: Place, field: string, problem: string): never {
  if (place.index < 0) {
    throw new RecordProblem(field === '' ? place.root : `${place.root}.${field}`, problem);
  }
  const path = place.dotted ? `${place.root}.${place.index}` : `${place.root}[${place.index}]`;
  throw new RecordProblem(field === '' ? path : `${path}.${field}`, problem, place.index);
}

function checkString(value: unknown, place: Place, field: string, max: number, min = 0): string {
  if (typeof value !== 'string') fail(place, field, 'must be a string');
  if (value.length < min) fail(place, field, 'must not be empty');
  if (value.length > max) fail(place, field, `must be at most ${max} characters`);
  return value;
}

/** The attrs checked; a copy of them unless `inPlace`. */
function checkAttrs(value: unknown, place: Place, inPlace: boolean): Record<string, AttrValue> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) fail(place, 'attrs', 'must be an object of string, number or boolean values');
  const out: Record<string, AttrValue> = inPlace ? (value as Record<string, AttrValue>) : {};
  let count = 0;
  // for-in rather than Object.keys: no array per record. It also lists enumerable inherited keys,
  // which are then copied or refused like own ones: never less checked.
  for (const key in value) {
    if (++count > RECORD_LIMITS.attrs) fail(place, 'attrs', `must have at most ${RECORD_LIMITS.attrs} keys`);
    if (key.length === 0 || key.length > RECORD_LIMITS.attrKeyChars) {
      fail(place, `attrs.${key}`, `key must be 1 to ${RECORD_LIMITS.attrKeyChars} characters`);
    }
    const v = value[key];
    if (typeof v === 'string') {
      if (v.length > RECORD_LIMITS.attrValueChars) {
        fail(place, `attrs.${key}`, `must be at most ${RECORD_LIMITS.attrValueChars} characters`);
      }
    } else if (typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      fail(place, `attrs.${key}`, 'must be a string, a finite number or a boolean');
    }
    if (!inPlace) out[key] = v;
  }
  return out;
}

/** The fields a record may have; a switch, not a Set: it runs for every field of every record. */
function isRecordField(key: string): boolean {
  switch (key) {
    case 'kind':
    case 'ts':
    case 'name':
    case 'value':
    case 'unit':
    case 'body':
    case 'attrs':
    case 'source':
      return true;
    default:
      return false;
  }
}

/** Checks one record and builds a fresh one holding only the record fields. */
export function normalizeRecord(value: unknown, path: string, options: NormalizeOptions): OutpostRecord {
  return normalizeAt(value, { root: path, index: -1, dotted: false }, options);
}

function normalizeAt(value: unknown, place: Place, options: NormalizeOptions): OutpostRecord {
  if (!isPlainObject(value)) fail(place, '', 'must be a record object');
  for (const key in value) {
    if (!isRecordField(key)) fail(place, key, 'unknown field');
  }
  const kind = value.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    fail(place, 'kind', 'must be "metric", "log", "event" or "alert"');
  }
  if (options.alertsOnly && kind !== 'alert') fail(place, 'kind', 'must be "alert" (rule output)');
  const ts = value.ts ?? options.now;
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
    fail(place, 'ts', 'must be unix time in milliseconds');
  }
  const name = checkString(value.name, place, 'name', RECORD_LIMITS.nameChars, 1);
  const inPlace = options.inPlace === true;
  const record = (inPlace ? value : { kind, ts, name }) as unknown as OutpostRecord;
  if (inPlace) record.ts = ts;
  if (value.value !== undefined) {
    if (typeof value.value !== 'number' || !Number.isFinite(value.value)) {
      fail(place, 'value', 'must be a finite number');
    }
    record.value = value.value;
  } else if (kind === 'metric') {
    fail(place, 'value', 'a metric needs a value');
  }
  if (value.unit !== undefined) record.unit = checkString(value.unit, place, 'unit', RECORD_LIMITS.unitChars);
  if (value.body !== undefined) record.body = checkString(value.body, place, 'body', RECORD_LIMITS.bodyChars);
  record.attrs = checkAttrs(value.attrs, place, inPlace);
  record.source =
    options.keepSource && value.source !== undefined
      ? checkString(value.source, place, 'source', RECORD_LIMITS.sourceChars, 1)
      : options.source;
  if (kind === 'alert') {
    if (!ALERT_STATES.has(record.attrs.state)) {
      fail(place, 'attrs.state', 'must be "firing" or "resolved" for an alert');
    }
    if (!ALERT_SEVERITIES.has(record.attrs.severity)) {
      fail(place, 'attrs.severity', 'must be "info", "warning" or "critical" for an alert');
    }
  }
  return record;
}

/**
 * `normalizeRecord` over a list whose elements are named `<root>[i]`, or `<root>.i` with
 * `dottedPaths`; a RecordProblem carries the refused element's index.
 */
export function normalizeRecords(
  values: readonly unknown[],
  root: string,
  options: NormalizeOptions,
): OutpostRecord[] {
  const out: OutpostRecord[] = new Array(values.length);
  const place: Place = { root, index: 0, dotted: options.dottedPaths === true };
  for (let i = 0; i < values.length; i++) {
    place.index = i;
    out[i] = normalizeAt(values[i], place, options);
  }
  return out;
}
