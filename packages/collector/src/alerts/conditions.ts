import type { Attrs, MetricAggregate, Store, StoredAgent, StoredRecord } from '../store/index.ts';
import type { Rule } from './rules.ts';
import type { Observation } from './state.ts';

export interface RuleContext {
  store: Store;
  agents: readonly StoredAgent[];
  now: number;
  offlineAfterMs: number;
}

/** The labels every alert about an agent carries; the agent's own labels never override these. */
function alertLabels(
  name: string,
  agent: Pick<StoredAgent, 'id' | 'hostname' | 'labels'> | undefined,
  agentId: string,
  extra: Record<string, string>,
): Record<string, string> {
  return { ...agent?.labels, ...extra, alertname: name, agent: agentId, hostname: agent?.hostname ?? '' };
}

export function selects(rule: Pick<Rule, 'agent' | 'labels'>, agent: StoredAgent): boolean {
  if (rule.agent !== undefined && rule.agent !== agent.id) return false;
  for (const [k, v] of Object.entries(rule.labels ?? {})) if (agent.labels[k] !== v) return false;
  return true;
}

export function compare(op: 'above' | 'below', value: number, threshold: number): boolean {
  return op === 'above' ? value > threshold : value < threshold;
}

/**
 * One observation per selected agent the rule can judge now. A threshold rule without data in its
 * window judges nothing for that agent, so its alert keeps its state: "no data" is its own rule.
 */
export async function observe(ruleId: string, rule: Rule, ctx: RuleContext): Promise<Observation[]> {
  const agents = ctx.agents.filter((agent) => selects(rule, agent));
  const base = (agent: StoredAgent, value: number | null, active: boolean): Observation => ({
    key: `rule:${ruleId}:${agent.id}`,
    ruleId,
    name: rule.name,
    labels: alertLabels(rule.name, agent, agent.id, { severity: rule.severity, rule_id: ruleId }),
    value,
    source: 'rule',
    active,
  });
  switch (rule.type) {
    case 'agent_offline': {
      const after = rule.after ?? ctx.offlineAfterMs;
      return agents.map((agent) => {
        const ageMs = ctx.now - (agent.lastHeartbeatAt ?? agent.registeredAt);
        return base(agent, Math.round(ageMs) / 1000, ageMs > after);
      });
    }
    case 'no_data': {
      const counts = await ctx.store.alerts.metricCounts(rule.metric, ctx.now - rule.window, ctx.now);
      const byAgent = new Map(counts.map((c) => [c.agentId, c.count]));
      return agents.map((agent) => {
        const count = byAgent.get(agent.id) ?? 0;
        return base(agent, count, count === 0);
      });
    }
    case 'log_pattern': {
      const counts = await ctx.store.alerts.logPatternCounts(
        rule.pattern,
        rule.log,
        ctx.now - rule.window,
        ctx.now,
      );
      const byAgent = new Map(counts.map((c) => [c.agentId, c.count]));
      return agents.map((agent) => {
        const count = byAgent.get(agent.id) ?? 0;
        return base(agent, count, count > rule.count_above);
      });
    }
    case 'threshold': {
      const from = ctx.now - rule.window;
      const values = rule.attrs
        ? await attrFilteredAggregates(ctx.store, rule.metric, rule.attrs, from, ctx.now)
        : await ctx.store.alerts.metricAggregates(rule.metric, from, ctx.now);
      const byAgent = new Map(values.map((v) => [v.agentId, v]));
      const out: Observation[] = [];
      for (const agent of agents) {
        const aggregate = byAgent.get(agent.id);
        if (!aggregate || aggregate.count === 0) continue;
        const value = aggregate[rule.aggregate];
        out.push(base(agent, value, compare(rule.op, value, rule.threshold)));
      }
      return out;
    }
  }
}

/** Aggregates in memory when the rule narrows by attrs (attrs are JSON in the store). */
async function attrFilteredAggregates(
  store: Store,
  metric: string,
  attrs: Attrs,
  from: number,
  to: number,
): Promise<MetricAggregate[]> {
  const records: StoredRecord[] = [];
  let after: { ts: number; id: number } | undefined;
  for (;;) {
    const page = await store.queryRecords({
      kind: 'metric',
      name: metric,
      from,
      to: to + 1,
      limit: 10_000,
      after,
    });
    records.push(...page.records.filter((r) => Object.entries(attrs).every(([k, v]) => r.attrs[k] === v)));
    const last = page.records.at(-1);
    if (!page.more || !last) break;
    after = { ts: last.ts, id: last.id };
  }
  return aggregate(records);
}

export function aggregate(
  records: readonly Pick<StoredRecord, 'agentId' | 'value' | 'ts'>[],
): MetricAggregate[] {
  const byAgent = new Map<string, MetricAggregate & { sum: number; lastTs: number }>();
  for (const r of records) {
    if (r.value === null) continue;
    const a = byAgent.get(r.agentId);
    if (!a) {
      byAgent.set(r.agentId, {
        agentId: r.agentId,
        count: 1,
        sum: r.value,
        avg: r.value,
        min: r.value,
        max: r.value,
        last: r.value,
        lastTs: r.ts,
      });
      continue;
    }
    a.count += 1;
    a.sum += r.value;
    a.avg = a.sum / a.count;
    a.min = Math.min(a.min, r.value);
    a.max = Math.max(a.max, r.value);
    if (r.ts >= a.lastTs) {
      a.last = r.value;
      a.lastTs = r.ts;
    }
  }
  return [...byAgent.values()].map(({ agentId, count, avg, min, max, last }) => ({
    agentId,
    count,
    avg,
    min,
    max,
    last,
  }));
}

/** An alert record sent by an agent's rule plugin, as an observation of the same model. */
export function edgeObservation(record: StoredRecord, agent: StoredAgent | undefined): Observation {
  const { state, ...rest } = record.attrs;
  const extra: Record<string, string> = { source: record.source };
  for (const [k, v] of Object.entries(rest)) extra[k] = String(v);
  return {
    key: `edge:${record.agentId}:${record.name}`,
    ruleId: null,
    name: record.name,
    labels: alertLabels(record.name, agent, record.agentId, extra),
    value: record.value,
    source: 'edge',
    target: state === 'resolved' ? 'resolved' : 'firing',
  };
}
