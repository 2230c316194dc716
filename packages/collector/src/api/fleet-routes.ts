import type { FastifyRequest } from 'fastify';
import {
  agentConfig,
  configView,
  createEnrollmentToken,
  getAgentView,
  listAgentViews,
  parseSelector,
  pushConfig,
  recordCommandResult,
  retryConfig,
  revokeAgent,
  rollbackConfig,
  sendCommand,
  setAdminLabels,
  targetKey,
  tokenView,
} from '../fleet/index.ts';
import type { Store, StoredCommand } from '../store/index.ts';
import { badQuery, notFound } from './errors.ts';
import { registerPluginRoutes } from './plugin-routes.ts';
import type { Api } from './server.ts';

type AuthHook = (request: FastifyRequest) => Promise<void>;

export interface FleetRouteOptions {
  store: Store;
  offlineAfterMs: number;
  authenticateAgent: AuthHook;
  authenticateAdmin: AuthHook;
  /** The id authenticateAgent established for this request. */
  agentIdOf: (request: FastifyRequest) => string;
  /** The decoded JSON body; E_BAD_BODY when there is none. */
  bodyOf: (request: FastifyRequest) => unknown;
}

// Small bodies on purpose: none of these routes carries data, and a config document is capped
// at 256 KiB of YAML (JSON escaping can double it).
const SMALL_BODY = 64 * 1024;
const CONFIG_BODY = 1024 * 1024;
const MAX_LIST = 1000;

type WithId = { Params: { id: string } };

/** Fleet control routes (docs/fleet.md): tokens, agents, config versions, commands. */
export function registerFleetRoutes(app: Api, options: FleetRouteOptions): void {
  const { store, authenticateAdmin, authenticateAgent, agentIdOf, bodyOf } = options;
  const admin = { onRequest: authenticateAdmin, bodyLimit: SMALL_BODY };
  const viewOptions = () => ({ offlineAfterMs: options.offlineAfterMs, now: Date.now() });

  app.get('/api/v1/agents', admin, async () => ({ agents: await listAgentViews(store, viewOptions()) }));
  app.get<WithId>('/api/v1/agents/:id', admin, async (request) =>
    getAgentView(store, request.params.id, viewOptions()),
  );
  app.post<WithId>('/api/v1/agents/:id/revoke', admin, async (request) => {
    const answer = await revokeAgent(store, request.params.id, Date.now());
    request.log.info({ agentId: request.params.id }, 'agent revoked');
    return answer;
  });
  app.put<WithId>('/api/v1/agents/:id/labels', admin, async (request) => {
    await setAdminLabels(store, request.params.id, bodyOf(request));
    return getAgentView(store, request.params.id, viewOptions());
  });

  app.post<WithId>('/api/v1/agents/:id/commands', admin, async (request, reply) => {
    const command = await sendCommand(store, request.params.id, bodyOf(request), Date.now());
    void reply.code(201);
    return commandView(command);
  });
  app.get<WithId>('/api/v1/agents/:id/commands', admin, async (request) => {
    if (!(await store.getAgent(request.params.id))) throw notFound(`agent ${request.params.id} not found`);
    const limit = limitParam(request.query, []);
    return {
      commands: (await store.fleet.listCommands(request.params.id, limit)).map((c) => commandView(c)),
    };
  });
  app.get<WithId>('/api/v1/commands/:id', admin, async (request) => {
    const command = await store.fleet.getCommand(request.params.id);
    if (!command) throw notFound(`command ${request.params.id} not found`);
    return commandView(command);
  });

  app.post('/api/v1/enrollment-tokens', admin, async (request, reply) => {
    const token = await createEnrollmentToken(store, bodyOf(request), Date.now());
    request.log.info({ tokenId: token.id }, 'enrollment token created');
    void reply.code(201);
    return token;
  });
  app.get('/api/v1/enrollment-tokens', admin, async () => {
    const now = Date.now();
    return { tokens: (await store.fleet.listEnrollmentTokens()).map((t) => tokenView(t, now)) };
  });
  app.delete<WithId>('/api/v1/enrollment-tokens/:id', admin, async (request) => {
    const token = await store.fleet.getEnrollmentToken(request.params.id);
    if (!token) throw notFound(`enrollment token ${request.params.id} not found`);
    const revoked = await store.fleet.revokeEnrollmentToken(token.id, Date.now());
    return { revoked };
  });

  app.post('/api/v1/configs', { ...admin, bodyLimit: CONFIG_BODY }, async (request, reply) => {
    const version = await pushConfig(store, bodyOf(request), Date.now());
    request.log.info({ version: version.version, target: version.target }, 'config pushed');
    void reply.code(201);
    return version;
  });
  app.post('/api/v1/configs/rollback', admin, async (request, reply) => {
    const version = await rollbackConfig(store, bodyOf(request), Date.now());
    request.log.info({ version: version.version, rollbackOf: version.rollbackOf }, 'config rolled back');
    void reply.code(201);
    return version;
  });
  app.post('/api/v1/configs/retry', admin, async (request, reply) => {
    const version = await retryConfig(store, bodyOf(request), Date.now());
    request.log.info({ version: version.version, target: version.target }, 'config pushed again for a retry');
    void reply.code(201);
    return version;
  });
  app.get('/api/v1/configs', admin, async () => ({
    configs: (await store.fleet.currentConfigs()).map(configView),
  }));
  app.get('/api/v1/configs/history', admin, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const limit = limitParam(query, ['agent', 'labels']);
    const agent = query.agent;
    const labels = query.labels;
    if ((agent === undefined) === (labels === undefined) || Array.isArray(agent) || Array.isArray(labels)) {
      throw badQuery(
        'give exactly one of agent=<id> or labels=<k=v,...> (labels= with nothing: every agent)',
      );
    }
    const key =
      typeof agent === 'string'
        ? targetKey({ agent })
        : targetKey({ labels: parseSelector(String(labels), 'labels') });
    return { target: key, versions: (await store.fleet.configHistory(key, limit)).map(configView) };
  });
  app.get<WithId>('/api/v1/configs/:id', admin, async (request) => {
    const version = Number(request.params.id);
    const config = Number.isSafeInteger(version) ? await store.fleet.getConfigVersion(version) : undefined;
    if (!config) throw notFound(`config version ${request.params.id} not found`);
    return { ...configView(config), yaml: config.yaml };
  });

  registerPluginRoutes(app, options);

  app.get('/api/v1/agent/config', { onRequest: authenticateAgent }, async (request) =>
    agentConfig(store, agentIdOf(request)),
  );
  app.post<WithId>(
    '/api/v1/agent/commands/:id/result',
    { onRequest: authenticateAgent, bodyLimit: SMALL_BODY },
    async (request) =>
      recordCommandResult(store, agentIdOf(request), request.params.id, bodyOf(request), Date.now()),
  );
}

function commandView(command: StoredCommand, now = Date.now()) {
  // Marked in the store when the agent next heartbeats; an agent that never does still shows it.
  const lapsed = (command.status === 'queued' || command.status === 'delivered') && command.expiresAt <= now;
  return {
    id: command.id,
    agentId: command.agentId,
    type: command.type,
    args: command.args,
    status: lapsed ? 'expired' : command.status,
    createdAt: command.createdAt,
    expiresAt: command.expiresAt,
    deliveredAt: command.deliveredAt,
    deliveries: command.deliveries,
    finishedAt: command.finishedAt,
    result: command.result,
  };
}

/** `limit` (1..1000, default 100) plus the given parameters; anything else is refused. */
function limitParam(query: unknown, allowed: string[]): number {
  const params = (query ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(params)) {
    if (key !== 'limit' && !allowed.includes(key)) {
      throw badQuery(`unknown query parameter "${key}"; known: ${['limit', ...allowed].join(', ')}`);
    }
  }
  const raw = params.limit;
  if (raw === undefined) return 100;
  const limit = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIST) {
    throw badQuery(`limit: expected an integer from 1 to ${MAX_LIST}, received "${String(raw)}"`);
  }
  return limit;
}
