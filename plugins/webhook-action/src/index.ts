import { definePlugin, type PluginContext, type RecordInput } from '@outpost/plugin-sdk';

export interface WebhookConfig {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  maxPending: number;
}

/**
 * An alert waiting for its next attempt. The isolate has no timers, so retries wait in ctx.state
 * and the scheduled collect() sends those whose time (ctx.clock) has come.
 */
type Delivery = { alert: string; payload: string; attempts: number; nextAt: number };

type Ctx = PluginContext<WebhookConfig>;

const STATE_KEY = 'pending';
const MAX_ATTEMPTS_PER_RUN = 8;

type Outcome = { ok: true; status: number } | { ok: false; retry: boolean; status: number; error: string };

async function send(payload: string, ctx: Ctx): Promise<Outcome> {
  try {
    const res = await ctx.http.request({
      url: ctx.config.url,
      method: 'POST',
      headers: { ...ctx.config.headers, 'content-type': 'application/json' },
      body: payload,
      timeoutMs: ctx.config.timeoutMs,
    });
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    // The receiver may recover from these; any other answer will not change on a retry.
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    return { ok: false, retry, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const error = `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`.slice(0, 4096);
    // A refused origin is a configuration problem: retrying cannot fix it.
    return { ok: false, retry: code !== 'E_PLUGIN_PERMISSION', status: 0, error };
  }
}

function outcomeEvent(
  delivery: Delivery,
  outcome: 'delivered' | 'retrying' | 'failed',
  status: number,
  ctx: Ctx,
  error?: string,
): RecordInput {
  return {
    kind: 'event',
    name: 'webhook.delivery',
    ...(error !== undefined && { body: error }),
    attrs: {
      outcome,
      alert: delivery.alert,
      url: ctx.config.url,
      attempt: delivery.attempts,
      status,
      ...(error !== undefined && { error }),
    },
  };
}

/** Makes one attempt; returns the event and the delivery to keep for a retry, if any. */
async function attempt(delivery: Delivery, ctx: Ctx): Promise<[RecordInput, Delivery | undefined]> {
  const tried = { ...delivery, attempts: delivery.attempts + 1 };
  const outcome = await send(delivery.payload, ctx);
  if (outcome.ok) return [outcomeEvent(tried, 'delivered', outcome.status, ctx), undefined];
  if (!outcome.retry || tried.attempts >= ctx.config.maxAttempts) {
    ctx.log.error('webhook delivery failed', { alert: tried.alert, error: outcome.error });
    return [outcomeEvent(tried, 'failed', outcome.status, ctx, outcome.error), undefined];
  }
  const wait = Math.min(ctx.config.backoffMs * 2 ** (tried.attempts - 1), ctx.config.maxBackoffMs);
  tried.nextAt = ctx.clock.now() + wait;
  return [outcomeEvent(tried, 'retrying', outcome.status, ctx, outcome.error), tried];
}

async function pending(ctx: Ctx): Promise<Delivery[]> {
  return (await ctx.state.get<Delivery[]>(STATE_KEY)) ?? [];
}

export default definePlugin<WebhookConfig>({
  async action(alert, ctx) {
    const delivery: Delivery = { alert: alert.name, payload: JSON.stringify(alert), attempts: 0, nextAt: 0 };
    const [event, retry] = await attempt(delivery, ctx);
    ctx.emit(event);
    if (retry === undefined) return;
    const queue = await pending(ctx);
    queue.push(retry);
    while (queue.length > ctx.config.maxPending) {
      const dropped = queue.shift() as Delivery;
      ctx.emit(outcomeEvent(dropped, 'failed', 0, ctx, 'too many alerts waiting for a retry (maxPending)'));
    }
    await ctx.state.set(STATE_KEY, queue);
  },

  async collect(ctx) {
    const queue = await pending(ctx);
    if (queue.length === 0) return [];
    const now = ctx.clock.now();
    // A few at a time: every attempt may take up to timeoutMs and the call has a time limit.
    const due = queue.filter((d) => d.nextAt <= now).slice(0, MAX_ATTEMPTS_PER_RUN);
    if (due.length === 0) return [];
    const results = await Promise.all(due.map((d) => attempt(d, ctx)));
    const keep = queue.filter((d) => !due.includes(d));
    for (const [, retry] of results) if (retry !== undefined) keep.push(retry);
    await ctx.state.set(STATE_KEY, keep);
    return results.map(([event]) => event);
  },
});
