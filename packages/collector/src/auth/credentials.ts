import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export function sha256Hex(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/**
 * Compares by SHA-256 digest so both sides have the same length: timingSafeEqual needs that, and it
 * keeps the token's length from leaking through timing.
 */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(given).digest(),
    createHash('sha256').update(expected).digest(),
  );
}

// A well-formed digest of a random value, compared against when the agent is unknown, so an
// unknown agent id costs the same time as a wrong secret.
const UNKNOWN_AGENT_SHA256 = sha256Hex(randomBytes(32));

/** True when `secret` hashes to `expectedSha256Hex`; pass undefined for an unknown agent. */
export function secretMatches(secret: string, expectedSha256Hex: string | undefined): boolean {
  const expected = Buffer.from(expectedSha256Hex ?? UNKNOWN_AGENT_SHA256, 'hex');
  const given = createHash('sha256').update(secret).digest();
  return (
    expected.length === given.length && timingSafeEqual(given, expected) && expectedSha256Hex !== undefined
  );
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function parseBearer(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Splits `<agentId>.<secret>`; agent ids never contain a dot, secrets may. */
export function parseAgentCredentials(token: string): { agentId: string; secret: string } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot === token.length - 1) return undefined;
  return { agentId: token.slice(0, dot), secret: token.slice(dot + 1) };
}

export function newAgentId(): string {
  return `agt_${randomBytes(12).toString('hex')}`;
}

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}
