import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import picomatch from 'picomatch';
import type { Condition, RecordLevel } from './schema.ts';

export type Predicate = (record: OutpostRecord) => boolean;

const LEVEL_RANK: ReadonlyMap<string, number> = new Map([
  ['trace', 0],
  ['debug', 1],
  ['info', 2],
  ['information', 2],
  ['informational', 2],
  ['notice', 2],
  ['warn', 3],
  ['warning', 3],
  ['error', 4],
  ['err', 4],
  ['fatal', 5],
  ['critical', 5],
  ['crit', 5],
  ['panic', 5],
  ['alert', 5],
  ['emerg', 5],
  // pino and bunyan write numeric levels.
  ['10', 0],
  ['20', 1],
  ['30', 2],
  ['40', 3],
  ['50', 4],
  ['60', 5],
]);
const RANKED: readonly RecordLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** 0 (trace) to 5 (fatal) for the spellings loggers use, -1 when the value is no level. */
export function levelRank(value: AttrValue | undefined): number {
  if (value === undefined || typeof value === 'boolean') return -1;
  const text = typeof value === 'number' ? String(value) : value;
  return LEVEL_RANK.get(text) ?? LEVEL_RANK.get(text.toLowerCase()) ?? -1;
}

export function normalizeLevel(value: AttrValue | undefined): RecordLevel | undefined {
  return RANKED[levelRank(value)];
}

/** Exact names compare as strings; only real globs go through picomatch. */
function nameMatcher(patterns: readonly string[]): (value: string) => boolean {
  const exact = new Set<string>();
  const globs: Array<(value: string) => boolean> = [];
  for (const pattern of patterns) {
    if (picomatch.scan(pattern).isGlob) globs.push(picomatch(pattern, { dot: true }));
    else exact.add(pattern);
  }
  if (globs.length === 0) return (value) => exact.has(value);
  return (value) => exact.has(value) || globs.some((glob) => glob(value));
}

export function compileCondition(condition: Condition): Predicate {
  const checks: Predicate[] = [];
  if (condition.kind !== undefined) {
    const kinds = new Set<string>(condition.kind);
    checks.push((r) => kinds.has(r.kind));
  }
  if (condition.name !== undefined) {
    const matches = nameMatcher(condition.name);
    checks.push((r) => matches(r.name));
  }
  if (condition.source !== undefined) {
    const matches = nameMatcher(condition.source);
    checks.push((r) => matches(r.source));
  }
  for (const [key, expected] of Object.entries(condition.attrs ?? {})) {
    if (typeof expected === 'object') {
      const re = new RegExp(expected.regex);
      checks.push((r) => {
        const value = r.attrs[key];
        return value !== undefined && re.test(typeof value === 'string' ? value : String(value));
      });
    } else {
      // YAML `status: 500` must match "500" parsed out of a log line, so compare as text.
      const text = String(expected);
      checks.push((r) => {
        const value = r.attrs[key];
        return value !== undefined && (value === expected || String(value) === text);
      });
    }
  }
  if (condition.level !== undefined) {
    const min = RANKED.indexOf(condition.level);
    checks.push((r) => levelRank(r.attrs.level) >= min);
  }
  if (condition.body !== undefined) {
    const re = new RegExp(condition.body);
    checks.push((r) => r.body !== undefined && re.test(r.body));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0] as Predicate;
  return (r) => {
    for (const check of checks) if (!check(r)) return false;
    return true;
  };
}

/** A list of conditions matches when any of them does. */
export function compileAny(conditions: readonly Condition[]): Predicate {
  const predicates = conditions.map(compileCondition);
  if (predicates.length === 1) return predicates[0] as Predicate;
  return (r) => predicates.some((p) => p(r));
}
