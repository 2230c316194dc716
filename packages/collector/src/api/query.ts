import {
  RECORD_KINDS,
  type RecordKind,
  type RecordPosition,
  type RecordQuery,
  type RollupPosition,
} from '../store/index.ts';
import { badQuery } from './errors.ts';

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10_000;

const COMMON_PARAMS = ['agent', 'name', 'from', 'to', 'limit', 'after'];
const METRIC_PARAMS = [...COMMON_PARAMS, 'resolution'];
const RECORD_PARAMS = [...COMMON_PARAMS, 'kind'];

const RESOLUTIONS = ['raw', 'hour', 'auto'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/** GET /api/v1/metrics: the record filter, the resolution, and where the previous page ended. */
export interface MetricQuery {
  filter: Omit<RecordQuery, 'after' | 'kind'>;
  resolution: Resolution;
  after?: { raw: RecordPosition } | { hour: RollupPosition } | undefined;
}

/** Like parseRecordQuery, plus `resolution` (default raw) and cursors into hourly rollups. */
export function parseMetricQuery(query: unknown): MetricQuery {
  const {
    resolution: resolutionValue,
    after: afterValue,
    ...rest
  } = (query ?? {}) as Record<string, unknown>;
  const { after: _none, kind: _metric, ...filter } = parseRecordQuery(rest, 'metric');
  if (resolutionValue !== undefined && !(RESOLUTIONS as readonly unknown[]).includes(resolutionValue)) {
    throw badQuery(
      `resolution: expected one of ${RESOLUTIONS.join(', ')}, received "${String(resolutionValue)}"`,
    );
  }
  const resolution = (resolutionValue as Resolution | undefined) ?? 'raw';
  if (afterValue === undefined) return { filter, resolution };
  if (typeof afterValue !== 'string' || afterValue === '') throw badQuery('after: give one cursor');
  const hour = decodeRollupCursor(afterValue);
  if (hour !== undefined) {
    if (resolution === 'raw') throw badQuery('after: an hourly cursor; pass resolution=hour or auto');
    return { filter, resolution, after: { hour } };
  }
  if (resolution === 'hour') throw badQuery('after: a raw cursor; pass resolution=raw or auto');
  return { filter, resolution, after: { raw: decodeCursor(afterValue) } };
}

/**
 * Parses the read-back query string. Unknown parameters are refused: a misspelt filter such as
 * `agentId=` would otherwise silently return every agent's data.
 */
export function parseRecordQuery(query: unknown, forKind: 'metric' | 'any'): RecordQuery {
  const params = (query ?? {}) as Record<string, unknown>;
  const allowed = forKind === 'metric' ? METRIC_PARAMS : RECORD_PARAMS;
  for (const key of Object.keys(params)) {
    if (!allowed.includes(key)) {
      throw badQuery(`unknown query parameter "${key}"; known: ${allowed.join(', ')}`);
    }
  }
  const text = (name: string): string | undefined => {
    const value = params[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw badQuery(`${name}: give it at most once`);
    if (value === '') throw badQuery(`${name}: must not be empty`);
    return value;
  };
  const millis = (name: string): number | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    if (!/^-?\d+(\.\d+)?$/.test(value))
      throw badQuery(`${name}: expected unix milliseconds, received "${value}"`);
    return Number(value);
  };

  let kind: RecordKind | undefined;
  if (forKind === 'metric') kind = 'metric';
  else {
    const value = text('kind');
    if (value !== undefined && !(RECORD_KINDS as readonly string[]).includes(value)) {
      throw badQuery(`kind: expected one of ${RECORD_KINDS.join(', ')}, received "${value}"`);
    }
    kind = value as RecordKind | undefined;
  }

  let limit = DEFAULT_LIMIT;
  const limitText = text('limit');
  if (limitText !== undefined) {
    limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1 || limit > MAX_LIMIT) {
      throw badQuery(`limit: expected an integer from 1 to ${MAX_LIMIT}, received "${limitText}"`);
    }
  }

  const afterText = text('after');
  return {
    agentId: text('agent'),
    name: text('name'),
    kind,
    from: millis('from'),
    to: millis('to'),
    limit,
    after: afterText === undefined ? undefined : decodeCursor(afterText),
  };
}

/** Opaque to clients: the (ts, id) of the last record of a page. */
export function encodeCursor(position: RecordPosition): string {
  return Buffer.from(`${position.ts}:${position.id}`).toString('base64url');
}

/** Opaque to clients like the raw one; the "h:" prefix tells the two apart. */
export function encodeRollupCursor(position: RollupPosition): string {
  return Buffer.from(`h:${position.hour}:${position.id}`).toString('base64url');
}

function decodeRollupCursor(cursor: string): RollupPosition | undefined {
  const match = /^h:(-?\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) return undefined;
  const hour = Number(match[1]);
  const id = Number(match[2]);
  if (!Number.isSafeInteger(hour) || !Number.isSafeInteger(id)) return undefined;
  return { hour, id };
}

function decodeCursor(cursor: string): RecordPosition {
  const match = /^(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?):(\d+)$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  const ts = Number(match?.[1]);
  const id = Number(match?.[2]);
  if (!match || !Number.isFinite(ts) || !Number.isSafeInteger(id)) {
    throw badQuery('after: not a cursor; pass the "next" value of the previous page');
  }
  return { ts, id };
}
