import {
  type AlertInput,
  type AttrValue,
  alert,
  definePlugin,
  type OutpostRecord,
} from '@outpost/plugin-sdk';

export interface ThresholdRule {
  metric: string;
  op: 'above' | 'below';
  threshold: number;
  forMs: number;
  severity: 'info' | 'warning' | 'critical';
  alert?: string;
}

export interface ThresholdAlertConfig {
  rules: ThresholdRule[];
  maxSeries: number;
}

/** A series past its threshold: since when, and whether its alert fired. Series back to normal are dropped. */
type Breach = { since: number; firing: boolean };
type Breaches = Record<string, Breach>;

const STATE_KEY = 'breaches';

/** One key per rule and series, attributes in a stable order so the same series always maps to it. */
function seriesKey(ruleIndex: number, record: OutpostRecord): string {
  const attrs = Object.keys(record.attrs)
    .sort()
    .map((k) => [k, record.attrs[k]]);
  return JSON.stringify([ruleIndex, record.name, attrs]);
}

function isBreach(rule: ThresholdRule, value: number): boolean {
  return rule.op === 'above' ? value > rule.threshold : value < rule.threshold;
}

function buildAlert(
  rule: ThresholdRule,
  record: OutpostRecord,
  value: number,
  state: 'firing' | 'resolved',
  ts: number,
): AlertInput {
  const attrs: Record<string, AttrValue> = {
    ...record.attrs,
    metric: rule.metric,
    op: rule.op,
    threshold: rule.threshold,
    value,
  };
  const verb = state === 'firing' ? 'is' : 'is no longer';
  return alert({
    name: rule.alert ?? `threshold.${rule.metric}`,
    state,
    severity: rule.severity,
    ts,
    attrs,
    body: `${rule.metric} ${verb} ${rule.op} ${rule.threshold} (value ${value})`,
  });
}

export default definePlugin<ThresholdAlertConfig>({
  async rule(records, ctx) {
    const { rules, maxSeries } = ctx.config;
    const breaches = (await ctx.state.get<Breaches>(STATE_KEY)) ?? {};
    const now = ctx.clock.now();
    const alerts: AlertInput[] = [];
    let changed = false;
    let ignored = 0;

    for (const record of records) {
      if (record.kind !== 'metric' || record.value === undefined) continue;
      for (const [index, rule] of rules.entries()) {
        if (rule.metric !== record.name) continue;
        const key = seriesKey(index, record);
        const breach = breaches[key];
        if (isBreach(rule, record.value)) {
          if (breach === undefined) {
            if (Object.keys(breaches).length >= maxSeries) {
              ignored++;
              continue;
            }
            breaches[key] = { since: now, firing: rule.forMs === 0 };
            changed = true;
            if (rule.forMs === 0) alerts.push(buildAlert(rule, record, record.value, 'firing', now));
          } else if (!breach.firing && now - breach.since >= rule.forMs) {
            breach.firing = true;
            changed = true;
            alerts.push(buildAlert(rule, record, record.value, 'firing', now));
          }
        } else if (breach !== undefined) {
          if (breach.firing) alerts.push(buildAlert(rule, record, record.value, 'resolved', now));
          delete breaches[key];
          changed = true;
        }
      }
    }

    if (ignored > 0) ctx.log.warn('too many series past their threshold: ignored', { ignored, maxSeries });
    if (changed) await ctx.state.set(STATE_KEY, breaches);
    return alerts;
  },
});
