import { type Attrs, recordView, type StoredAgent, type StoredRecord } from '../store/index.ts';

type AgentInfo = Pick<StoredAgent, 'id' | 'hostname' | 'labels'>;

/** One JSON object per line: the record as the read-back API shows it, with its agent's hostname. */
export function toNdjson(records: readonly StoredRecord[], agents: ReadonlyMap<string, AgentInfo>): string {
  let out = '';
  for (const r of records) {
    const { agentId, ...rest } = recordView(r);
    const hostname = agents.get(agentId)?.hostname ?? null;
    out += `${JSON.stringify({ id: r.id, agentId, hostname, ...rest })}\n`;
  }
  return out;
}

interface OtlpAnyValue {
  stringValue?: string;
  doubleValue?: number;
  intValue?: string;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

function anyValue(v: string | number | boolean): OtlpAnyValue {
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { stringValue: v };
}

function keyValues(attrs: Attrs): OtlpKeyValue[] {
  return Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));
}

function nanos(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

function resource(agentId: string, agents: ReadonlyMap<string, AgentInfo>) {
  const agent = agents.get(agentId);
  const attrs: Attrs = { 'service.name': 'outpost-agent', 'outpost.agent.id': agentId };
  if (agent) {
    attrs['host.name'] = agent.hostname;
    for (const [k, v] of Object.entries(agent.labels)) attrs[`outpost.label.${k}`] = v;
  }
  return { attributes: keyValues(attrs) };
}

const SCOPE = { name: 'outpost-collector' };

function byAgent(records: readonly StoredRecord[]): Map<string, StoredRecord[]> {
  const out = new Map<string, StoredRecord[]>();
  for (const r of records) {
    const list = out.get(r.agentId);
    if (list) list.push(r);
    else out.set(r.agentId, [r]);
  }
  return out;
}

/** OTLP/HTTP JSON for /v1/metrics: each metric record becomes a gauge data point. */
export function toOtlpMetrics(records: readonly StoredRecord[], agents: ReadonlyMap<string, AgentInfo>) {
  return {
    resourceMetrics: [...byAgent(records.filter((r) => r.kind === 'metric' && r.value !== null))].map(
      ([agentId, list]) => {
        const metrics = new Map<string, { name: string; unit: string; gauge: { dataPoints: unknown[] } }>();
        for (const r of list) {
          const key = `${r.name}\u0000${r.unit ?? ''}`;
          let metric = metrics.get(key);
          if (!metric) {
            metric = { name: r.name, unit: r.unit ?? '', gauge: { dataPoints: [] } };
            metrics.set(key, metric);
          }
          metric.gauge.dataPoints.push({
            timeUnixNano: nanos(r.ts),
            asDouble: r.value,
            attributes: keyValues(r.attrs),
          });
        }
        return {
          resource: resource(agentId, agents),
          scopeMetrics: [{ scope: SCOPE, metrics: [...metrics.values()] }],
        };
      },
    ),
  };
}

const SEVERITY: Record<string, number> = {
  trace: 1,
  debug: 5,
  info: 9,
  warn: 13,
  warning: 13,
  error: 17,
  fatal: 21,
};

/** OTLP/HTTP JSON for /v1/logs: logs, events and alerts, with outpost.kind and outpost.name attributes. */
export function toOtlpLogs(records: readonly StoredRecord[], agents: ReadonlyMap<string, AgentInfo>) {
  return {
    resourceLogs: [...byAgent(records.filter((r) => r.kind !== 'metric'))].map(([agentId, list]) => ({
      resource: resource(agentId, agents),
      scopeLogs: [
        {
          scope: SCOPE,
          logRecords: list.map((r) => {
            const level = String(r.attrs.level ?? r.attrs.severity ?? '').toLowerCase();
            return {
              timeUnixNano: nanos(r.ts),
              observedTimeUnixNano: nanos(r.receivedAt),
              ...(SEVERITY[level]
                ? { severityNumber: SEVERITY[level], severityText: level.toUpperCase() }
                : {}),
              body: { stringValue: r.body ?? r.name },
              attributes: keyValues({
                ...r.attrs,
                'outpost.kind': r.kind,
                'outpost.name': r.name,
                'outpost.source': r.source,
                ...(r.value === null ? {} : { 'outpost.value': r.value }),
              }),
            };
          }),
        },
      ],
    })),
  };
}
