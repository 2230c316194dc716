import { enrollmentTokenInvalid, newAgentId, newSecret, sha256Hex, tokenMatches } from '../auth/index.ts';
import type { Store } from '../store/index.ts';
import {
  type HeartbeatRequest,
  heartbeatRequestSchema,
  parseRequest,
  registerRequestSchema,
} from './schemas.ts';

export interface RegisterResponse {
  agentId: string;
  secret: string;
}

export interface HeartbeatResponse {
  serverTime: number;
  desiredConfigVersion: string | null;
  commands: unknown[];
  minSendIntervalMs: number | null;
}

/** Validates a register body, checks the enrollment token and creates the agent. */
export async function registerAgent(
  store: Store,
  body: unknown,
  enrollmentToken: string,
  now: number,
): Promise<RegisterResponse> {
  const request = parseRequest(registerRequestSchema, body);
  if (!tokenMatches(request.enrollmentToken, enrollmentToken)) throw enrollmentTokenInvalid();
  const agentId = newAgentId();
  const secret = newSecret();
  await store.registerAgent({
    id: agentId,
    hostname: request.hostname,
    labels: request.labels,
    version: request.version,
    secretSha256: sha256Hex(secret),
    registeredAt: now,
  });
  return { agentId, secret };
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
