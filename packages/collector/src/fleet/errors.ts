import { OutpostError } from '../errors.ts';

export const agentRevoked = (agentId: string) =>
  new OutpostError(
    'E_AGENT_REVOKED',
    `agent ${agentId} was revoked by an admin; to enrol this host again, delete identity.json in its state dir`,
    { agentId },
  );

export const enrollmentTokenRefused = (why: string) =>
  new OutpostError('E_ENROLLMENT_TOKEN_INVALID', `enrollment token ${why}; ask an admin for a new one`);

export const forbiddenAgent = (what: string) =>
  new OutpostError('E_FORBIDDEN', `${what} belongs to another agent; an agent reaches only its own data`);

export const notFound = (message: string) => new OutpostError('E_NOT_FOUND', message);

export const badFleetBody = (message: string) => new OutpostError('E_BAD_BODY', message);
