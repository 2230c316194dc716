import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { badIdentityFile } from './errors.ts';

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
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badIdentityFile(path, 'not valid JSON');
  }
  const parsed = identitySchema.safeParse(json);
  if (!parsed.success) throw badIdentityFile(path, `unexpected content (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

/** Write-then-rename so a crash never leaves a half-written secret behind. */
export function saveIdentity(stateDir: string, identity: AgentIdentity): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = identityPath(stateDir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(identity, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
