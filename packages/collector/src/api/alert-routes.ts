import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { ruleSchema } from '../alerts/index.ts';
import { badBody, type DecodedBody } from '../ingest/index.ts';
import { describeValue, summarizeIssues } from '../issues.ts';
import { channelSchema, silenceSchema } from '../notify/index.ts';
import type { AlertState, Store, StoredChannel, StoredRule } from '../store/index.ts';
import { badQuery, notFound } from './errors.ts';
import type { Api } from './server.ts';

/** What the collector wires into the API for alerting and forwarding. */
export interface AlertHooks {
  /** Called after a data batch committed (never before, never awaited). */
  afterIngest?: (() => void) | undefined;
  /** A rule, channel or silence changed. */
  onChange?: (() => void) | undefined;
  /** Adds self-metrics (forwarding sinks, notifications) to the collector's /metrics registry. */
  registerMetrics?: ((registry: Registry) => void) | undefined;
}

export interface AlertRoutesOptions {
  store: Store;
  authenticateAdmin: (request: FastifyRequest) => Promise<void>;
  /** A rule, channel or silence changed: evaluate again soon. */
  onChange?: (() => void) | undefined;
}

const STATES: readonly AlertState[] = ['inactive', 'pending', 'firing', 'resolved'];
const HISTORY_PARAMS = ['rule', 'alert', 'name', 'state', 'from', 'to', 'limit', 'before'];

const newId = (prefix: string) => `${prefix}_${randomBytes(8).toString('hex')}`;

const isState = (value: string | undefined): value is AlertState =>
  (STATES as readonly unknown[]).includes(value);

/** The body as sent (kept and returned as is, so a GET shows what was PUT) once it validates. */
function validate<S extends z.ZodType>(
  schema: S,
  request: FastifyRequest,
): { spec: Record<string, unknown>; parsed: z.output<S> } {
  const input = (request.body as DecodedBody | undefined)?.value;
  if (input === undefined)
    throw badBody('body: required (a JSON object with Content-Type: application/json)');
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badBody(`body: expected object, received ${describeValue(input)}`);
  }
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw badBody(summarizeIssues(result.error.issues, ''));
  return { spec: { ...input }, parsed: result.data };
}

const ruleView = ({ id, spec, createdAt, updatedAt }: StoredRule) => ({ id, ...spec, createdAt, updatedAt });
const channelView = ({ id, spec, createdAt }: StoredChannel) => ({ id, ...spec, createdAt });

/** Alert rules, current alerts, history, notification channels, silences and the notification outbox. */
export function registerAlertRoutes(app: Api, options: AlertRoutesOptions): void {
  const { store } = options;
  const admin = { onRequest: options.authenticateAdmin };
  const changed = () => options.onChange?.();
  /** DELETE <route>/:id answers 204, or 404 naming what was not found. */
  const deleteRoute = (route: string, what: string, remove: (id: string) => Promise<boolean>) =>
    app.delete<{ Params: { id: string } }>(`${route}/:id`, admin, async (request, reply) => {
      if (!(await remove(request.params.id))) throw notFound(`${what} ${request.params.id} not found`);
      return reply.code(204).send();
    });

  app.get('/api/v1/alert/rules', admin, async () => ({
    rules: (await store.alerts.listRules()).map(ruleView),
  }));

  app.get<{ Params: { id: string } }>('/api/v1/alert/rules/:id', admin, async (request) => {
    const rule = await store.alerts.getRule(request.params.id);
    if (!rule) throw notFound(`alert rule ${request.params.id} not found`);
    return ruleView(rule);
  });

  app.post('/api/v1/alert/rules', admin, async (request, reply) => {
    const { spec, parsed } = validate(ruleSchema, request);
    const now = Date.now();
    const rule = { id: newId('rul'), name: parsed.name, spec, createdAt: now, updatedAt: now };
    await store.alerts.putRule(rule);
    changed();
    return reply.code(201).send(ruleView(rule));
  });

  app.put<{ Params: { id: string } }>('/api/v1/alert/rules/:id', admin, async (request) => {
    const existing = await store.alerts.getRule(request.params.id);
    if (!existing) throw notFound(`alert rule ${request.params.id} not found`);
    const { spec, parsed } = validate(ruleSchema, request);
    const rule = { ...existing, name: parsed.name, spec, updatedAt: Date.now() };
    await store.alerts.putRule(rule);
    changed();
    return ruleView(rule);
  });

  deleteRoute('/api/v1/alert/rules', 'alert rule', (id) => store.alerts.deleteRule(id));

  app.get<{ Querystring: Record<string, string> }>('/api/v1/alert/alerts', admin, async (request) => {
    const { state, rule, ...rest } = request.query;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw badQuery(`unknown query parameter "${unknown}"; known: state, rule`);
    if (state !== undefined && !isState(state)) {
      throw badQuery(`state: expected one of ${STATES.join(', ')}, received "${state}"`);
    }
    return { alerts: await store.alerts.listAlerts({ state, ruleId: rule }) };
  });

  app.get<{ Querystring: Record<string, string> }>('/api/v1/alert/history', admin, async (request) => {
    const q = request.query;
    for (const key of Object.keys(q)) {
      if (!HISTORY_PARAMS.includes(key)) {
        throw badQuery(`unknown query parameter "${key}"; known: ${HISTORY_PARAMS.join(', ')}`);
      }
    }
    const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
      const value = q[name];
      if (value === undefined) return undefined;
      const n = Number(value);
      if (typeof value !== 'string' || !/^\d+$/.test(value) || n < min || n > max) {
        throw badQuery(`${name}: expected an integer from ${min} to ${max}, received "${String(value)}"`);
      }
      return n;
    };
    const state = q.state;
    if (state !== undefined && !isState(state)) {
      throw badQuery(`state: expected one of ${STATES.join(', ')}, received "${state}"`);
    }
    const limit = int('limit', 1, 1000) ?? 100;
    const page = await store.alerts.queryTransitions({
      ruleId: q.rule,
      alertKey: q.alert,
      name: q.name,
      to: state,
      from: int('from', 0),
      until: int('to', 0),
      before: int('before', 1),
      limit,
    });
    const last = page.transitions.at(-1);
    return {
      transitions: page.transitions,
      next: page.more && last ? String(last.id) : null,
      more: page.more,
    };
  });

  app.get('/api/v1/alert/notify', admin, async () => ({
    channels: (await store.alerts.listChannels()).map(channelView),
  }));

  app.post('/api/v1/alert/notify', admin, async (request, reply) => {
    const { spec } = validate(channelSchema, request);
    const channel = { id: newId('chn'), spec, createdAt: Date.now() };
    await store.alerts.putChannel(channel);
    changed();
    return reply.code(201).send(channelView(channel));
  });

  app.put<{ Params: { id: string } }>('/api/v1/alert/notify/:id', admin, async (request) => {
    const existing = (await store.alerts.listChannels()).find((c) => c.id === request.params.id);
    if (!existing) throw notFound(`notification channel ${request.params.id} not found`);
    const { spec } = validate(channelSchema, request);
    const channel = { ...existing, spec };
    await store.alerts.putChannel(channel);
    changed();
    return channelView(channel);
  });

  deleteRoute('/api/v1/alert/notify', 'notification channel', (id) => store.alerts.deleteChannel(id));

  app.get('/api/v1/alert/notify/outbox', admin, async () => ({
    notifications: (await store.alerts.listNotifications(200)).map((n) => ({
      ...n,
      status: n.deliveredAt !== null ? 'delivered' : n.failedAt !== null ? 'failed' : 'pending',
    })),
  }));

  app.get('/api/v1/alert/silences', admin, async () => {
    const now = Date.now();
    return {
      silences: (await store.alerts.listSilences()).map((s) => ({ ...s, active: s.expiresAt > now })),
    };
  });

  app.post('/api/v1/alert/silences', admin, async (request, reply) => {
    const { parsed } = validate(silenceSchema, request);
    const createdAt = Date.now();
    const silence = {
      id: newId('sil'),
      matchers: parsed.matchers,
      comment: parsed.comment,
      createdAt,
      expiresAt: parsed.expires_at ?? createdAt + parsed.duration!,
    };
    await store.alerts.putSilence(silence);
    changed();
    return reply.code(201).send({ ...silence, active: silence.expiresAt > createdAt });
  });

  deleteRoute('/api/v1/alert/silences', 'silence', (id) => store.alerts.deleteSilence(id));
}
