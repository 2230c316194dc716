import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  enrollmentTokenInvalid,
  newAgentId,
  newSecret,
  parseAgentCredentials,
  secretMatches,
  sha256Hex,
  tokenMatches,
} from '../auth/index.ts';
import { parseRequest } from '../ingest/index.ts';
import type { EnrollmentToken, Store, TokenUse } from '../store/index.ts';
import { agentRevoked, enrollmentTokenRefused } from './errors.ts';

const labels = z.record(z.string().min(1).max(128), z.string().max(256));

export const registerRequestSchema = z.object({
  enrollmentToken: z.string().min(1).max(512),
  hostname: z.string().min(1).max(255),
  labels: labels.default({}),
  version: z.string().min(1).max(128),
  /** The id this host had before; kept when the collector still knows it for the same hostname. */
  agentId: z.string().min(1).max(64).optional(),
});

export const createTokenSchema = z.strictObject({
  description: z.string().max(256).default(''),
  /** Lifetime in ms from now; absent means the token never expires. */
  ttlMs: z
    .number()
    .int()
    .positive()
    .max(10 * 365 * 24 * 3600 * 1000)
    .optional(),
  maxUses: z.number().int().positive().optional(),
});

export interface RegisterAnswer {
  agentId: string;
  secret: string;
  /** True when a known host got its old id back with a new secret. */
  reissued: boolean;
}

/** What an admin sees of a token: never its secret. */
export interface TokenView {
  id: string;
  description: string;
  createdAt: number;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  revokedAt: number | null;
  state: 'active' | 'revoked' | 'expired' | 'used_up';
}

const WHY: Record<Exclude<TokenUse, 'ok'>, string> = {
  unknown: 'is not valid',
  revoked: 'was revoked',
  expired: 'has expired',
  used_up: 'has no uses left',
};

/** Creates an admin token; the answer is the only time its full value is shown. */
export async function createEnrollmentToken(
  store: Store,
  body: unknown,
  now: number,
): Promise<TokenView & { token: string }> {
  const request = parseRequest(createTokenSchema, body);
  const id = `enr_${randomBytes(8).toString('hex')}`;
  const secret = newSecret();
  const token = {
    id,
    secretSha256: sha256Hex(secret),
    description: request.description,
    createdAt: now,
    expiresAt: request.ttlMs === undefined ? null : now + request.ttlMs,
    maxUses: request.maxUses ?? null,
  };
  await store.fleet.createEnrollmentToken(token);
  return { ...tokenView({ ...token, uses: 0, revokedAt: null }, now), token: `${id}.${secret}` };
}

export function tokenView(token: EnrollmentToken, now: number): TokenView {
  const state =
    token.revokedAt !== null
      ? 'revoked'
      : token.expiresAt !== null && token.expiresAt <= now
        ? 'expired'
        : token.maxUses !== null && token.uses >= token.maxUses
          ? 'used_up'
          : 'active';
  return {
    id: token.id,
    description: token.description,
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    maxUses: token.maxUses,
    uses: token.uses,
    revokedAt: token.revokedAt,
    state,
  };
}

/**
 * Registers an agent with the config's enrollment token or an admin-created one (`enr_<id>.<secret>`,
 * counted against its uses). A host that names its previous id gets that id back with a new secret
 * when the collector still knows it under the same hostname; a revoked id is refused.
 */
export async function registerAgent(
  store: Store,
  body: unknown,
  configToken: string,
  now: number,
): Promise<RegisterAnswer> {
  const request = parseRequest(registerRequestSchema, body);
  if (!tokenMatches(request.enrollmentToken, configToken)) {
    await useAdminToken(store, request.enrollmentToken, now);
  }
  const secret = newSecret();
  if (request.agentId !== undefined) {
    const outcome = await store.fleet.reregisterAgent({
      agentId: request.agentId,
      hostname: request.hostname,
      labels: request.labels,
      version: request.version,
      secretSha256: sha256Hex(secret),
    });
    if (outcome === 'reissued') return { agentId: request.agentId, secret, reissued: true };
    if (outcome === 'revoked') throw agentRevoked(request.agentId);
  }
  const agentId = newAgentId();
  await store.registerAgent({
    id: agentId,
    hostname: request.hostname,
    labels: request.labels,
    version: request.version,
    secretSha256: sha256Hex(secret),
    registeredAt: now,
  });
  return { agentId, secret, reissued: false };
}

async function useAdminToken(store: Store, given: string, now: number): Promise<void> {
  const parts = parseAgentCredentials(given);
  if (!parts?.agentId.startsWith('enr_')) throw enrollmentTokenInvalid();
  const token = await store.fleet.getEnrollmentToken(parts.agentId);
  // Compared even when the id is unknown, so a guessed id costs the same time as a wrong secret.
  if (!secretMatches(parts.secret, token?.secretSha256) || !token) throw enrollmentTokenInvalid();
  const use = await store.fleet.useEnrollmentToken(token.id, now);
  if (use !== 'ok') throw enrollmentTokenRefused(`${token.id} ${WHY[use]}`);
}
