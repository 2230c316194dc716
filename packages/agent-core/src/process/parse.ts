import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import { normalizeLevel } from './condition.ts';
import type { StageConfig, TimestampFormat } from './schema.ts';
import { type ApplyRecord, onceLogger, type StageContext } from './stage.ts';

export const PARSE_ERROR_ATTR = 'outpost.parse_error';

type Attrs = Record<string, AttrValue>;
/** Fills `attrs` from `line`; returns a short reason when the line cannot be parsed. */
type LineParser = (line: string, attrs: Attrs) => string | undefined;

/**
 * parse: body -> attrs. A line that does not parse is kept unchanged except for the
 * `outpost.parse_error` attr, and counted as an error: a log line is never lost for its format.
 */
export function createParse(config: StageConfig<'parse'>, context: StageContext): ApplyRecord {
  const parseLine = lineParser(config);
  const warn = onceLogger(context.logger);
  const { counters } = context;
  const timestamp = config.timestamp;
  const level = config.level;

  const flagged = (record: OutpostRecord, attrs: Attrs, reason: string): OutpostRecord => {
    counters.errors++;
    warn(`cannot parse a line: ${reason}; kept with attr ${PARSE_ERROR_ATTR}`);
    attrs[PARSE_ERROR_ATTR] = reason;
    return { ...record, attrs };
  };

  return (record) => {
    const body = record.body;
    if (body === undefined) return record;
    const attrs: Attrs = { ...record.attrs };
    let reason: string | undefined;
    try {
      reason = parseLine(body, attrs);
    } catch {
      reason = 'line too deeply nested';
    }
    if (reason !== undefined) return flagged(record, { ...record.attrs }, reason);

    let ts = record.ts;
    if (timestamp !== undefined) {
      const value = attrs[timestamp.field];
      const parsed = value === undefined ? Number.NaN : toMillis(value, timestamp.format);
      if (Number.isNaN(parsed)) {
        return flagged(
          record,
          attrs,
          value === undefined
            ? `timestamp field "${timestamp.field}" is missing`
            : `timestamp field "${timestamp.field}" is not ${timestamp.format}`,
        );
      }
      ts = parsed;
    }
    if (level !== undefined) {
      const value = attrs[level.field];
      const normalized =
        value === undefined ? undefined : (level.map[String(value)] ?? normalizeLevel(value));
      if (normalized !== undefined) attrs.level = normalized;
    }
    return { ...record, ts, attrs };
  };
}

function lineParser(config: StageConfig<'parse'>): LineParser {
  switch (config.format) {
    case 'json':
      return parseJson;
    case 'logfmt':
      return parseLogfmt;
    case 'regex': {
      const re = new RegExp(config.pattern as string);
      return (line, attrs) => {
        const groups = re.exec(line)?.groups;
        if (groups === undefined) return 'line does not match the pattern';
        for (const name in groups) {
          const value = groups[name];
          if (value !== undefined) attrs[name] = value;
        }
        return undefined;
      };
    }
  }
}

function parseJson(line: string, attrs: Attrs): string | undefined {
  // Most non-JSON lines are caught here, without the cost of a thrown SyntaxError.
  let start = 0;
  while (start < line.length && line.charCodeAt(start) <= 32) start++;
  if (line.charCodeAt(start) !== 123 /* { */) return 'not a JSON object';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return 'invalid JSON';
  }
  flatten(parsed as Record<string, unknown>, '', attrs);
  return undefined;
}

/** Nested objects become dotted keys; arrays are kept as JSON text; nulls carry nothing and are skipped. */
function flatten(object: Record<string, unknown>, prefix: string, attrs: Attrs): void {
  for (const key in object) {
    const value = object[key];
    const name = prefix === '' ? key : prefix + key;
    switch (typeof value) {
      case 'string':
      case 'number':
      case 'boolean':
        attrs[name] = value;
        break;
      case 'object':
        if (value === null) break;
        if (Array.isArray(value)) attrs[name] = JSON.stringify(value);
        else flatten(value as Record<string, unknown>, `${name}.`, attrs);
        break;
    }
  }
}

const SPACE = 32;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;

/** logfmt as Go's kr/logfmt reads it: key=value, key="quoted \"value\"", and bare keys (true). */
function parseLogfmt(line: string, attrs: Attrs): string | undefined {
  const n = line.length;
  let pairs = 0;
  let i = 0;
  while (i < n) {
    while (i < n && line.charCodeAt(i) <= SPACE) i++;
    if (i >= n) break;
    const keyStart = i;
    while (i < n) {
      const c = line.charCodeAt(i);
      if (c <= SPACE || c === EQUALS || c === QUOTE) break;
      i++;
    }
    if (i === keyStart) return `logfmt: unexpected ${line[i]} at column ${i + 1}`;
    const key = line.slice(keyStart, i);
    if (i >= n || line.charCodeAt(i) <= SPACE) {
      attrs[key] = true;
      continue;
    }
    if (line.charCodeAt(i) === QUOTE) return `logfmt: unexpected " at column ${i + 1}`;
    i++;
    if (line.charCodeAt(i) === QUOTE) {
      let value = '';
      let chunk = ++i;
      let closed = false;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === BACKSLASH) {
          const escaped = line[i + 1];
          value += line.slice(chunk, i) + (escaped === 'n' ? '\n' : escaped === 't' ? '\t' : (escaped ?? ''));
          i += 2;
          chunk = i;
        } else if (c === QUOTE) {
          value += line.slice(chunk, i);
          i++;
          closed = true;
          break;
        } else i++;
      }
      if (!closed) return `logfmt: unterminated quoted value for "${key}"`;
      attrs[key] = value;
    } else {
      const valueStart = i;
      while (i < n && line.charCodeAt(i) > SPACE) i++;
      attrs[key] = line.slice(valueStart, i);
    }
    pairs++;
  }
  return pairs === 0 ? 'logfmt: no key=value pairs' : undefined;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
// Common Log Format, as nginx's $time_local and Apache write it: 10/Oct/2000:13:55:36 -0700.
const CLF_RE = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** Unix ms, or NaN when `value` is not in `format`. */
export function toMillis(value: AttrValue, format: TimestampFormat): number {
  switch (format) {
    case 'unix_ms':
    case 'unix_s': {
      const n =
        typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : NaN;
      return Math.round(format === 'unix_s' ? n * 1000 : n);
    }
    case 'iso8601':
    case 'rfc3339':
      return typeof value === 'string' ? Date.parse(value) : Number.NaN;
    case 'clf': {
      const m = typeof value === 'string' ? CLF_RE.exec(value) : null;
      const month = m === null ? undefined : MONTHS[m[2] as string];
      if (m === null || month === undefined) return Number.NaN;
      const [, d, , y, hh, mm, ss, sign, oh, om] = m as unknown as string[];
      const offset = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === '-' ? -1 : 1);
      return Date.UTC(Number(y), month, Number(d), Number(hh), Number(mm), Number(ss)) - offset;
    }
  }
}
