import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  isOutpostError,
  MANIFEST_FILE,
  readPluginPackage,
  sha256Hex,
  validatePluginConfig,
} from '@outpost/plugin-sdk/manifest';
import * as tar from 'tar';
import { z } from 'zod';
import { OutpostError } from '../errors.ts';
import { parseRequest } from '../ingest/index.ts';
import type { PluginAssignment, PluginPackageInfo, Store } from '../store/index.ts';
import { badFleetBody, notFound } from './errors.ts';
import { type Labels, parseTargetKey, targetKey, targetRank } from './labels.ts';

/** Largest .tgz accepted: the SDK caps a bundle at 16 MiB, and compression only makes it smaller. */
export const MAX_PACKAGE_BYTES = 20 * 1024 * 1024;

export const pluginVersionExists = (name: string, version: string) =>
  new OutpostError(
    'E_PLUGIN_VERSION_EXISTS',
    `${name}@${version} is already in the store with a different bundle; publish a new version instead`,
    { name, version },
  );

export const pluginInUse = (name: string, version: string, targets: readonly string[]) =>
  new OutpostError(
    'E_PLUGIN_IN_USE',
    `${name}@${version} is still assigned to ${targets.join(', ')}; assign another version or unassign it there first`,
    { name, version, targets },
  );

const target = z.union([
  z.strictObject({ agent: z.string().min(1).max(64) }),
  z.strictObject({ labels: z.record(z.string().min(1).max(128), z.string().max(256)) }),
]);

export const assignPluginSchema = z.strictObject({
  target,
  name: z.string().min(1).max(214),
  /** null: the target's agents remove the plugin. */
  version: z.string().min(1).max(128).nullable(),
  config: z.record(z.string(), z.unknown()).optional(),
  enabled: z.boolean().optional(),
});

/** One plugin as an agent should have it. */
export type DesiredPlugin =
  | {
      name: string;
      version: string;
      sha256: string;
      config: Record<string, unknown> | null;
      enabled: boolean | null;
    }
  | { name: string; version: null };

/**
 * Validates an uploaded .tgz the way an agent will read it (the SDK's manifest and bundle checks) and
 * stores it. 'same' when that exact bundle is already stored; E_PLUGIN_VERSION_EXISTS when another is.
 */
export async function uploadPlugin(
  store: Store,
  data: Buffer,
  expectedSha256: string | undefined,
  now: number,
): Promise<{ stored: boolean; plugin: PluginPackageInfo }> {
  const pkg = await inspectPackage(data);
  if (expectedSha256 !== undefined && expectedSha256.toLowerCase() !== pkg.sha256) {
    throw badFleetBody(
      `plugin package: the bundle's sha256 is ${pkg.sha256}, not ${expectedSha256} as X-Outpost-Sha256 says`,
    );
  }
  const info: PluginPackageInfo = {
    ...pkg,
    packageSha256: sha256Hex(data),
    size: data.length,
    uploadedAt: now,
  };
  const outcome = await store.fleet.putPluginPackage(info, data);
  if (outcome === 'conflict') throw pluginVersionExists(info.name, info.version);
  if (outcome === 'same')
    return { stored: false, plugin: (await store.fleet.getPluginPackage(info.name, info.version))! };
  return { stored: true, plugin: info };
}

/**
 * Deletes a package from the store. Refused while an assignment names it, since its agents would
 * then be told to install a version nobody can download; agents that run it keep running it.
 */
export async function removePlugin(store: Store, name: string, version: string): Promise<{ removed: true }> {
  const result = await store.fleet.removePluginPackage(name, version);
  if (result.outcome === 'missing') throw notFound(`${name}@${version} is not in the plugin store`);
  if (result.outcome === 'assigned') throw pluginInUse(name, version, result.targets);
  return { removed: true };
}

async function inspectPackage(data: Buffer) {
  if (data.length === 0)
    throw badFleetBody('plugin package: the body is empty; send the .tgz from agentctl plugin pack');
  const work = await mkdtemp(path.join(os.tmpdir(), 'outpost-plugin-upload-'));
  try {
    const file = path.join(work, 'package.tgz');
    await writeFile(file, data);
    const extracted = path.join(work, 'x');
    await mkdir(extracted);
    try {
      // Plain files and folders only: a link in an archive could point the entry outside it.
      await tar.x({
        file,
        cwd: extracted,
        strict: true,
        filter: (_p, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory'),
      });
    } catch (err) {
      throw badFleetBody(`plugin package: not a readable .tgz (${(err as Error).message})`);
    }
    const packaged = path.join(extracted, 'package');
    const dir = (await stat(path.join(packaged, MANIFEST_FILE)).catch(() => undefined))
      ? packaged
      : extracted;
    try {
      const pkg = await readPluginPackage(dir);
      return {
        name: pkg.manifest.name,
        version: pkg.manifest.version,
        sha256: pkg.codeSha256,
        manifest: pkg.manifest as unknown as Record<string, unknown>,
      };
    } catch (err) {
      if (!isOutpostError(err)) throw err;
      // The SDK names files inside our temp dir; the admin knows them by their place in the package.
      throw badFleetBody(`plugin package: ${err.message.split(`${dir}${path.sep}`).join('')}`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export const unassignPluginSchema = z.strictObject({ target, name: z.string().min(1).max(214) });

/** Stops managing a plugin for a target: its agents keep whatever they have. */
export async function unassignPlugin(store: Store, body: unknown): Promise<{ removed: true }> {
  const request = parseRequest(unassignPluginSchema, body);
  const key = targetKey(request.target);
  if (!(await store.fleet.removePluginAssignment(key, request.name))) {
    throw notFound(`no assignment of ${request.name} to ${key}`);
  }
  return { removed: true };
}

/** Sets what a target runs of one plugin; the version must be in the store and the config must fit it. */
export async function assignPlugin(store: Store, body: unknown, now: number): Promise<PluginAssignment> {
  const request = parseRequest(assignPluginSchema, body);
  if ('agent' in request.target && !(await store.getAgent(request.target.agent))) {
    throw notFound(`agent ${request.target.agent} not found`);
  }
  let config: Record<string, unknown> | null = request.config ?? null;
  if (request.version !== null) {
    const pkg = await store.fleet.getPluginPackage(request.name, request.version);
    if (!pkg)
      throw notFound(`${request.name}@${request.version} is not in the plugin store; upload it first`);
    if (config !== null) {
      try {
        config = validatePluginConfig(pkg.manifest as never, config);
      } catch (err) {
        if (!isOutpostError(err)) throw err;
        throw badFleetBody(`config: ${err.message}`);
      }
    }
  } else if (config !== null || request.enabled !== undefined) {
    throw badFleetBody('version: null removes the plugin; config and enabled cannot go with it');
  }
  const assignment: PluginAssignment = {
    target: targetKey(request.target),
    name: request.name,
    version: request.version,
    config,
    enabled: request.enabled ?? null,
    updatedAt: now,
  };
  await store.fleet.assignPlugin(assignment);
  return assignment;
}

export function assignmentView(a: PluginAssignment) {
  return { ...a, target: parseTargetKey(a.target) };
}

/**
 * The plugins an agent should have: per plugin, its own target's assignment, else the most specific
 * matching selector's (most pairs; the newest assignment breaks ties). Plugins no assignment names
 * are left as the agent has them.
 */
export function desiredPlugins(
  agentId: string,
  labels: Labels,
  assignments: readonly PluginAssignment[],
  packages: ReadonlyMap<string, PluginPackageInfo>,
): DesiredPlugin[] {
  const best = new Map<string, { a: PluginAssignment; rank: number }>();
  for (const a of assignments) {
    const rank = targetRank(a.target, agentId, labels);
    if (rank === undefined) continue;
    const current = best.get(a.name);
    if (!current || rank > current.rank || (rank === current.rank && a.updatedAt > current.a.updatedAt)) {
      best.set(a.name, { a, rank });
    }
  }
  return [...best.values()]
    .map(({ a }): DesiredPlugin | undefined => {
      if (a.version === null) return { name: a.name, version: null };
      const pkg = packages.get(`${a.name}@${a.version}`);
      return (
        pkg && { name: a.name, version: a.version, sha256: pkg.sha256, config: a.config, enabled: a.enabled }
      );
    })
    .filter((d): d is DesiredPlugin => d !== undefined)
    .sort((x, y) => x.name.localeCompare(y.name));
}

/** Changes whenever what the agent should have changes: the heartbeat answer carries it. */
export function pluginsDigest(desired: readonly DesiredPlugin[]): string | null {
  return desired.length === 0 ? null : `sha256:${sha256Hex(JSON.stringify(desired))}`;
}

export async function pluginPackagesByKey(store: Store): Promise<Map<string, PluginPackageInfo>> {
  return new Map((await store.fleet.listPluginPackages()).map((p) => [`${p.name}@${p.version}`, p]));
}

/**
 * The versions of a plugin, in the store or reported by agents, each with the agents whose last
 * heartbeat lists it (and in which state).
 */
export async function pluginVersions(store: Store, name: string) {
  const [packages, agents] = await Promise.all([store.fleet.listPluginPackages(name), store.listAgents()]);
  const running = new Map<string, Array<{ agentId: string; hostname: string; state: string | null }>>();
  for (const agent of agents) {
    const plugins = (agent.status?.plugins ?? []) as Array<{
      name?: unknown;
      version?: unknown;
      state?: unknown;
    }>;
    for (const plugin of Array.isArray(plugins) ? plugins : []) {
      if (plugin.name !== name || typeof plugin.version !== 'string') continue;
      const list = running.get(plugin.version) ?? [];
      list.push({
        agentId: agent.id,
        hostname: agent.hostname,
        state: typeof plugin.state === 'string' ? plugin.state : null,
      });
      running.set(plugin.version, list);
    }
  }
  const versions = packages.map((p) => ({
    version: p.version,
    inStore: true,
    sha256: p.sha256 as string | null,
    uploadedAt: p.uploadedAt as number | null,
    agents: running.get(p.version) ?? [],
  }));
  for (const [version, list] of running) {
    if (!versions.some((v) => v.version === version)) {
      versions.push({ version, inStore: false, sha256: null, uploadedAt: null, agents: list });
    }
  }
  if (versions.length === 0) throw notFound(`no plugin ${name} in the store or on any agent`);
  return { name, versions };
}

export function packageView(p: PluginPackageInfo) {
  const manifest = p.manifest as { description?: string; capabilities?: string[]; permissions?: unknown };
  return {
    name: p.name,
    version: p.version,
    sha256: p.sha256,
    packageSha256: p.packageSha256,
    size: p.size,
    uploadedAt: p.uploadedAt,
    description: manifest.description ?? null,
    capabilities: manifest.capabilities ?? [],
    permissions: manifest.permissions ?? null,
  };
}
