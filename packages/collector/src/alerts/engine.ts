import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { alertEvent, type Channel, channelSchema, type Matcher, matches } from '../notify/index.ts';
import { PassRunner } from '../passes/index.ts';
import type { AlertInstance, AlertTransaction, AlertTransition, Store, StoredAgent } from '../store/index.ts';
import { edgeObservation, observe, selects } from './conditions.ts';
import { type Rule, ruleSchema } from './rules.ts';
import { type Observation, step } from './state.ts';

export const EDGE_CURSOR = 'alerts:edge';
const EDGE_BATCH = 1000;
/** Ingest-triggered passes start at most this often, however many batches arrive. */
const MIN_PASS_SPACING_MS = 250;

export interface AlertEngineOptions {
  store: Store;
  logger: Logger;
  offlineAfterMs: number;
  /** Timer evaluation period (no-data and offline rules need it; ingest also triggers a pass). */
  intervalMs: number;
  /** Called after a pass queued notifications, to deliver them without waiting for a poll. */
  onNotificationsQueued?: (() => void) | undefined;
  now?: () => number;
}

interface ObservedRule {
  observations: Observation[];
  forMs: number;
}

interface Routing {
  channels: Array<{ id: string; channel: Channel }>;
  silences: Array<{ matchers: Matcher[] }>;
}

/**
 * Evaluates every rule and the agents' edge alerts into one alert model. Passes never overlap: a
 * request during a pass runs one more pass after it, so a burst of ingests costs at most two.
 */
export class AlertEngine {
  readonly #options: AlertEngineOptions;
  readonly #passes: PassRunner;
  evaluations = 0;

  constructor(options: AlertEngineOptions) {
    this.#options = options;
    this.#passes = new PassRunner({
      run: () => this.evaluate(),
      intervalMs: options.intervalMs,
      minSpacingMs: MIN_PASS_SPACING_MS,
      onError: (err) => options.logger.error({ err }, 'alert evaluation failed'),
    });
  }

  /** Schedules a pass; never waits for it (an ingest answer must not wait on alerting). */
  requestEvaluation(): void {
    this.#passes.request();
  }

  /** outpost_collector_alerts{state}: current alerts by state, read at scrape time. */
  registerMetrics(registry: Registry): void {
    const { store } = this.#options;
    new Gauge({
      name: 'outpost_collector_alerts',
      help: 'Current alerts by state (one per condition: rule and agent, or edge alert)',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const counts = { pending: 0, firing: 0, resolved: 0, inactive: 0 };
        for (const alert of await store.alerts.listAlerts()) counts[alert.state] += 1;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
  }

  close(): Promise<void> {
    return this.#passes.close();
  }

  /** One pass: rules, then edge alerts, then repeat reminders; each part in one transaction. */
  async evaluate(): Promise<void> {
    const { store } = this.#options;
    const now = (this.#options.now ?? Date.now)();
    const agents = await store.listAgents();
    const routing = await this.#routing(now);
    const observed: ObservedRule[] = [];
    for (const stored of await store.alerts.listRules()) {
      const parsed = ruleSchema.safeParse(stored.spec);
      if (!parsed.success) {
        this.#options.logger.error({ rule: stored.id }, 'stored alert rule no longer validates; skipped');
        continue;
      }
      const rule: Rule = parsed.data;
      const observations = rule.enabled
        ? await observe(stored.id, rule, { store, agents, now, offlineAfterMs: this.#options.offlineAfterMs })
        : [];
      // An agent the rule no longer looks at (rule disabled, selector changed, agent gone) must not
      // keep its alert firing forever: it resolves.
      const selected = new Set(rule.enabled ? agents.filter((a) => selects(rule, a)).map((a) => a.id) : []);
      for (const alert of await store.alerts.listAlerts({ ruleId: stored.id })) {
        if (selected.has(alert.labels.agent ?? '')) continue;
        if (alert.state !== 'firing' && alert.state !== 'pending') continue;
        observations.push({ ...alert, active: false });
      }
      observed.push({ observations, forMs: rule.for });
    }
    let queued = 0;
    queued += await store.alerts.transaction(async (tx) => {
      let n = 0;
      for (const { observations, forMs } of observed) {
        for (const observation of observations) n += await this.#apply(tx, routing, observation, forMs, now);
      }
      return n;
    });
    queued += await this.#edgeAlerts(agents, routing, now);
    queued += await this.#repeats(routing, now);
    this.evaluations += 1;
    if (queued > 0) this.#options.onNotificationsQueued?.();
  }

  async #edgeAlerts(agents: StoredAgent[], routing: Routing, now: number): Promise<number> {
    const { store } = this.#options;
    const byId = new Map(agents.map((a) => [a.id, a]));
    let queued = 0;
    for (;;) {
      const after = await store.alerts.getCursor(EDGE_CURSOR);
      // Read before the alert records: every record up to it is committed by then, so when no alert
      // record follows the cursor, the cursor may move up to it. Retention holds records behind
      // this cursor, and a fleet that sends no alert records must not hold them forever.
      const ceiling = await store.alerts.maxRecordId();
      const records = await store.alerts.readRecordsAfter(after, EDGE_BATCH, 'alert');
      const last = records.at(-1);
      if (!last) {
        if (ceiling > after) {
          await store.alerts.transaction(async (tx) => {
            if ((await tx.getCursor(EDGE_CURSOR)) === after) await tx.setCursor(EDGE_CURSOR, ceiling, now);
          });
        }
        return queued;
      }
      queued += await store.alerts.transaction(async (tx) => {
        // The cursor moves in the same transaction as the alerts it produced: each record counts once.
        if ((await tx.getCursor(EDGE_CURSOR)) !== after) return 0;
        let n = 0;
        for (const record of records) {
          n += await this.#apply(tx, routing, edgeObservation(record, byId.get(record.agentId)), 0, now);
        }
        await tx.setCursor(EDGE_CURSOR, last.id, now);
        return n;
      });
      if (records.length < EDGE_BATCH) return queued;
    }
  }

  async #repeats(routing: Routing, now: number): Promise<number> {
    if (!routing.channels.some((c) => c.channel.repeat_interval !== undefined)) return 0;
    const firing = await this.#options.store.alerts.listAlerts({ state: 'firing' });
    return this.#options.store.alerts.transaction(async (tx) => {
      let n = 0;
      for (const alert of firing) {
        for (const { id, channel } of channelsFor(routing, alert)) {
          if (channel.repeat_interval === undefined) continue;
          const last = await tx.lastNotificationAt(id, alert.key);
          if (last === null || now - last < channel.repeat_interval) continue;
          const queued = await tx.enqueueNotification({
            channelId: id,
            alertKey: alert.key,
            dedupKey: `repeat:${alert.key}:${now}`,
            payload: alertEvent(alert, null),
            at: now,
          });
          if (queued) n += 1;
        }
      }
      return n;
    });
  }

  async #apply(
    tx: AlertTransaction,
    routing: Routing,
    observation: Observation,
    forMs: number,
    now: number,
  ): Promise<number> {
    const prev = await tx.getAlert(observation.key);
    const { next, transitions } = step(prev, observation, forMs, now);
    if (!next) return 0;
    await tx.putAlert(next);
    let queued = 0;
    for (const t of transitions) {
      const id = await tx.addTransition({
        alertKey: next.key,
        ruleId: next.ruleId,
        name: next.name,
        from: t.from,
        to: t.to,
        at: now,
        value: next.value,
        labels: next.labels,
        source: next.source,
      });
      this.#options.logger.info(
        { alert: next.key, name: next.name, from: t.from, to: t.to, value: next.value },
        'alert transition',
      );
      if (t.to !== 'firing' && t.to !== 'resolved') continue;
      queued += await notify(tx, routing, { ...next, state: t.to }, { id, from: t.from, to: t.to, at: now });
    }
    return queued;
  }

  async #routing(now: number): Promise<Routing> {
    const { alerts } = this.#options.store;
    const channels: Routing['channels'] = [];
    for (const stored of await alerts.listChannels()) {
      const parsed = channelSchema.safeParse(stored.spec);
      if (parsed.success) channels.push({ id: stored.id, channel: parsed.data });
    }
    const silences = (await alerts.listSilences()).filter((s) => s.expiresAt > now);
    return { channels, silences };
  }
}

/** The channels an alert is sent to: none while a silence matches it, else those that match it. */
function channelsFor(routing: Routing, alert: AlertInstance): Routing['channels'] {
  if (routing.silences.some((s) => matches(s.matchers, alert.labels))) return [];
  return routing.channels.filter(({ channel }) => matches(channel.matchers, alert.labels));
}

async function notify(
  tx: AlertTransaction,
  routing: Routing,
  alert: AlertInstance,
  transition: Pick<AlertTransition, 'id' | 'from' | 'to' | 'at'>,
): Promise<number> {
  let queued = 0;
  for (const { id, channel } of channelsFor(routing, alert)) {
    if (alert.state === 'resolved' && !channel.send_resolved) continue;
    const added = await tx.enqueueNotification({
      channelId: id,
      alertKey: alert.key,
      dedupKey: `transition:${transition.id}`,
      payload: alertEvent(alert, transition),
      at: transition.at,
    });
    if (added) queued += 1;
  }
  return queued;
}
