import type { Store } from '../store/index.ts';
import { type HeartbeatRequest, heartbeatRequestSchema, parseRequest } from './schemas.ts';

export interface HeartbeatResponse {
  serverTime: number;
  desiredConfigVersion: string | null;
  /** Filled in by the fleet stage (fleet/agents.ts). */
  commands: unknown[];
  minSendIntervalMs: number | null;
}

/** Validates a heartbeat body and keeps it as the agent's status. */
export async function recordHeartbeat(
  store: Store,
  agentId: string,
  body: unknown,
  now: number,
): Promise<HeartbeatResponse> {
  const request: HeartbeatRequest = parseRequest(heartbeatRequestSchema, body);
  await store.recordHeartbeat({ agentId, at: now, version: request.version, status: request });
  return { serverTime: now, desiredConfigVersion: null, commands: [], minSendIntervalMs: null };
}
