import { z } from 'zod';
import { parseDuration } from '../config/index.ts';

const duration = (what: string) =>
  z.string().transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a ${what} such as "30s", "5m" or "1h"` });
      return z.NEVER;
    }
    return ms;
  });

const pattern = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` });
    }
  });

/** Which agents a rule looks at: one agent by id and/or agents whose labels all match. */
const selector = {
  agent: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
};

const common = {
  name: z.string().min(1).max(200),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
  /** How long the condition must hold before the alert fires (pending until then). */
  for: duration('duration').default(0),
  enabled: z.boolean().default(true),
  description: z.string().max(2000).optional(),
  ...selector,
};

const thresholdRule = z.strictObject({
  ...common,
  type: z.literal('threshold'),
  metric: z.string().min(1).max(1024),
  op: z.enum(['above', 'below']),
  threshold: z.number(),
  aggregate: z.enum(['avg', 'max', 'min', 'last']).default('avg'),
  window: duration('window').default(60_000),
  /** Only records whose attrs carry these values count (e.g. { "mountpoint": "/" }). */
  attrs: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

const offlineRule = z.strictObject({
  ...common,
  type: z.literal('agent_offline'),
  /** Heartbeat age that counts as offline; defaults to agents.offline_after. */
  after: duration('duration').optional(),
});

const noDataRule = z.strictObject({
  ...common,
  type: z.literal('no_data'),
  metric: z.string().min(1).max(1024),
  window: duration('window').default(300_000),
});

const logPatternRule = z.strictObject({
  ...common,
  type: z.literal('log_pattern'),
  pattern,
  /** The log source (record name); any when absent. */
  log: z.string().min(1).optional(),
  window: duration('window').default(300_000),
  /** Fires when more than this many matching lines arrive within the window. */
  count_above: z.number().int().nonnegative().default(0),
});

export const RULE_TYPES = ['threshold', 'agent_offline', 'no_data', 'log_pattern'] as const;

export const ruleSchema = z.discriminatedUnion(
  'type',
  [thresholdRule, offlineRule, noDataRule, logPatternRule],
  {
    // Only the "no such type" issue: anything else (e.g. a body that is no object) keeps its message.
    error: (issue) => {
      if (issue.code !== 'invalid_union') return undefined;
      const types = RULE_TYPES.map((t) => JSON.stringify(t)).join(', ');
      const input = issue.input as { type?: unknown } | null | undefined;
      return input?.type === undefined ? `required, one of ${types}` : `expected one of ${types}`;
    },
  },
);

/** The rule as sent (durations as text): what is stored and returned, so a GET shows what was PUT. */
export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;
