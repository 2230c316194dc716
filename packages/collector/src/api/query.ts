import { RECORD_KINDS, type RecordKind, type RecordPosition, type RecordQuery } from '../store/index.ts';
import { badQuery } from './errors.ts';

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;

const METRIC_PARAMS = ['agent', 'name', 'from', 'to', 'limit', 'after'];
const RECORD_PARAMS = [...METRIC_PARAMS, 'kind'];

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
