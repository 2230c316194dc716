import { z } from 'zod';
import { parseRequest } from '../ingest/index.ts';
import type { AgentFleetState, Store, StoredAgent } from '../store/index.ts';
import { type DeliveredCommand, deliveredView } from './commands.ts';
import { desiredConfig } from './configs.ts';
import { agentRevoked, notFound } from './errors.ts';
import { effectiveLabels, type Labels } from './labels.ts';
import { type DesiredPlugin, desiredPlugins, pluginPackagesByKey, pluginsDigest } from './plugins.ts';

export type AgentState = 'online' | 'degraded' | 'offline' | 'revoked';

export const setLabelsSchema = z.strictObject({
  /** Replaces the admin labels; null clears them, leaving the agent's own. */
  labels: z
    .record(
      z
        .string()
        .min(1)
        .max(128)
        .regex(/^[A-Za-z0-9_.\-/]+$/),
      z.string().max(256),
    )
    .nullable(),
});

/** The heartbeat fields the fleet reads; the whole body is kept as the agent's status. */
interface ReportedStatus {
  uptimeSec?: number;
  configVersion?: string;
  queue?: { depth?: number; bytes?: number; dropped?: number; deadLetter?: number };
  cpuPercent?: number;
  rssBytes?: number;
  lastSendAt?: number | null;
  plugins?: Array<{ name?: string; version?: string; state?: string; reason?: string | null }>;
  remoteConfig?: {
    version?: string | null;
    error?: { version?: string; code?: string; message?: string } | null;
  };
  pluginSync?: {
    digest?: string | null;
    errors?: Array<{ name?: string; version?: string | null; message?: string }>;
  };
}

const FAILING_PLUGIN_STATES = new Set(['quarantined', 'failed', 'backoff']);

/** Why a heartbeating agent is degraded; empty when it is healthy. */
export function degradedReasons(status: ReportedStatus | null): string[] {
  if (!status) return [];
  const reasons: string[] = [];
  const configError = status.remoteConfig?.error;
  if (configError) {
    reasons.push(
      `remote config ${configError.version ?? '?'} refused: ${configError.message ?? configError.code}`,
    );
  }
  for (const refused of status.pluginSync?.errors ?? []) {
    reasons.push(`assigned plugin ${refused.name}@${refused.version ?? '-'} refused: ${refused.message}`);
  }
  for (const plugin of status.plugins ?? []) {
    if (plugin.state && FAILING_PLUGIN_STATES.has(plugin.state)) {
      reasons.push(`plugin ${plugin.name} is ${plugin.state}${plugin.reason ? `: ${plugin.reason}` : ''}`);
    }
  }
  if ((status.queue?.deadLetter ?? 0) > 0) {
    reasons.push(`${status.queue?.deadLetter} batches in the dead-letter table`);
  }
  if ((status.queue?.dropped ?? 0) > 0) reasons.push(`queue dropped ${status.queue?.dropped} records`);
  return reasons;
}

export interface AgentViewOptions {
  offlineAfterMs: number;
  now: number;
}

export function agentView(agent: StoredAgent, fleet: AgentFleetState | undefined, options: AgentViewOptions) {
  const status = agent.status as ReportedStatus | null;
  const online =
    agent.lastHeartbeatAt !== null && options.now - agent.lastHeartbeatAt <= options.offlineAfterMs;
  const reasons = online ? degradedReasons(status) : [];
  const state: AgentState = fleet?.revokedAt
    ? 'revoked'
    : !online
      ? 'offline'
      : reasons.length > 0
        ? 'degraded'
        : 'online';
  return {
    id: agent.id,
    hostname: agent.hostname,
    labels: effectiveLabels(agent.labels, fleet?.adminLabels ?? null),
    reportedLabels: agent.labels,
    adminLabels: fleet?.adminLabels ?? null,
    version: agent.version,
    registeredAt: agent.registeredAt,
    revokedAt: fleet?.revokedAt ?? null,
    lastHeartbeatAt: agent.lastHeartbeatAt,
    remoteAddress: fleet?.remoteAddress ?? null,
    state,
    reasons,
    heartbeat: status && {
      uptimeSec: status.uptimeSec ?? null,
      configVersion: status.configVersion ?? null,
      remoteConfig: status.remoteConfig ?? null,
      queue: status.queue ?? null,
      cpuPercent: status.cpuPercent ?? null,
      rssBytes: status.rssBytes ?? null,
      lastSendAt: status.lastSendAt ?? null,
      plugins: status.plugins ?? [],
      pluginSync: status.pluginSync ?? null,
    },
    status: agent.status,
  };
}

export type AgentView = ReturnType<typeof agentView>;

export async function listAgentViews(store: Store, options: AgentViewOptions): Promise<AgentView[]> {
  const [agents, states] = await Promise.all([store.listAgents(), store.fleet.listAgentStates()]);
  const byId = new Map(states.map((s) => [s.agentId, s]));
  return agents.map((agent) => agentView(agent, byId.get(agent.id), options));
}

export async function getAgentView(
  store: Store,
  agentId: string,
  options: AgentViewOptions,
): Promise<AgentView> {
  const [agent, state] = await Promise.all([store.getAgent(agentId), store.fleet.getAgentState(agentId)]);
  if (!agent) throw notFound(`agent ${agentId} not found`);
  return agentView(agent, state, options);
}

export async function setAdminLabels(store: Store, agentId: string, body: unknown) {
  const request = parseRequest(setLabelsSchema, body);
  if (!(await store.fleet.setAdminLabels(agentId, request.labels)))
    throw notFound(`agent ${agentId} not found`);
}

export async function revokeAgent(store: Store, agentId: string, now: number): Promise<{ revoked: boolean }> {
  if (!(await store.getAgent(agentId))) throw notFound(`agent ${agentId} not found`);
  return { revoked: await store.fleet.revokeAgent(agentId, now) };
}

export interface FleetHeartbeatAnswer {
  desiredConfigVersion: string | null;
  /** Digest of the plugins the agent should have (GET /api/v1/agent/plugins); null when none are assigned. */
  desiredPlugins: string | null;
  commands: DeliveredCommand[];
}

/**
 * The fleet part of a heartbeat: notes the client address, settles upgrades awaiting the version now
 * reported, and answers with the desired config version and the agent's pending commands.
 */
export async function fleetHeartbeat(
  store: Store,
  agentId: string,
  reported: { version: string; address: string; instanceId: string | null },
  now: number,
): Promise<FleetHeartbeatAnswer> {
  const [agent, state] = await Promise.all([store.getAgent(agentId), store.fleet.getAgentState(agentId)]);
  // Revoked between authentication and here: answer as authentication would have.
  if (!agent || !state || state.revokedAt !== null) throw agentRevoked(agentId);
  await store.fleet.noteRemoteAddress(agentId, reported.address);
  await store.fleet.verifyUpgrades(agentId, reported, now);
  const labels = effectiveLabels(agent.labels, state.adminLabels);
  const desired = desiredConfig(agentId, labels, await store.fleet.currentConfigs());
  const plugins = await pluginsFor(store, agentId, labels);
  const commands = await store.fleet.deliverCommands(agentId, now);
  return {
    desiredConfigVersion: desired === null ? null : String(desired.version),
    desiredPlugins: pluginsDigest(plugins),
    commands: commands.map(deliveredView),
  };
}

async function pluginsFor(store: Store, agentId: string, labels: Labels): Promise<DesiredPlugin[]> {
  const assignments = await store.fleet.listPluginAssignments();
  if (assignments.length === 0) return [];
  return desiredPlugins(agentId, labels, assignments, await pluginPackagesByKey(store));
}

/** The plugins the agent asking should have, and their digest as the heartbeat answer gave it. */
export async function agentPlugins(store: Store, agentId: string) {
  const [agent, state] = await Promise.all([store.getAgent(agentId), store.fleet.getAgentState(agentId)]);
  if (!agent || !state) throw notFound(`agent ${agentId} not found`);
  const plugins = await pluginsFor(store, agentId, effectiveLabels(agent.labels, state.adminLabels));
  return { digest: pluginsDigest(plugins), plugins };
}

/** The config document for the agent asking: only ever its own desired one. */
export async function agentConfig(store: Store, agentId: string) {
  const [agent, state] = await Promise.all([store.getAgent(agentId), store.fleet.getAgentState(agentId)]);
  if (!agent || !state) throw notFound(`agent ${agentId} not found`);
  const desired = desiredConfig(
    agentId,
    effectiveLabels(agent.labels, state.adminLabels),
    await store.fleet.currentConfigs(),
  );
  return desired === null
    ? { version: null, yaml: null, sha256: null }
    : { version: String(desired.version), yaml: desired.yaml, sha256: desired.sha256 };
}
