import { collectDefaultMetrics, Registry } from 'prom-client';
import { defineScrapedMetric, type MetricLabels } from './scraped-metric.ts';

/**
 * The part of the agent's status the self-metrics read; `agent.status()` fits it as is. Declared
 * here so telemetry does not depend on the lifecycle that owns it.
 */
export interface AgentSnapshot {
  agent: { version: string; configVersion: string };
  collector: { registered: boolean; lastHeartbeatAt: number | null } | null;
  queue: {
    depth: number;
    bytes: number;
    batches: number;
    leased: number;
    oldestTs: number | null;
    enqueued: number;
    acked: number;
    dropped: Record<string, number>;
    deadLetter: number;
  };
  sender: {
    batchesSent: number;
    recordsSent: number;
    batchesFailed: number;
    retries: number;
    deadLettered: number;
    bytesRaw: number;
    bytesSent: number;
    lastSendAt: number | null;
    consecutiveFailures: number;
  } | null;
  inputs: Array<{
    name: string;
    runs: number;
    errors: number;
    skipped: number;
    records: number;
    lastDurationMs: number | null;
  }>;
  /** Records the queue refused, by reason (queue_full, disk_full, io_error), and pushed by agentctl emit. */
  accept: { refused: Record<string, number>; pushed: number };
  /** The processor chain, stage by stage. */
  pipeline?: Array<{ stage: string; type: string; in: number; out: number; dropped: number; errors: number }>;
  guard?: {
    limits: { cpuPercent: number | null; memoryBytes: number | null };
    level: number;
    actions: Record<string, number>;
  } | null;
}

export interface AgentTelemetryOptions {
  /** Read once per scrape; every snapshot-backed metric is computed from that one reading. */
  snapshot: () => AgentSnapshot;
  now?: () => number;
}

export const METRIC_PREFIX = 'outpost_agent_';

/**
 * One value, or one value per label set; null when the figure does not exist right now (no
 * sender during a reload, never sent), which a metric without labels exposes as 0.
 */
type Reading = number | null | Array<[MetricLabels, number]>;

/**
 * The agent's self-metrics in Prometheus form, on a registry of its own (never prom-client's
 * global one, so tests and embedders can run several agents in one process).
 *
 * Others add metrics through `registry`: create prom-client metrics with `registers:
 * [telemetry.registry]`, names starting with `outpost_agent_`, and a `collect()` that reads their
 * own state at scrape time (per-plugin CPU/heap, per-stage records).
 */
export class AgentTelemetry {
  readonly registry = new Registry();
  readonly #options: AgentTelemetryOptions;
  #current: AgentSnapshot | null = null;
  #processMetrics = false;

  constructor(options: AgentTelemetryOptions) {
    this.#options = options;
    this.#define();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; takes one snapshot of the agent's status for all metrics. */
  async metrics(): Promise<string> {
    // Process metrics start at the first scrape: their event-loop monitor wakes the process
    // every few ms, a cost an agent nobody scrapes should not pay.
    if (!this.#processMetrics) {
      this.#processMetrics = true;
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    }
    this.#current = this.#options.snapshot();
    try {
      return await this.registry.metrics();
    } finally {
      this.#current = null;
    }
  }

  #define(): void {
    const now = () => (this.#options.now ?? Date.now)();
    const seconds = (ms: number | null | undefined) => (ms == null ? null : ms / 1000);
    const counter = this.#metric.bind(this, 'counter');
    const gauge = this.#metric.bind(this, 'gauge');

    gauge(
      'info',
      'Agent build and config: always 1; the labels carry the values',
      ['version', 'node_version', 'config_version'],
      (s) => [
        [
          {
            version: s.agent.version,
            node_version: process.versions.node,
            config_version: s.agent.configVersion,
          },
          1,
        ],
      ],
    );

    counter('input_records_total', 'Records collected by each input', ['input'], (s) =>
      s.inputs.map((i) => [{ input: i.name }, i.records]),
    );
    counter('input_runs_total', 'Collections attempted by each input', ['input'], (s) =>
      s.inputs.map((i) => [{ input: i.name }, i.runs]),
    );
    counter(
      'input_errors_total',
      'Failed collections (or failed parts of one) by each input',
      ['input'],
      (s) => s.inputs.map((i) => [{ input: i.name }, i.errors]),
    );
    counter(
      'input_skipped_total',
      'Collections skipped because the previous one was still running',
      ['input'],
      (s) => s.inputs.map((i) => [{ input: i.name }, i.skipped]),
    );
    gauge('input_last_duration_seconds', 'How long the last collection of each input took', ['input'], (s) =>
      s.inputs.flatMap(
        (i): Array<[MetricLabels, number]> =>
          i.lastDurationMs === null ? [] : [[{ input: i.name }, i.lastDurationMs / 1000]],
      ),
    );
    counter(
      'records_refused_total',
      'Records from inputs the queue refused, by reason (queue_full under policy "block", disk_full, io_error)',
      ['reason'],
      (s) => Object.entries(s.accept.refused).map(([reason, n]) => [{ reason }, n]),
    );
    counter(
      'records_pushed_total',
      'Records pushed into the queue from the host (agentctl emit)',
      [],
      (s) => s.accept.pushed,
    );

    const stages = (s: AgentSnapshot) => s.pipeline ?? [];
    counter('stage_records_in_total', 'Records into each processor stage', ['stage', 'type'], (s) =>
      stages(s).map((p) => [{ stage: p.stage, type: p.type }, p.in]),
    );
    counter('stage_records_out_total', 'Records out of each processor stage', ['stage', 'type'], (s) =>
      stages(s).map((p) => [{ stage: p.stage, type: p.type }, p.out]),
    );
    counter(
      'stage_records_dropped_total',
      'Records a stage removed on purpose (filter, sample, rate_limit)',
      ['stage', 'type'],
      (s) => stages(s).map((p) => [{ stage: p.stage, type: p.type }, p.dropped]),
    );
    counter(
      'stage_errors_total',
      'Unparsable records (kept, flagged) and failed plugin calls (records passed through), by stage',
      ['stage', 'type'],
      (s) => stages(s).map((p) => [{ stage: p.stage, type: p.type }, p.errors]),
    );

    gauge(
      'guard_level',
      'Resource guard step: 0 normal, 1 inputs at 1/2 speed, 2 at 1/4, 3 also the heaviest plugin paused',
      [],
      (s) => s.guard?.level ?? null,
    );
    counter(
      'guard_actions_total',
      'Load-shedding steps taken and undone by the resource guard',
      ['action'],
      (s) => Object.entries(s.guard?.actions ?? {}).map(([action, n]) => [{ action }, n]),
    );
    gauge(
      'guard_limit_cpu_percent',
      "The guard's CPU limit, percent of one core (0: none)",
      [],
      (s) => s.guard?.limits.cpuPercent ?? null,
    );
    gauge(
      'guard_limit_memory_bytes',
      "The guard's RSS limit (0: none)",
      [],
      (s) => s.guard?.limits.memoryBytes ?? null,
    );

    gauge('queue_records', 'Records in the queue, pending or in a batch', [], (s) => s.queue.depth);
    gauge('queue_bytes', 'Payload bytes of the records in the queue', [], (s) => s.queue.bytes);
    gauge('queue_batches', 'Formed batches not yet acknowledged', [], (s) => s.queue.batches);
    gauge('queue_leased_batches', 'Batches being sent right now', [], (s) => s.queue.leased);
    gauge('queue_oldest_age_seconds', 'Age of the oldest record in the queue (0 when empty)', [], (s) =>
      s.queue.oldestTs === null ? 0 : Math.max(0, (now() - s.queue.oldestTs) / 1000),
    );
    counter(
      'queue_enqueued_records_total',
      'Records accepted into the queue since the agent started',
      [],
      (s) => s.queue.enqueued,
    );
    counter(
      'queue_acked_records_total',
      'Records acknowledged by the collector and removed since the agent started',
      [],
      (s) => s.queue.acked,
    );
    counter(
      'queue_dropped_records_total',
      'Records dropped by the queue, by reason (queue_full, max_age)',
      ['reason'],
      (s) => Object.entries(s.queue.dropped).map(([reason, n]) => [{ reason }, n]),
    );
    gauge(
      'queue_dead_letter_records',
      'Records in the dead-letter table (refused permanently by the collector)',
      [],
      (s) => s.queue.deadLetter,
    );

    counter(
      'send_batches_total',
      'Batches acknowledged by the collector',
      [],
      (s) => s.sender?.batchesSent ?? null,
    );
    counter(
      'send_records_total',
      'Records acknowledged by the collector',
      [],
      (s) => s.sender?.recordsSent ?? null,
    );
    counter(
      'send_failed_total',
      'Send attempts that did not end in an acknowledgement',
      [],
      (s) => s.sender?.batchesFailed ?? null,
    );
    counter(
      'send_retries_total',
      'Send attempts that resent a batch after a failure',
      [],
      (s) => s.sender?.retries ?? null,
    );
    counter(
      'send_dead_lettered_batches_total',
      'Batches moved to the dead-letter table',
      [],
      (s) => s.sender?.deadLettered ?? null,
    );
    counter(
      'send_uncompressed_bytes_total',
      'JSON bytes of acknowledged batches, before compression',
      [],
      (s) => s.sender?.bytesRaw ?? null,
    );
    counter(
      'send_bytes_total',
      'Body bytes of acknowledged batches as sent (after compression)',
      [],
      (s) => s.sender?.bytesSent ?? null,
    );
    gauge(
      'send_consecutive_failures',
      'Failed send attempts since the last acknowledgement',
      [],
      (s) => s.sender?.consecutiveFailures ?? null,
    );
    gauge(
      'send_last_success_timestamp_seconds',
      'When the collector last acknowledged a batch (unix seconds)',
      [],
      (s) => seconds(s.sender?.lastSendAt),
    );

    gauge('collector_registered', '1 when the agent holds an identity from the collector', [], (s) =>
      s.collector === null ? null : s.collector.registered ? 1 : 0,
    );
    gauge(
      'heartbeat_last_success_timestamp_seconds',
      'When the collector last answered a heartbeat (unix seconds)',
      [],
      (s) => seconds(s.collector?.lastHeartbeatAt),
    );
  }

  #metric(
    type: 'counter' | 'gauge',
    name: string,
    help: string,
    labelNames: string[],
    read: (snapshot: AgentSnapshot) => Reading,
  ): void {
    const current = () => this.#current;
    defineScrapedMetric({
      type,
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames,
      registry: this.registry,
      fill: (set) => {
        const snapshot = current();
        if (!snapshot) return;
        const reading = read(snapshot);
        if (reading === null) return;
        if (typeof reading === 'number') set({}, reading);
        else for (const [labels, value] of reading) set(labels, value);
      },
    });
  }
}
