import { join } from 'node:path';
import { z } from 'zod';
import { badIdentityFile } from './errors.ts';
import { readJsonFile, writeJsonFile } from './state-file.ts';

/** What the collector gave this agent at registration; reused across restarts. */
export interface AgentIdentity {
  agentId: string;
  secret: string;
  collectorUrl: string;
  registeredAt: number;
}

const identitySchema = z.object({
  agentId: z.string().min(1),
  secret: z.string().min(1),
  collectorUrl: z.string().min(1),
  registeredAt: z.number(),
});

export function identityPath(stateDir: string): string {
  return join(stateDir, 'identity.json');
}

export function loadIdentity(stateDir: string): AgentIdentity | null {
  const path = identityPath(stateDir);
  const json = readJsonFile(path, badIdentityFile);
  if (json === undefined) return null;
  const parsed = identitySchema.safeParse(json);
  if (!parsed.success) throw badIdentityFile(path, `unexpected content (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

export function saveIdentity(stateDir: string, identity: AgentIdentity): void {
  writeJsonFile(identityPath(stateDir), identity);
}
