import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { type ProcessorsConfig, processorsSchema } from '../process/index.ts';
import { parseLoopbackListen } from '../telemetry/index.ts';
import { closest } from './suggest.ts';
import { parseDuration, parseSize } from './units.ts';

export const SYSTEM_METRIC_GROUPS = [
  'cpu',
  'memory',
  'swap',
  'load',
  'filesystem',
  'disk',
  'network',
  'uptime',
] as const;
export type SystemMetricGroup = (typeof SYSTEM_METRIC_GROUPS)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Exactly one way to pick processes: exact comm name, pid, or a regex on the command line. */
export type ProcessMatch = { name: string } | { pid: number } | { pattern: string };

/** One `inputs.logs` entry: files by glob, tailed with their offsets committed to the queue. */
export interface LogInputConfig {
  name: string;
  /** Absolute globs. */
  paths: string[];
  /** Globs; one without a slash matches the file name, else the whole path. */
  exclude: string[];
  start_at: 'beginning' | 'end';
  multiline: { start_pattern: string; max_lines: number; timeout: number } | null;
  max_record_bytes: number;
  partial_line_timeout: number;
  rotate_wait: number;
  encoding: 'utf8' | 'latin1';
  poll_interval: number;
}

/** Sandbox limits of plugins: `memory` in bytes, the others in ms except the record count. */
export interface PluginLimitsConfig {
  memory: number;
  timeout: number;
  cpu_budget: number;
  cpu_window: number;
  max_records_per_call: number;
}

/** The `plugins:` section: where they live, their limits and per-plugin overrides of the registry. */
export interface PluginsConfig {
  enabled: boolean;
  dir: string;
  limits: PluginLimitsConfig;
  restart: { initial_backoff: number; max_backoff: number; quarantine_after: number; failure_window: number };
  overrides: Record<
    string,
    {
      enabled?: boolean;
      interval?: number;
      config?: Record<string, unknown>;
      limits: Partial<PluginLimitsConfig>;
    }
  >;
}

/** The agent's config, with the YAML's snake_case keys; durations in ms, sizes in bytes. */
export interface AgentConfig {
  collector: { url: string; enrollment_token: string; request_timeout: number };
  agent: { state_dir: string; hostname: string; labels: Record<string, string> };
  inputs: {
    system: { enabled: boolean; interval: number; metrics: SystemMetricGroup[] };
    processes: { enabled: boolean; interval: number; self: boolean; match: ProcessMatch[] };
    logs: LogInputConfig[];
  };
  queue: {
    max_bytes: number;
    max_age: number;
    policy: 'drop_oldest' | 'block';
    durability: 'normal' | 'full';
  };
  send: {
    batch_max_records: number;
    batch_max_bytes: number;
    batch_max_wait: number;
    /** Batches posted at once, each with its own lease and Idempotency-Key. */
    max_in_flight: number;
    compression: 'zstd' | 'none';
    retry: { initial_backoff: number; max_backoff: number; max_retry_after: number };
  };
  heartbeat: { interval: number };
  shutdown: { grace_period: number };
  control: { socket: string };
  log: { level: LogLevel; format: 'auto' | 'json' | 'pretty' };
  /** `listen`: host:port on loopback for GET /metrics over TCP; null serves it on the control socket only. */
  metrics: { listen: string | null };
  /**
   * Limits written into the systemd unit by `agentctl service install`; null leaves one out.
   * `watchdog` (ms) becomes WatchdogSec= under Type=notify.
   */
  service: { memory_max: number | null; cpu_quota: number | null; watchdog: number | null };
  /**
   * The resource guard: own CPU (percent of one core) and RSS above which the agent sheds load
   * (slower inputs, then the heaviest plugin paused); null switches a limit off. Checked every `interval`.
   */
  limits: { cpu_percent: number | null; memory: number | null; interval: number };
  /** The processor chain between inputs and the queue, in order. */
  processors: ProcessorsConfig;
  plugins: PluginsConfig;
  /**
   * What the collector may do to this host (docs/fleet.md). Local only: a remote config cannot set
   * this section, so a collector admin cannot grant themselves a shell command.
   */
  fleet: {
    remote_config: boolean;
    commands: boolean;
    /** Run by the `upgrade` command with OUTPOST_UPGRADE_VERSION set; null refuses upgrades. */
    upgrade_command: string | null;
    upgrade_timeout: number;
  };
}

/** Longest delay a Node timer takes without firing at once (2^31-1 ms is about 24.8 days). */
const TIMER_MAX = '24d';

/** Tagged so the loader can point at the key itself and suggest a known one. */
export interface UnknownKeyParams {
  unknownKey: true;
  known: string[];
}

const unknownKey = (known: string[]) =>
  z.unknown().superRefine((_value, ctx) => {
    const params: UnknownKeyParams = { unknownKey: true, known };
    ctx.addIssue({ code: 'custom', message: 'unknown key', params });
  });

// Strict objects whose unknown keys each get their own issue at their own path, so every one of
// them can be reported with its line and a suggestion.
function strict<T extends Record<string, z.ZodType>>(shape: T) {
  return z.object(shape).catchall(unknownKey(Object.keys(shape)));
}

export function describe(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return JSON.stringify(input);
  if (Array.isArray(input)) return 'a list';
  if (input !== null && typeof input === 'object') return 'a mapping';
  return String(input);
}

function duration(fallback: string, min: string, max = TIMER_MAX) {
  const lo = parseDuration(min) as number;
  const hi = parseDuration(max) as number;
  return z
    .unknown()
    .transform((input, ctx) => {
      const ms = typeof input === 'string' || typeof input === 'number' ? parseDuration(input) : undefined;
      let message: string | undefined;
      if (ms === undefined) {
        const hint = typeof input === 'number' ? ' (add a unit: ms, s, m, h or d)' : '';
        message = `expected a duration like "${fallback}", got ${describe(input)}${hint}`;
      } else if (ms < lo) message = `must be at least ${min}, got ${describe(input)}`;
      else if (ms > hi) message = `must be at most ${max}, got ${describe(input)}`;
      if (message === undefined) return ms as number;
      ctx.issues.push({ code: 'custom', message, input });
      return z.NEVER;
    })
    .prefault(fallback);
}

function size(fallback: string, min: string, max: string) {
  const lo = parseSize(min) as number;
  const hi = parseSize(max) as number;
  return z
    .unknown()
    .transform((input, ctx) => {
      const bytes = typeof input === 'string' || typeof input === 'number' ? parseSize(input) : undefined;
      let message: string | undefined;
      if (bytes === undefined) message = `expected a size like "${fallback}", got ${describe(input)}`;
      else if (bytes < lo) message = `must be at least ${min}, got ${describe(input)}`;
      else if (bytes > hi) message = `must be at most ${max}, got ${describe(input)}`;
      if (message === undefined) return bytes as number;
      ctx.issues.push({ code: 'custom', message, input });
      return z.NEVER;
    })
    .prefault(fallback);
}

const httpUrl = (fallback: string) =>
  z
    .unknown()
    .transform((input, ctx) => {
      if (typeof input === 'string' && URL.canParse(input)) {
        const { protocol } = new URL(input);
        if (protocol === 'http:' || protocol === 'https:') return input;
      }
      ctx.issues.push({
        code: 'custom',
        message: `expected an http:// or https:// URL, got ${describe(input)}`,
        input,
      });
      return z.NEVER;
    })
    .prefault(fallback);

const nonEmpty = () => z.string().min(1);

/** `null` switches the setting off; anything else goes through `schema` (with its default). */
function orNull<T>(schema: z.ZodType<T>) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): T | null => {
      if (input === null) return null;
      const result = schema.safeParse(input);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        ctx.issues.push({ code: 'custom', message: issue.message, input, path: issue.path });
      }
      return z.NEVER;
    });
}

/** Left out: undefined (the caller falls back to another setting); given: checked by `schema`. */
function maybe<T>(schema: z.ZodType<T>) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): T | undefined => {
      if (input === undefined) return undefined;
      const result = schema.safeParse(input);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        ctx.issues.push({ code: 'custom', message: issue.message, input, path: issue.path });
      }
      return z.NEVER;
    });
}

const pluginLimitFields = {
  memory: () => size('64MiB', '8MiB', '4GiB'),
  timeout: () => duration('5s', '10ms', '10m'),
  cpu_budget: () => duration('10s', '10ms', '24h'),
  cpu_window: () => duration('60s', '1s', '24h'),
  max_records_per_call: () => z.number().int().min(1).max(1_000_000).default(10_000),
};

const pluginsSection = strict({
  enabled: z.boolean().default(true),
  dir: nonEmpty().optional(),
  limits: strict({
    memory: pluginLimitFields.memory(),
    timeout: pluginLimitFields.timeout(),
    cpu_budget: pluginLimitFields.cpu_budget(),
    cpu_window: pluginLimitFields.cpu_window(),
    max_records_per_call: pluginLimitFields.max_records_per_call(),
  }).prefault({}),
  restart: strict({
    initial_backoff: duration('1s', '10ms', '1h'),
    max_backoff: duration('5m', '10ms'),
    quarantine_after: z.number().int().min(1).max(1000).default(5),
    failure_window: duration('10m', '1s'),
  }).prefault({}),
  overrides: z
    .record(
      nonEmpty(),
      strict({
        enabled: z.boolean().optional(),
        interval: maybe(duration('60s', '1s')),
        config: z.record(z.string(), z.unknown()).optional(),
        limits: strict({
          memory: maybe(pluginLimitFields.memory()),
          timeout: maybe(pluginLimitFields.timeout()),
          cpu_budget: maybe(pluginLimitFields.cpu_budget()),
          cpu_window: maybe(pluginLimitFields.cpu_window()),
          max_records_per_call: maybe(pluginLimitFields.max_records_per_call()),
        }).prefault({}),
      }),
    )
    .default({}),
});

/**
 * "none" switches the setting off; anything else goes through `schema` (with its default). An empty
 * value or null cannot say it: the loader reads those as "use the default".
 */
function orNone<T>(schema: z.ZodType<T>) {
  return z
    .unknown()
    .optional()
    .transform((input, ctx): T | null => {
      if (input === 'none') return null;
      const result = schema.safeParse(input);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        const message = `${issue.message} (or "none" for no limit)`;
        ctx.issues.push({ code: 'custom', message, input, path: issue.path });
      }
      return z.NEVER;
    });
}

/** "20%" of one CPU, as systemd's CPUQuota= takes it; over 100% spans several CPUs. */
function cpuQuota(fallback: string) {
  return z
    .unknown()
    .transform((input, ctx) => {
      const match = typeof input === 'string' ? /^(\d+(?:\.\d+)?)\s*%$/.exec(input.trim()) : null;
      const percent = match ? Number(match[1]) : Number.NaN;
      if (percent > 0 && percent <= 100_000) return percent;
      ctx.issues.push({
        code: 'custom',
        message: `expected a share of one CPU like "${fallback}" (over 100% spans several CPUs), got ${describe(input)}`,
        input,
      });
      return z.NEVER;
    })
    .prefault(fallback);
}

/** Loopback only: see parseLoopbackListen. */
const metricsListen = z
  .unknown()
  .optional()
  .transform((input, ctx): string | null => {
    if (input === null || input === undefined) return null;
    const parsed = typeof input === 'string' ? parseLoopbackListen(input) : 'expected host:port or null';
    if (typeof parsed !== 'string') return input as string;
    ctx.issues.push({
      code: 'custom',
      message: typeof input === 'string' ? parsed : `${parsed}, got ${describe(input)}`,
      input,
    });
    return z.NEVER;
  });

const processMatch = strict({
  name: nonEmpty().optional(),
  pid: z.number().int().min(1).optional(),
  pattern: nonEmpty().optional(),
}).transform((match, ctx): ProcessMatch => {
  const given = (['name', 'pid', 'pattern'] as const).filter((k) => match[k] !== undefined);
  if (given.length !== 1) {
    ctx.issues.push({
      code: 'custom',
      message:
        given.length === 0
          ? 'expected one of name, pid or pattern, e.g. { name: nginx }'
          : `give only one of name, pid or pattern (got ${given.join(' and ')})`,
      input: match,
    });
    return z.NEVER;
  }
  if (match.name !== undefined) return { name: match.name };
  if (match.pid !== undefined) return { pid: match.pid };
  const pattern = match.pattern as string;
  try {
    new RegExp(pattern);
  } catch (err) {
    ctx.issues.push({ code: 'custom', message: (err as Error).message, input: pattern, path: ['pattern'] });
    return z.NEVER;
  }
  return { pattern };
});

const regexSource = () =>
  nonEmpty().superRefine((source, ctx) => {
    try {
      new RegExp(source);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const logInput = strict({
  // The name is part of the input's cursor keys, so it must not contain their separator.
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, ".", "_" or "-" (it names the stored offsets)'),
  paths: z.array(nonEmpty()).min(1),
  exclude: z.array(nonEmpty()).default([]),
  start_at: z.enum(['beginning', 'end']).default('end'),
  multiline: strict({
    start_pattern: regexSource(),
    max_lines: z.number().int().min(1).max(100_000).default(500),
    timeout: duration('2s', '10ms', '1h'),
  })
    .nullable()
    .default(null),
  max_record_bytes: size('64KiB', '1KiB', '16MiB'),
  partial_line_timeout: duration('5s', '0ms', '1h'),
  rotate_wait: duration('5s', '0ms', '1h'),
  encoding: z.enum(['utf8', 'latin1']).default('utf8'),
  poll_interval: duration('1s', '50ms', '1h'),
});

export interface SchemaDefaults {
  enrollmentToken: string;
  stateDir: string;
  hostname: string;
}

export function defaultsFromEnv(env: NodeJS.ProcessEnv, uid = process.getuid?.()): SchemaDefaults {
  return {
    enrollmentToken: env.OUTPOST_ENROLLMENT_TOKEN ?? '',
    stateDir: defaultStateDir(env, uid),
    hostname: os.hostname(),
  };
}

/**
 * systemd's $STATE_DIRECTORY under a unit; /var/lib/outpost for root; otherwise the XDG state dir, so
 * the agent runs on a laptop as-is.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv, uid: number | undefined): string {
  // Set by systemd from StateDirectory= (the unit `agentctl service install` writes); the first
  // entry is the agent's own.
  const systemd = env.STATE_DIRECTORY?.split(':')[0];
  if (systemd !== undefined && path.isAbsolute(systemd)) return systemd;
  if (uid === 0) return '/var/lib/outpost';
  // The XDG spec says to ignore a relative XDG_STATE_HOME.
  const xdg = env.XDG_STATE_HOME;
  if (xdg !== undefined && path.isAbsolute(xdg)) return path.join(xdg, 'outpost');
  return path.join(env.HOME || os.homedir(), '.local', 'state', 'outpost');
}

export function configSchema(defaults: SchemaDefaults) {
  const retry = strict({
    initial_backoff: duration('500ms', '10ms', '1h'),
    max_backoff: duration('30s', '10ms', TIMER_MAX),
    max_retry_after: duration('5m', '1s', TIMER_MAX),
  }).superRefine((value, ctx) => {
    if (value.max_backoff < value.initial_backoff) {
      ctx.addIssue({
        code: 'custom',
        message: 'must not be less than send.retry.initial_backoff',
        path: ['max_backoff'],
      });
    }
  });

  return strict({
    collector: strict({
      url: httpUrl('http://127.0.0.1:7410'),
      enrollment_token: z.string().default(defaults.enrollmentToken),
      request_timeout: duration('10s', '100ms', '10m'),
    }).prefault({}),
    agent: strict({
      state_dir: nonEmpty().default(defaults.stateDir),
      hostname: nonEmpty().default(defaults.hostname),
      labels: z.record(nonEmpty(), z.string()).default({}),
    }).prefault({}),
    inputs: strict({
      system: strict({
        enabled: z.boolean().default(true),
        interval: duration('10s', '100ms'),
        metrics: z
          .array(z.enum(SYSTEM_METRIC_GROUPS))
          .default([...SYSTEM_METRIC_GROUPS])
          .transform((groups) => [...new Set(groups)]),
      }).prefault({}),
      processes: strict({
        enabled: z.boolean().default(true),
        interval: duration('10s', '100ms'),
        self: z.boolean().default(true),
        match: z.array(processMatch).default([]),
      }).prefault({}),
      logs: z
        .array(logInput)
        .default([])
        .superRefine((logs, ctx) => {
          const seen = new Set<string>();
          logs.forEach((log, i) => {
            if (seen.has(log.name)) {
              ctx.addIssue({
                code: 'custom',
                message: `duplicate log input name "${log.name}"`,
                path: [i, 'name'],
              });
            }
            seen.add(log.name);
          });
        }),
    }).prefault({}),
    queue: strict({
      max_bytes: size('256MiB', '1MiB', '1TiB'),
      max_age: duration('7d', '1m', '3650d'),
      policy: z.enum(['drop_oldest', 'block']).default('drop_oldest'),
      durability: z.enum(['normal', 'full']).default('normal'),
    }).prefault({}),
    send: strict({
      batch_max_records: z.number().int().min(1).max(100_000).default(1000),
      batch_max_bytes: size('1MiB', '1KiB', '64MiB'),
      batch_max_wait: duration('1s', '0ms', '1h'),
      max_in_flight: z.number().int().min(1).max(16).default(4),
      compression: z.enum(['zstd', 'none']).default('zstd'),
      retry: retry.prefault({}),
    }).prefault({}),
    heartbeat: strict({ interval: duration('10s', '1s', '1h') }).prefault({}),
    shutdown: strict({ grace_period: duration('10s', '0s', '1h') }).prefault({}),
    control: strict({ socket: nonEmpty().optional() }).prefault({}),
    log: strict({
      level: z.enum(LOG_LEVELS).default('info'),
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    }).prefault({}),
    metrics: strict({ listen: metricsListen }).prefault({}),
    service: strict({
      memory_max: orNull(size('512MiB', '32MiB', '1TiB')),
      cpu_quota: orNull(cpuQuota('20%')),
      watchdog: orNone(duration('60s', '1s', '24h')),
    }).prefault({}),
    // Below the unit's defaults (CPUQuota 20%, MemoryMax 512MiB) so load is shed before systemd acts;
    // the memory limit is the daemon's own RSS, and the plugin host shares the unit's MemoryMax.
    limits: strict({
      cpu_percent: orNone(
        z
          .unknown()
          .transform((input, ctx) => {
            if (typeof input === 'number' && input > 0 && input <= 100_000) return input;
            const message = `expected a percent of one core like 15 (over 100 spans several cores), got ${describe(input)}`;
            ctx.issues.push({ code: 'custom', message, input });
            return z.NEVER;
          })
          .prefault(15),
      ),
      memory: orNone(size('384MiB', '16MiB', '1TiB')),
      interval: duration('5s', '100ms', '1h'),
    }).prefault({}),
    processors: processorsSchema,
    plugins: pluginsSection.prefault({}),
    fleet: strict({
      remote_config: z.boolean().default(true),
      commands: z.boolean().default(true),
      upgrade_command: nonEmpty().nullable().default(null),
      upgrade_timeout: duration('10m', '1s', '24h'),
    }).prefault({}),
  });
}

export type ParsedConfig = z.output<ReturnType<typeof configSchema>>;

/** Makes paths absolute (relative ones against the config file's dir) and fills derived defaults. */
export function finishConfig(parsed: ParsedConfig, baseDir: string): AgentConfig {
  const stateDir = resolvePath(parsed.agent.state_dir, baseDir);
  const socket = parsed.control.socket;
  return {
    collector: {
      url: parsed.collector.url,
      enrollment_token: parsed.collector.enrollment_token,
      request_timeout: parsed.collector.request_timeout,
    },
    agent: { state_dir: stateDir, hostname: parsed.agent.hostname, labels: parsed.agent.labels },
    inputs: {
      system: {
        enabled: parsed.inputs.system.enabled,
        interval: parsed.inputs.system.interval,
        metrics: parsed.inputs.system.metrics,
      },
      processes: {
        enabled: parsed.inputs.processes.enabled,
        interval: parsed.inputs.processes.interval,
        self: parsed.inputs.processes.self,
        match: parsed.inputs.processes.match,
      },
      logs: parsed.inputs.logs.map((log) => ({
        name: log.name,
        paths: log.paths.map((p) => resolvePath(p, baseDir)),
        exclude: log.exclude.map((p) => (p.includes('/') ? resolvePath(p, baseDir) : p)),
        start_at: log.start_at,
        multiline: log.multiline,
        max_record_bytes: log.max_record_bytes,
        partial_line_timeout: log.partial_line_timeout,
        rotate_wait: log.rotate_wait,
        encoding: log.encoding,
        poll_interval: log.poll_interval,
      })),
    },
    queue: {
      max_bytes: parsed.queue.max_bytes,
      max_age: parsed.queue.max_age,
      policy: parsed.queue.policy,
      durability: parsed.queue.durability,
    },
    send: {
      batch_max_records: parsed.send.batch_max_records,
      batch_max_bytes: parsed.send.batch_max_bytes,
      batch_max_wait: parsed.send.batch_max_wait,
      max_in_flight: parsed.send.max_in_flight,
      compression: parsed.send.compression,
      retry: {
        initial_backoff: parsed.send.retry.initial_backoff,
        max_backoff: parsed.send.retry.max_backoff,
        max_retry_after: parsed.send.retry.max_retry_after,
      },
    },
    heartbeat: { interval: parsed.heartbeat.interval },
    shutdown: { grace_period: parsed.shutdown.grace_period },
    control: {
      socket: socket === undefined ? path.join(stateDir, 'agent.sock') : resolvePath(socket, baseDir),
    },
    log: { level: parsed.log.level, format: parsed.log.format },
    metrics: { listen: parsed.metrics.listen },
    service: {
      memory_max: parsed.service.memory_max,
      cpu_quota: parsed.service.cpu_quota,
      watchdog: parsed.service.watchdog,
    },
    limits: {
      cpu_percent: parsed.limits.cpu_percent,
      memory: parsed.limits.memory,
      interval: parsed.limits.interval,
    },
    processors: parsed.processors,
    fleet: {
      remote_config: parsed.fleet.remote_config,
      commands: parsed.fleet.commands,
      upgrade_command: parsed.fleet.upgrade_command,
      upgrade_timeout: parsed.fleet.upgrade_timeout,
    },
    plugins: {
      enabled: parsed.plugins.enabled,
      dir:
        parsed.plugins.dir === undefined
          ? path.join(stateDir, 'plugins')
          : resolvePath(parsed.plugins.dir, baseDir),
      limits: parsed.plugins.limits,
      restart: parsed.plugins.restart,
      overrides: Object.fromEntries(
        Object.entries(parsed.plugins.overrides).map(([name, o]) => [
          name,
          {
            ...(o.enabled !== undefined && { enabled: o.enabled }),
            ...(o.interval !== undefined && { interval: o.interval }),
            ...(o.config !== undefined && { config: o.config }),
            limits: Object.fromEntries(Object.entries(o.limits).filter(([, v]) => v !== undefined)),
          },
        ]),
      ),
    },
  };
}

function resolvePath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(baseDir, p);
}

/** zod's messages rephrased for people editing YAML; custom issues keep their own message. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const got = describe(issue.input);
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      const scalar = typeof issue.input === 'number' || typeof issue.input === 'boolean';
      const hint = issue.expected === 'string' && scalar ? ` (quote it: "${got}")` : '';
      return `expected ${expected}, got ${got}${hint}`;
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const suggestion = typeof issue.input === 'string' ? closest(issue.input, options) : undefined;
      const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
      return `expected one of ${options.join(', ')}, got ${got}${hint}`;
    }
    case 'too_small':
      if (issue.origin === 'string') return 'must not be empty';
      return `must be at least ${issue.minimum}, got ${got}`;
    case 'too_big':
      return `must be at most ${issue.maximum}, got ${got}`;
    default:
      return undefined;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};
