import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { Logger } from 'pino';
import {
  type CollectorTokens,
  parseAgentCredentials,
  parseBearer,
  secretMatches,
  tokenMatches,
  unauthorized,
} from '../auth/index.ts';
import type { CollectorLimits } from '../config/index.ts';
import { fleetHeartbeat, registerAgent } from '../fleet/index.ts';
import {
  badBody,
  checkIdempotencyKey,
  type DecodedBody,
  decodeBody,
  ingestBatch,
  recordHeartbeat,
} from '../ingest/index.ts';
import { recordView, type Store, type StoredRecord } from '../store/index.ts';
import { CollectorTelemetry } from '../telemetry/index.ts';
import { registerStatusPage } from '../web/index.ts';
import { type AlertHooks, registerAlertRoutes } from './alert-routes.ts';
import {
  errorBody,
  notFound,
  notReady,
  RETRY_AFTER_SECONDS,
  toErrorReply,
  writeClientError,
} from './errors.ts';
import { registerFleetRoutes } from './fleet-routes.ts';
import { readMetrics } from './metrics-read.ts';
import { encodeCursor, parseMetricQuery, parseRecordQuery } from './query.ts';

export interface ApiOptions {
  store: Store;
  tokens: CollectorTokens;
  limits: CollectorLimits;
  offlineAfterMs: number;
  logger: Logger;
  /** True once shutdown started: new requests get 503 E_NOT_READY. */
  isClosing: () => boolean;
  /** The database file, for outpost_collector_storage_bytes on /metrics. */
  storageFile?: string | undefined;
  /** Addresses or CIDRs whose X-Forwarded-* headers are believed (server.trusted_proxies). */
  trustedProxies?: readonly string[] | undefined;
  /** Alerting and forwarding: evaluation after ingest commits, their self-metrics. */
  alertHooks?: AlertHooks | undefined;
}

interface Authenticated {
  agentId: string;
  idempotencyKey?: string;
}

export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger
>;

/** Builds the HTTP API (routes in docs/protocol.md); the caller listens and closes it. */
export function buildApi(options: ApiOptions): Api {
  const { store, tokens, limits, logger } = options;
  const app = Fastify({
    loggerInstance: logger,
    // Per-request lines at info would flood the log with a fleet's heartbeats; see onResponse.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.maxBodyBytes,
    // X-Forwarded-For from anyone else is ignored: a client could otherwise pose as any address.
    trustProxy: options.trustedProxies?.length ? [...options.trustedProxies] : false,
    // Fastify's own 503 body does not follow the error shape; the onRequest hook below answers instead.
    return503OnClosing: false,
    clientErrorHandler: writeClientError,
    frameworkErrors: (err, _request, reply) => {
      const answer = toErrorReply(err, limits);
      void (reply as FastifyReply).code(answer.status).send(errorBody(answer));
    },
  });
  const authenticated = new WeakMap<FastifyRequest, Authenticated>();
  const telemetry = new CollectorTelemetry({
    store,
    offlineAfterMs: options.offlineAfterMs,
    storageFile: options.storageFile,
  });
  options.alertHooks?.registerMetrics?.(telemetry.registry);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    try {
      const encoding = request.headers['content-encoding'];
      done(null, decodeBody(raw as Buffer, encoding, limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const answer = toErrorReply(err, limits, request.routeOptions);
    if (answer.status >= 500 && answer.code !== 'E_NOT_READY') request.log.error({ err }, 'request failed');
    else request.log.debug({ code: answer.code, reason: answer.message }, 'request refused');
    if (answer.status === 401) void reply.header('WWW-Authenticate', 'Bearer realm="outpost"');
    if (answer.status === 503) void reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
    void reply.code(answer.status).send(errorBody(answer));
  });

  app.setNotFoundHandler((request, reply) => {
    const answer = toErrorReply(notFound(`no route ${request.method} ${request.url.split('?')[0]}`), limits);
    void reply.code(answer.status).send(errorBody(answer));
  });

  app.addHook('onRequest', async () => {
    if (options.isClosing()) throw notReady('shutting down');
  });

  // A request that was in flight when shutdown began would otherwise leave its keep-alive
  // connection open, and close() would wait for the client to drop it.
  app.addHook('onSend', async (_request, reply) => {
    if (options.isClosing()) void reply.header('Connection', 'close');
  });

  app.addHook('onResponse', async (request, reply) => {
    telemetry.observeResponse(request.routeOptions.url ?? 'unmatched', reply.statusCode);
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
  });

  const authenticateAgent = async (request: FastifyRequest) => {
    const token = parseBearer(request.headers.authorization);
    if (token === undefined) throw unauthorized('missing Authorization: Bearer <agentId>.<secret>');
    const credentials = parseAgentCredentials(token);
    if (!credentials) throw unauthorized('agent credentials must be "Bearer <agentId>.<secret>"');
    const agent = await store.getAgent(credentials.agentId);
    if (!secretMatches(credentials.secret, agent?.secretSha256) || !agent) {
      throw unauthorized('unknown agent or wrong secret; the agent must register again');
    }
    authenticated.set(request, { agentId: agent.id });
  };

  const requireIdempotencyKey = async (request: FastifyRequest) => {
    const auth = authenticated.get(request)!;
    auth.idempotencyKey = checkIdempotencyKey(request.headers['idempotency-key'], auth.agentId);
  };

  const authenticateAdmin = async (request: FastifyRequest) => {
    const token = parseBearer(request.headers.authorization);
    if (token === undefined) throw unauthorized('missing Authorization: Bearer <adminToken>');
    if (!tokenMatches(token, tokens.adminToken)) {
      throw unauthorized(
        /^agt_[^.]+\./.test(token)
          ? 'wrong admin token: agent credentials are not accepted here, this route needs the admin token'
          : 'wrong admin token',
      );
    }
  };

  const bodyOf = (request: FastifyRequest): DecodedBody => {
    const body = request.body as DecodedBody | undefined;
    if (body === undefined)
      throw badBody('body: required (a JSON object with Content-Type: application/json)');
    return body;
  };

  app.post('/api/v1/agent/register', async (request) => {
    const answer = await registerAgent(store, bodyOf(request).value, tokens.enrollmentToken, Date.now());
    request.log.info({ agentId: answer.agentId }, 'agent registered');
    telemetry.observeRegistration();
    return answer;
  });

  app.post('/api/v1/agent/heartbeat', { onRequest: authenticateAgent }, async (request) => {
    const agentId = authenticated.get(request)!.agentId;
    const now = Date.now();
    const body = bodyOf(request).value;
    const answer = await recordHeartbeat(store, agentId, body, now);
    const { version, instanceId } = body as { version: string; instanceId?: unknown };
    const fleet = await fleetHeartbeat(
      store,
      agentId,
      { version, address: request.ip, instanceId: typeof instanceId === 'string' ? instanceId : null },
      now,
    );
    telemetry.observeHeartbeat();
    return { ...answer, ...fleet };
  });

  app.post(
    '/api/v1/agent/data',
    { onRequest: [authenticateAgent, requireIdempotencyKey] },
    async (request, reply) => {
      const auth = authenticated.get(request)!;
      const body = bodyOf(request);
      const result = await ingestBatch(store, {
        agentId: auth.agentId,
        idempotencyKey: auth.idempotencyKey!,
        body: body.value,
        bytes: body.bytes,
        maxRecordsPerBatch: limits.maxRecordsPerBatch,
        now: Date.now(),
      });
      telemetry.observeIngest({ ...result, accepted: result.response.accepted });
      // After the commit, and without waiting: the agent's answer never waits on alerting.
      if (!result.replayed) options.alertHooks?.afterIngest?.();
      if (result.replayed) void reply.header('Idempotent-Replayed', 'true');
      if (result.duplicates > 0) {
        request.log.warn(
          { agentId: auth.agentId, key: auth.idempotencyKey, duplicates: result.duplicates },
          'batch repeated records already stored under another key; they were not stored twice',
        );
      }
      return result.response;
    },
  );

  registerFleetRoutes(app, {
    store,
    offlineAfterMs: options.offlineAfterMs,
    authenticateAgent,
    authenticateAdmin,
    agentIdOf: (request) => authenticated.get(request)!.agentId,
    bodyOf: (request) => bodyOf(request).value,
  });

  // The cursor of the last item even on the last page, so a client can also tail new data with it.
  const nextCursor = (records: StoredRecord[]) => {
    const last = records.at(-1);
    return last ? encodeCursor(last) : null;
  };

  app.get('/api/v1/metrics', { onRequest: authenticateAdmin }, async (request) =>
    readMetrics(store, parseMetricQuery(request.query)),
  );

  app.get('/api/v1/records', { onRequest: authenticateAdmin }, async (request) => {
    const page = await store.queryRecords(parseRecordQuery(request.query, 'any'));
    return {
      records: page.records.map(recordView),
      next: nextCursor(page.records),
      more: page.more,
    };
  });

  registerAlertRoutes(app, { store, authenticateAdmin, onChange: options.alertHooks?.onChange });
  registerStatusPage(app);

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Unauthenticated like /healthz, as Prometheus scrapes expect; restrict it at the proxy if needed.
  app.get('/metrics', async (_request, reply) => {
    const text = await telemetry.metrics();
    return reply.type(telemetry.contentType).send(text);
  });

  app.get('/readyz', async () => {
    if (options.isClosing()) throw notReady('shutting down');
    return { status: 'ready' };
  });

  return app;
}
