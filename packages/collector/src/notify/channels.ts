import { z } from 'zod';
import { parseDuration } from '../config/index.ts';

const duration = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as "30s", "5m" or "4h"' });
    return z.NEVER;
  }
  return ms;
});

export const matcherSchema = z
  .strictObject({
    name: z.string().min(1),
    value: z.string(),
    op: z.enum(['=', '!=', '=~']).default('='),
  })
  .superRefine((m, ctx) => {
    if (m.op !== '=~') return;
    try {
      new RegExp(m.value);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `not a valid regular expression: ${(err as Error).message}`,
      });
    }
  });
export type Matcher = z.output<typeof matcherSchema>;

const url = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const channelSchema = z.strictObject({
  name: z.string().min(1).max(200),
  /** webhook: the event as JSON; slack: a Slack-compatible incoming webhook body `{ text }`. */
  type: z.enum(['webhook', 'slack']),
  url,
  headers: z.record(z.string(), z.string()).optional(),
  send_resolved: z.boolean().default(true),
  /** While an alert keeps firing, notify again this often; never when absent. */
  repeat_interval: duration.optional(),
  /** Only alerts whose labels match all of these go to this channel. */
  matchers: z.array(matcherSchema).default([]),
});
export type ChannelInput = z.input<typeof channelSchema>;
export type Channel = z.output<typeof channelSchema>;

export const silenceSchema = z
  .strictObject({
    matchers: z.array(matcherSchema).min(1),
    comment: z.string().max(2000).default(''),
    /** Unix ms; or give `duration`. */
    expires_at: z.number().int().positive().optional(),
    duration: duration.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.expires_at === undefined) === (s.duration === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['expires_at'],
        message: 'give exactly one of expires_at (unix ms) or duration',
      });
    }
  });

export function matches(matchers: readonly Matcher[], labels: Record<string, string>): boolean {
  return matchers.every((m) => {
    const value = labels[m.name] ?? '';
    if (m.op === '=') return value === m.value;
    if (m.op === '!=') return value !== m.value;
    return new RegExp(`^(?:${m.value})$`).test(value);
  });
}
