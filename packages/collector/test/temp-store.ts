import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore, type Store } from '../src/store/index.ts';

/** Runs `fn` on a real SQLite store in a fresh temp dir, then closes the store and removes the dir. */
export async function withTempStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-store-'));
  const store = await openSqliteStore({ file: path.join(dir, 'collector.db') });
  try {
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Registers agent `id` (hostname `<id>-host`, labels env=prod) as enrollment would; records need
 * their agent to exist. With `heartbeatAt`, also its first heartbeat.
 */
export async function addAgent(store: Store, id: string, heartbeatAt: number | null = null): Promise<void> {
  await store.registerAgent({
    id,
    hostname: `${id}-host`,
    labels: { env: 'prod' },
    version: '0.1.0',
    secretSha256: 'ab'.repeat(32),
    registeredAt: 0,
  });
  if (heartbeatAt !== null) {
    await store.recordHeartbeat({ agentId: id, at: heartbeatAt, version: '0.1.0', status: {} });
  }
}
