import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { describeIssue, formatPath } from '../issues.ts';
import { type ConfigProblem, configInvalid, configUnreadable } from './errors.ts';
import {
  DEFAULT_EVALUATE_INTERVAL_MS,
  DEFAULT_LIMITS,
  DEFAULT_LISTEN,
  DEFAULT_OFFLINE_AFTER_MS,
  DEFAULT_RETENTION,
  knownKeys,
  type LogFormat,
  type LogLevel,
  type RawConfig,
  rawConfigSchema,
} from './schema.ts';
import { type ListenAddress, parseListen } from './units.ts';

export interface CollectorLimits {
  /** Largest request body accepted as sent (before decompression). */
  maxBodyBytes: number;
  /** Largest body after zstd decompression; the zip-bomb guard. */
  maxDecompressedBytes: number;
  maxRecordsPerBatch: number;
}

export interface CollectorConfig {
  listen: ListenAddress;
  dataDir: string;
  /** Undefined: generated at first start and kept in `<dataDir>/enrollment-token`. */
  enrollmentToken: string | undefined;
  /** Undefined: generated at first start and kept in `<dataDir>/admin-token`. */
  adminToken: string | undefined;
  limits: CollectorLimits;
  agents: { offlineAfterMs: number };
  /** Only these peers' X-Forwarded-* headers are believed; empty: none. */
  server: { trustedProxies: string[] };
  log: { level: LogLevel; format: LogFormat };
  alerts: { evaluateIntervalMs: number };
  /** Raw records are kept for rawMs, hourly rollups for rollupsMs; the sweep runs every intervalMs. */
  retention: { rawMs: number; rollupsMs: number; intervalMs: number };
  forward: SinkConfig[];
  /** Absolute path of the YAML file read, if any. */
  configFile: string | undefined;
}

export interface SinkConfig {
  name: string;
  type: 'http' | 'otlp';
  url: string;
  headers: Record<string, string>;
  kinds: Array<'metric' | 'log' | 'event' | 'alert'>;
  batchSize: number;
  timeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export interface CollectorConfigFlags {
  listen?: string | undefined;
  dataDir?: string | undefined;
  logLevel?: string | undefined;
  logFormat?: string | undefined;
}

export interface LoadCollectorConfigOptions {
  /** YAML file (`--config`). Relative paths resolve against `cwd`. */
  file?: string | undefined;
  /** Settings in the YAML shape (snake_case keys), applied over the file; for embedding and tests. */
  values?: Record<string, unknown> | undefined;
  /** Command-line flags; they win over everything else. */
  flags?: CollectorConfigFlags | undefined;
  /** Reads OUTPOST_ENROLLMENT_TOKEN and OUTPOST_ADMIN_TOKEN. Defaults to process.env. */
  env?: Record<string, string | undefined> | undefined;
  cwd?: string | undefined;
  /** Picks the default data dir; defaults to whether the process runs as root. */
  runningAsRoot?: boolean | undefined;
}

const ENV_KEYS: Record<string, string> = {
  enrollment_token: 'OUTPOST_ENROLLMENT_TOKEN',
  admin_token: 'OUTPOST_ADMIN_TOKEN',
};
const FLAG_KEYS: Record<string, string> = {
  listen: '--listen',
  data_dir: '--data-dir',
  'log.level': '--log-level',
  'log.format': '--log-format',
};

/**
 * Builds the collector's configuration from, lowest precedence first: defaults, the YAML file,
 * `values`, the environment, the flags. Throws E_CONFIG_INVALID naming the file, line and key (or the
 * flag / env var) of every problem.
 */
export async function loadCollectorConfig(
  options: LoadCollectorConfigOptions = {},
): Promise<CollectorConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const layers: RawConfig[] = [];
  let configFile: string | undefined;

  if (options.file !== undefined) {
    configFile = path.resolve(cwd, options.file);
    layers.push(await readConfigFile(configFile));
  }
  if (options.values !== undefined) {
    layers.push(validateLayer(options.values, 'config values', (key) => key));
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  layers.push(validateLayer(fromEnv, 'environment', (key) => ENV_KEYS[key] ?? key));

  const flags = options.flags ?? {};
  const fromFlags: Record<string, unknown> = {};
  if (flags.listen !== undefined) fromFlags.listen = flags.listen;
  if (flags.dataDir !== undefined) fromFlags.data_dir = flags.dataDir;
  if (flags.logLevel !== undefined || flags.logFormat !== undefined) {
    fromFlags.log = { level: flags.logLevel, format: flags.logFormat };
  }
  layers.push(validateLayer(fromFlags, 'command-line flags', (key) => FLAG_KEYS[key] ?? key));

  const pick = <T>(get: (layer: RawConfig) => T | null | undefined): T | undefined => {
    let result: T | undefined;
    for (const layer of layers) {
      const value = get(layer);
      if (value !== undefined && value !== null) result = value;
    }
    return result;
  };

  const runningAsRoot = options.runningAsRoot ?? process.getuid?.() === 0;
  const dataDir = pick((l) => l.data_dir);
  return {
    listen: pick((l) => l.listen) ?? parseListen(DEFAULT_LISTEN)!,
    dataDir:
      dataDir !== undefined
        ? path.resolve(cwd, dataDir)
        : runningAsRoot
          ? '/var/lib/outpost-collector'
          : path.resolve(cwd, '.outpost/collector'),
    enrollmentToken: pick((l) => l.enrollment_token),
    adminToken: pick((l) => l.admin_token),
    limits: {
      maxBodyBytes: pick((l) => l.limits?.max_body_bytes) ?? DEFAULT_LIMITS.maxBodyBytes,
      maxDecompressedBytes:
        pick((l) => l.limits?.max_decompressed_bytes) ?? DEFAULT_LIMITS.maxDecompressedBytes,
      maxRecordsPerBatch: pick((l) => l.limits?.max_records_per_batch) ?? DEFAULT_LIMITS.maxRecordsPerBatch,
    },
    agents: { offlineAfterMs: pick((l) => l.agents?.offline_after) ?? DEFAULT_OFFLINE_AFTER_MS },
    server: { trustedProxies: pick((l) => l.server?.trusted_proxies) ?? [] },
    log: { level: pick((l) => l.log?.level) ?? 'info', format: pick((l) => l.log?.format) ?? 'auto' },
    alerts: { evaluateIntervalMs: pick((l) => l.alerts?.evaluate_interval) ?? DEFAULT_EVALUATE_INTERVAL_MS },
    retention: {
      rawMs: pick((l) => l.retention?.raw) ?? DEFAULT_RETENTION.rawMs,
      rollupsMs: pick((l) => l.retention?.rollups) ?? DEFAULT_RETENTION.rollupsMs,
      intervalMs: pick((l) => l.retention?.interval) ?? DEFAULT_RETENTION.intervalMs,
    },
    forward: (pick((l) => l.forward) ?? []).map((sink) => ({
      name: sink.name,
      type: sink.type,
      url: sink.url,
      headers: sink.headers ?? {},
      kinds: sink.kinds ?? ['metric', 'log', 'event', 'alert'],
      batchSize: sink.batch_size ?? 500,
      timeoutMs: sink.timeout ?? 10_000,
      initialBackoffMs: sink.retry?.initial_backoff ?? 1000,
      maxBackoffMs: sink.retry?.max_backoff ?? 60_000,
    })),
    configFile,
  };
}

function validateLayer(raw: unknown, source: string, name: (key: string) => string): RawConfig {
  const result = rawConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  throw configInvalid(
    source,
    result.error.issues.flatMap((issue) =>
      issueKeys(issue).map((key) => ({ key: name(key), message: problemMessage(issue, key) })),
    ),
  );
}

async function readConfigFile(file: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw configUnreadable(file, err);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw configInvalid(
      file,
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        return {
          key: '(yaml syntax)',
          message: err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
          ...(pos ? { line: pos.line, column: pos.col } : {}),
        };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw configInvalid(file, [
      { key: '(top level)', message: 'expected a mapping of keys', line: 1, column: 1 },
    ]);
  }
  const result = rawConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const problems: ConfigProblem[] = result.error.issues.flatMap((issue) =>
    issueKeys(issue).map((key) => ({
      key,
      message: problemMessage(issue, key),
      ...positionOf(doc, lineCounter, issue, key),
    })),
  );
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  throw configInvalid(file, problems);
}

/** The dotted keys an issue is about: one per unknown key, else the issue's own path. */
function issueKeys(issue: z.core.$ZodIssue): string[] {
  const parent = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => (parent === '' ? k : `${parent}.${k}`));
  }
  return [parent === '' ? '(top level)' : parent];
}

function problemMessage(issue: z.core.$ZodIssue, key: string): string {
  if (issue.code !== 'unrecognized_keys') return describeIssue(issue);
  const known = knownKeys(issue.path);
  const unknown = key.slice(key.lastIndexOf('.') + 1);
  const suggestion = closest(unknown, known);
  return suggestion !== undefined
    ? `unknown key (did you mean "${suggestion}"?)`
    : `unknown key (known keys here: ${known.join(', ')})`;
}

function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  issue: z.core.$ZodIssue,
  key: string,
): { line?: number; column?: number } {
  let offset: number | undefined;
  const node = issue.path.length === 0 ? doc.contents : doc.getIn(issue.path, true);
  if (issue.code === 'unrecognized_keys' && isMap(node)) {
    const name = key.slice(key.lastIndexOf('.') + 1);
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === name);
    if (pair && isScalar(pair.key)) offset = pair.key.range?.[0];
  } else if (node && typeof node === 'object' && 'range' in node) {
    offset = (node.range as [number, number, number] | null | undefined)?.[0];
  }
  if (offset === undefined) return {};
  const pos = lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** The known key within edit distance 2 of `word`, for typo hints. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}
