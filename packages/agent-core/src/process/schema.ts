import { z } from 'zod';
// A runtime import cycle (config/schema.ts embeds processorsSchema): safe because parseDuration
// is only called while a config is parsed, never while these modules are being evaluated.
import { parseDuration } from '../config/index.ts';

export const PROCESSOR_TYPES = [
  'parse',
  'filter',
  'transform',
  'aggregate',
  'sample',
  'rate_limit',
  'plugin',
] as const;
export type ProcessorType = (typeof PROCESSOR_TYPES)[number];

/** Severity names a record's `level` attr is normalised to, lowest first. */
export const RECORD_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type RecordLevel = (typeof RECORD_LEVELS)[number];

export const AGGREGATE_FUNCTIONS = ['count', 'sum', 'min', 'max', 'avg', 'p95'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

export const TIMESTAMP_FORMATS = ['unix_ms', 'unix_s', 'iso8601', 'rfc3339', 'clf'] as const;
export type TimestampFormat = (typeof TIMESTAMP_FORMATS)[number];

const RESERVED_STAGE_NAMES = ['input', 'output'];

function describe(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return JSON.stringify(input);
  if (Array.isArray(input)) return 'a list';
  if (input !== null && typeof input === 'object') return 'a mapping';
  return String(input);
}

// Same tagging as config/schema.ts, so the config loader points at each unknown key with its line
// and suggests a known one.
function strict<T extends Record<string, z.ZodType>>(shape: T) {
  const known = Object.keys(shape);
  return z.object(shape).catchall(
    z.unknown().superRefine((_value, ctx) => {
      ctx.addIssue({ code: 'custom', message: 'unknown key', params: { unknownKey: true, known } });
    }),
  );
}

const nonEmpty = () => z.string().min(1);

/** A regular expression kept as its source text: configs stay plain data; Pipeline compiles them. */
const regex = (options: { namedGroups?: boolean } = {}) =>
  z.string().superRefine((source, ctx) => {
    let compiled: RegExp;
    try {
      compiled = new RegExp(source);
    } catch (err) {
      // V8 says "Invalid regular expression: /<source>/: <reason>"; the key already names the source.
      const reason = /: \/.*\/[a-z]*: (.*)$/s.exec((err as Error).message)?.[1] ?? (err as Error).message;
      ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${reason.toLowerCase()}` });
      return;
    }
    if (options.namedGroups && !/\(\?<[A-Za-z_$]/.test(compiled.source)) {
      ctx.addIssue({
        code: 'custom',
        message: 'the pattern has no named groups; name each field, e.g. (?<status>\\d{3})',
      });
    }
  });

/**
 * When neither a list nor a single value fits, says what is wrong inside the one the input was
 * meant to be (the option that did not fail on its type), with the path below the union's key.
 */
function unionMessage(optionErrors: ReadonlyArray<ReadonlyArray<z.core.$ZodIssue>>, example: string): string {
  const found = innermost(optionErrors);
  if (found === undefined) return `expected ${example} or a list of them`;
  let where = '';
  for (const part of found.path)
    where += typeof part === 'number' ? `[${part}]` : `${where === '' ? '' : '.'}${String(part)}`;
  return where === '' ? found.message : `${where}: ${found.message}`;
}

function innermost(
  optionErrors: ReadonlyArray<ReadonlyArray<z.core.$ZodIssue>>,
): { path: PropertyKey[]; message: string } | undefined {
  const meant = optionErrors.find(
    (issues) => issues.length > 0 && !issues.every((i) => i.code === 'invalid_type' && i.path.length === 0),
  );
  const first = meant?.[0];
  if (first === undefined) return undefined;
  const deeper = first.code === 'invalid_union' ? innermost(first.errors) : undefined;
  if (deeper === undefined) return { path: first.path, message: first.message };
  return { path: [...first.path, ...deeper.path], message: deeper.message };
}

/**
 * One value or a list of them, always a list after parsing. A union rather than a preprocess, so
 * an error in a single value is reported at its own key, not at a made-up "[0]".
 */
const oneOrMany = <T extends z.ZodType>(item: T, example: string) =>
  z
    .union([z.array(item).min(1), item], {
      error: (issue) => (issue.code === 'invalid_union' ? unionMessage(issue.errors, example) : undefined),
    })
    .transform((value): Array<z.output<T>> => (Array.isArray(value) ? value : [value]));

function duration(fallback: string, min: string, max: string) {
  return z
    .unknown()
    .transform((input, ctx) => {
      const lo = parseDuration(min) as number;
      const hi = parseDuration(max) as number;
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

const attrValue = z.union([z.string(), z.number(), z.boolean()]);

/**
 * Selects records; every key given must hold (AND). `name` and `source` are globs or exact
 * names; an attr is compared as text with a scalar, or tested with `{ regex }`; `level` is a
 * minimum; `body` is a regex on the log line.
 */
const condition = strict({
  kind: oneOrMany(z.enum(['metric', 'log', 'event', 'alert']), 'a record kind').optional(),
  name: oneOrMany(nonEmpty(), 'a name or glob').optional(),
  source: oneOrMany(nonEmpty(), 'a source or glob').optional(),
  attrs: z.record(z.string(), z.union([attrValue, strict({ regex: regex() })])).optional(),
  level: z.enum(RECORD_LEVELS).optional(),
  body: regex().optional(),
});
export type Condition = z.output<typeof condition>;

const common = {
  name: nonEmpty().optional(),
  match: condition.optional(),
};

const parseStage = strict({
  type: z.literal('parse'),
  ...common,
  format: z.enum(['json', 'logfmt', 'regex']),
  pattern: regex({ namedGroups: true }).optional(),
  /** Sets the record's ts from a parsed field; the field itself stays in attrs. */
  timestamp: strict({
    field: nonEmpty(),
    format: z.enum(TIMESTAMP_FORMATS).default('iso8601'),
  }).optional(),
  /** Sets attr `level` to trace|debug|info|warn|error|fatal from a parsed field (via `map`, then common spellings). */
  level: strict({
    field: nonEmpty(),
    map: z.record(z.string(), z.enum(RECORD_LEVELS)).default({}),
  }).optional(),
}).superRefine((stage, ctx) => {
  if (stage.format === 'regex' && stage.pattern === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'format "regex" needs a pattern with named groups, e.g. pattern: (?<status>\\d{3})',
      path: ['pattern'],
    });
  }
  if (stage.format !== 'regex' && stage.pattern !== undefined) {
    ctx.addIssue({ code: 'custom', message: `only format "regex" takes a pattern`, path: ['pattern'] });
  }
});

const filterStage = strict({
  type: z.literal('filter'),
  ...common,
  keep: oneOrMany(condition, 'a condition').optional(),
  drop: oneOrMany(condition, 'a condition').optional(),
}).superRefine((stage, ctx) => {
  if (stage.keep === undefined && stage.drop === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'a filter needs keep or drop (or both), e.g. drop: { level: debug }',
    });
  }
});

const transformStage = strict({
  type: z.literal('transform'),
  ...common,
  rename: z.record(nonEmpty(), nonEmpty()).optional(),
  add: z.record(nonEmpty(), attrValue).optional(),
  remove: oneOrMany(nonEmpty(), 'an attr name').optional(),
  redact: oneOrMany(
    strict({
      pattern: regex(),
      replacement: z.string().default('[REDACTED]'),
    }),
    'a { pattern, replacement } rule',
  ).optional(),
}).superRefine((stage, ctx) => {
  if (!stage.rename && !stage.add && !stage.remove && !stage.redact) {
    ctx.addIssue({
      code: 'custom',
      message: 'a transform needs at least one of rename, add, remove or redact',
    });
  }
});

const aggregateStage = strict({
  type: z.literal('aggregate'),
  ...common,
  window: duration('60s', '1s', '24h'),
  functions: oneOrMany(z.enum(AGGREGATE_FUNCTIONS), 'a function').default(['count']),
  group_by: oneOrMany(nonEmpty(), 'an attr name').default([]),
  /** Aggregate a numeric attr (e.g. request_time) instead of a metric's value. */
  field: nonEmpty().optional(),
  output_name: nonEmpty().optional(),
  keep_input: z.boolean().default(false),
});

const sampleStage = strict({
  type: z.literal('sample'),
  ...common,
  rate: z.number().int().min(1).optional(),
  fraction: z.number().gt(0).max(1).optional(),
  /** Attr whose value decides, so all records of one key (e.g. a trace id) are kept or dropped together. */
  key: nonEmpty().optional(),
}).superRefine((stage, ctx) => {
  if ((stage.rate === undefined) === (stage.fraction === undefined)) {
    ctx.addIssue({
      code: 'custom',
      message: 'give exactly one of rate (keep 1 in N, e.g. rate: 10) or fraction (e.g. fraction: 0.1)',
    });
  }
});

const rateLimitStage = strict({
  type: z.literal('rate_limit'),
  ...common,
  records_per_second: z.number().gt(0),
  /** Records a quiet source may send at once; defaults to one second's worth. */
  burst: z.number().int().min(1).optional(),
  /** Attr that keys the buckets instead of the record's source. */
  key: nonEmpty().optional(),
});

const pluginStage = strict({
  type: z.literal('plugin'),
  ...common,
  plugin: nonEmpty(),
});

const stage = z.discriminatedUnion(
  'type',
  [parseStage, filterStage, transformStage, aggregateStage, sampleStage, rateLimitStage, pluginStage],
  {
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const type = (issue.input as { type?: unknown } | undefined)?.type;
      const expected = PROCESSOR_TYPES.join(', ');
      return type === undefined
        ? `every processor needs a type: one of ${expected}`
        : `unknown processor type ${describe(type)}; expected one of ${expected}`;
    },
  },
);

/** The `processors:` list of the agent config: stages run in order, each with a unique name. */
export const processorsSchema = z
  .array(stage)
  .transform((stages, ctx) => {
    const named = stages.map((s, index) => ({ ...s, name: s.name ?? `${s.type}#${index}` }));
    const seen = new Map<string, number>();
    for (const [index, s] of named.entries()) {
      if (RESERVED_STAGE_NAMES.includes(s.name)) {
        ctx.issues.push({
          code: 'custom',
          message: `"${s.name}" is reserved for tap; pick another name`,
          input: s.name,
          path: [index, 'name'],
        });
      }
      const first = seen.get(s.name);
      if (first !== undefined) {
        ctx.issues.push({
          code: 'custom',
          message: `name "${s.name}" is already used by processors[${first}]; names must be unique`,
          input: s.name,
          path: [index, 'name'],
        });
      } else seen.set(s.name, index);
    }
    return named;
  })
  .prefault([]);

export type ProcessorsConfig = z.output<typeof processorsSchema>;
export type ProcessorConfig = ProcessorsConfig[number];
export type StageConfig<T extends ProcessorType> = Extract<ProcessorConfig, { type: T }>;
