import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { sha256Hex } from '../auth/index.ts';
import { parseRequest } from '../ingest/index.ts';
import type { ConfigVersion, Store } from '../store/index.ts';
import { badFleetBody, notFound } from './errors.ts';
import { type ConfigTarget, type Labels, parseTargetKey, targetKey, targetRank } from './labels.ts';

export const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * Keys a remote config may not set (the agent refuses them too): a wrong collector URL or token
 * would cut the agent off from the one place that could fix it, the state dir and control socket are
 * opened once per process, and `fleet` decides what the collector may do on a host.
 */
const LOCAL_ONLY = ['collector', 'control', 'fleet', 'agent.state_dir'];

const target = z.union([
  z.strictObject({ agent: z.string().min(1).max(64) }),
  z.strictObject({ labels: z.record(z.string().min(1).max(128), z.string().max(256)) }),
]);

export const pushConfigSchema = z.strictObject({
  target,
  /** The agent YAML (a partial document laid over each agent's own file); null removes it. */
  yaml: z.string().max(MAX_CONFIG_BYTES).nullable(),
  comment: z.string().max(512).default(''),
});

export const rollbackSchema = z.strictObject({
  target,
  /** The version to go back to; absent means the one before the current. */
  version: z.number().int().positive().optional(),
  comment: z.string().max(512).default(''),
});

export const retrySchema = z.strictObject({
  target,
  comment: z.string().max(512).default(''),
});

export interface ConfigVersionView {
  version: number;
  target: ConfigTarget;
  sha256: string | null;
  comment: string;
  createdAt: number;
  rollbackOf: number | null;
  removed: boolean;
}

export function configView(config: ConfigVersion): ConfigVersionView {
  return {
    version: config.version,
    target: parseTargetKey(config.target),
    sha256: config.sha256,
    comment: config.comment,
    createdAt: config.createdAt,
    rollbackOf: config.rollbackOf,
    removed: config.yaml === null,
  };
}

/**
 * Checks an uploaded config as far as the collector can without the agent's schema: YAML that parses,
 * a mapping at the top, and no local-only keys. Each agent validates it fully before applying.
 */
export function checkConfigYaml(text: string): void {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const at = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
    throw badFleetBody(
      `yaml: ${at}${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw badFleetBody(`yaml: ${(err as Error).message}`);
  }
  if (!isPlainObject(raw)) throw badFleetBody('yaml: expected a mapping of config sections at the top');
  for (const key of LOCAL_ONLY) {
    let node: unknown = raw;
    const parts = key.split('.');
    for (const [i, part] of parts.entries()) {
      if (!isPlainObject(node) || !(part in node)) break;
      const value = node[part];
      // A non-mapping parent (e.g. "agent: ~") would replace the local-only key below it too.
      if (i === parts.length - 1 || !isPlainObject(value)) {
        throw badFleetBody(
          `yaml: "${parts.slice(0, i + 1).join('.')}" cannot be set remotely; ${key} stays in each host's own config file`,
        );
      }
      node = value;
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function pushConfig(store: Store, body: unknown, now: number): Promise<ConfigVersionView> {
  const request = parseRequest(pushConfigSchema, body);
  await checkTargetExists(store, request.target);
  if (request.yaml !== null) checkConfigYaml(request.yaml);
  const version = await store.fleet.pushConfig({
    target: targetKey(request.target),
    yaml: request.yaml,
    sha256: request.yaml === null ? null : `sha256:${sha256Hex(request.yaml)}`,
    comment: request.comment,
    createdAt: now,
    rollbackOf: null,
  });
  return configView(version);
}

/** Rolls back by pushing the old document again as a new version, so history only grows. */
export async function rollbackConfig(store: Store, body: unknown, now: number): Promise<ConfigVersionView> {
  const request = parseRequest(rollbackSchema, body);
  const key = targetKey(request.target);
  let old: ConfigVersion | undefined;
  if (request.version === undefined) {
    const [, previous] = await store.fleet.configHistory(key, 2);
    if (!previous) throw notFound(`${key} has no earlier config version to roll back to`);
    old = previous;
  } else {
    old = await store.fleet.getConfigVersion(request.version);
    if (!old || old.target !== key)
      throw notFound(`config version ${request.version} is not a version of ${key}`);
  }
  return republish(store, old, request.comment || `rollback to version ${old.version}`, old.version, now);
}

/**
 * Pushes the target's current document again as a new version. An agent does not fetch a version it
 * refused a second time, so once the cause is fixed on the host (a missing environment variable, a
 * file the config names), a new version is what makes it try again.
 */
export async function retryConfig(store: Store, body: unknown, now: number): Promise<ConfigVersionView> {
  const request = parseRequest(retrySchema, body);
  const key = targetKey(request.target);
  const [current] = await store.fleet.configHistory(key, 1);
  if (!current || current.yaml === null) {
    throw notFound(`${key} has no remote config in effect to retry; push one instead`);
  }
  return republish(store, current, request.comment || `retry of version ${current.version}`, null, now);
}

/** A stored document as a new version of its target, so history only grows. */
async function republish(
  store: Store,
  old: ConfigVersion,
  comment: string,
  rollbackOf: number | null,
  now: number,
): Promise<ConfigVersionView> {
  const version = await store.fleet.pushConfig({
    target: old.target,
    yaml: old.yaml,
    sha256: old.sha256,
    comment,
    createdAt: now,
    rollbackOf,
  });
  return configView(version);
}

async function checkTargetExists(store: Store, target: ConfigTarget): Promise<void> {
  if ('agent' in target && !(await store.getAgent(target.agent))) {
    throw notFound(`agent ${target.agent} not found`);
  }
}

/**
 * The config an agent should run: its own target's, else the most specific matching label selector's
 * (most pairs; the newest push breaks ties). A removed target does not count.
 */
export function desiredConfig(
  agentId: string,
  labels: Labels,
  current: readonly ConfigVersion[],
): ConfigVersion | null {
  let best: { config: ConfigVersion; rank: number } | null = null;
  for (const config of current) {
    if (config.yaml === null) continue;
    const rank = targetRank(config.target, agentId, labels);
    if (rank === undefined) continue;
    if (!best || rank > best.rank || (rank === best.rank && config.version > best.config.version)) {
      best = { config, rank };
    }
  }
  return best?.config ?? null;
}
