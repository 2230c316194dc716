import { renameSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { ConfigError, type LoadedConfig, loadConfig, parseConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import { remoteConfigRefused, stateFileInvalid } from './errors.ts';
import { readJsonFile, removeFile, writeJsonFile } from './state-file.ts';

/**
 * The config the collector assigned, kept in the state dir and laid over the host's own file at every
 * start and reload. The host's file is never written.
 */
export const REMOTE_CONFIG_FILE = 'remote-config.json';

/**
 * Keys only the host's own file may set: a remote config that repointed the collector or changed the
 * token would cut the agent off from the one place that could fix it; the state dir and socket are
 * opened once per process; and `fleet` decides what the collector may do here.
 */
export const LOCAL_ONLY_KEYS = ['collector', 'control', 'fleet', 'agent.state_dir'] as const;

export interface RemoteConfig {
  /** The collector's version id, e.g. "12". */
  version: string;
  yaml: string;
  receivedAt: number;
}

const remoteConfigSchema = z.object({
  version: z.string().min(1),
  yaml: z.string(),
  receivedAt: z.number(),
});

export interface RemoteConfigError {
  version: string;
  code: string;
  message: string;
}

/** The config an agent runs: its own file, with the remote config over it when there is a valid one. */
export interface EffectiveConfig {
  loaded: LoadedConfig;
  /** The remote config version in effect; null when running on the host's file alone. */
  remoteVersion: string | null;
  /** Why the stored remote config is not in effect, if it is not. */
  remoteError: RemoteConfigError | null;
}

export function remoteConfigPath(stateDir: string): string {
  return join(stateDir, REMOTE_CONFIG_FILE);
}

export function readRemoteConfig(stateDir: string): RemoteConfig | null {
  const path = remoteConfigPath(stateDir);
  const json = readJsonFile(path);
  if (json === undefined) return null;
  const parsed = remoteConfigSchema.safeParse(json);
  if (!parsed.success) throw stateFileInvalid(path, 'unexpected content');
  return parsed.data;
}

export function writeRemoteConfig(stateDir: string, config: RemoteConfig): void {
  writeJsonFile(remoteConfigPath(stateDir), config);
}

export function removeRemoteConfig(stateDir: string): void {
  removeFile(remoteConfigPath(stateDir));
}

/** Moves the stored remote config out of the way (kept for a look), so the next start ignores it. */
export function setAsideRemoteConfig(stateDir: string, logger: Logger): void {
  const path = remoteConfigPath(stateDir);
  const aside = `${path}.failed-start-${Date.now()}`;
  try {
    renameSync(path, aside);
    logger.error(
      { movedTo: aside },
      'the agent did not start with its remote config; the next start runs without it',
    );
  } catch (err) {
    logger.error({ err }, 'could not set the remote config aside');
  }
}

/** Loads the host's file (errors there throw, as before) and lays the stored remote config over it. */
export async function loadEffectiveConfig(options: {
  path?: string | undefined;
  env: NodeJS.ProcessEnv;
}): Promise<EffectiveConfig> {
  const local = await loadConfig({
    ...(options.path !== undefined && { path: options.path }),
    env: options.env,
  });
  if (!local.config.fleet.remote_config) return { loaded: local, remoteVersion: null, remoteError: null };
  let remote: RemoteConfig | null;
  try {
    remote = readRemoteConfig(local.config.agent.state_dir);
  } catch (err) {
    if (!isOutpostError(err)) throw err;
    return {
      loaded: local,
      remoteVersion: null,
      remoteError: { version: '?', code: err.code, message: err.message },
    };
  }
  if (remote === null) return { loaded: local, remoteVersion: null, remoteError: null };
  try {
    const loaded = await layRemoteConfig(local, remote.yaml, remote.version, options.env);
    return { loaded, remoteVersion: remote.version, remoteError: null };
  } catch (err) {
    if (!isOutpostError(err)) throw err;
    return {
      loaded: local,
      remoteVersion: null,
      remoteError: { version: remote.version, code: err.code, message: err.message },
    };
  }
}

/**
 * Validates `yaml` laid over the host's file with the agent's own loader, exactly as a reload would
 * read it. Throws E_REMOTE_CONFIG_INVALID or E_CONFIG_INVALID naming the problem.
 */
export async function layRemoteConfig(
  local: LoadedConfig,
  yaml: string,
  version: string,
  env: NodeJS.ProcessEnv,
): Promise<LoadedConfig> {
  let overlay: unknown;
  try {
    overlay = parse(yaml, { uniqueKeys: true }) ?? {};
  } catch (err) {
    throw remoteConfigRefused(version, `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isPlainObject(overlay)) throw remoteConfigRefused(version, 'expected a mapping of config sections');
  checkLocalOnly(overlay, version);
  const localText = local.path === null ? '' : await readFile(local.path, 'utf8');
  const base: unknown = parse(localText) ?? {};
  const merged = stringify(merge(isPlainObject(base) ? base : {}, overlay));
  // Paths in a remote config resolve against the host's config dir (or the state dir without one).
  const file = local.path ?? remoteConfigPath(local.config.agent.state_dir);
  try {
    return { ...parseConfig(merged, { path: file, env }), path: local.path };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The remote document on its own gives positions the admin can find in what they pushed.
    try {
      parseConfig(yaml, { path: `remote config ${version}`, env });
    } catch (own) {
      if (own instanceof ConfigError) throw own;
    }
    throw remoteConfigRefused(version, `laid over ${file}: ${err.message}`);
  }
}

function checkLocalOnly(overlay: Record<string, unknown>, version: string): void {
  for (const key of LOCAL_ONLY_KEYS) {
    let node: unknown = overlay;
    const parts = key.split('.');
    for (const [i, part] of parts.entries()) {
      if (!isPlainObject(node) || !(part in node)) break;
      const value = node[part];
      if (i === parts.length - 1 || !isPlainObject(value)) {
        const where = parts.slice(0, i + 1).join('.');
        throw remoteConfigRefused(
          version,
          `"${where}" cannot be set remotely (${key} stays in the host's own config file)`,
        );
      }
      node = value;
    }
  }
}

/** Mappings merge key by key; lists and scalars from the remote config replace the host's. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
