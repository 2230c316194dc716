export {
  newAgentId,
  newSecret,
  parseAgentCredentials,
  parseBearer,
  secretMatches,
  sha256Hex,
  tokenMatches,
} from './credentials.ts';
export { enrollmentTokenInvalid, forbidden, unauthorized } from './errors.ts';
export type { CollectorTokens, ResolveTokensOptions } from './tokens.ts';
export { ADMIN_TOKEN_FILE, ENROLLMENT_TOKEN_FILE, resolveTokens } from './tokens.ts';
