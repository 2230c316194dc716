import path from 'node:path';
import { badRequest, type ControlRoutes, streamReply } from '../control/index.ts';
import { isOutpostError, OutpostError } from '../errors.ts';
import type { PluginStoreClient } from '../fleet/index.ts';
import type { PluginRuntime } from './runtime.ts';
import { parseStoreSpec, type StoreSpec } from './store-spec.ts';

/** What an install stream carries, one JSON line each: progress steps, then the result or the error. */
export type InstallEvent =
  | { progress: string }
  | { done: ReturnType<PluginRuntime['list']>[number] }
  | { error: { code: string; message: string } };

export const pluginsDisabled = () =>
  new OutpostError(
    'E_PLUGINS_DISABLED',
    'plugins are switched off in the agent config (plugins.enabled: false); switch them on and restart the agent',
  );

function nameOf(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '')
    throw badRequest(`${where}: name a plugin, e.g. name=http-check`);
  return value;
}

function bodyOf(body: unknown, route: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest(`${route}: the body must be a JSON object`);
  }
  return body as Record<string, unknown>;
}

const noCollectorLink = () =>
  new OutpostError(
    'E_COLLECTOR_UNREACHABLE',
    'the agent has no collector link right now (it is starting or reloading); try again in a moment',
  );

/** `source` (an absolute path) or `store` (name[@version] in the collector's plugin store). */
function installSourceOf(body: Record<string, unknown>): { source: string } | { store: StoreSpec } {
  const { source, store } = body;
  if (store !== undefined) {
    if (source !== undefined) throw badRequest('/v1/plugins/install: give source or store, not both');
    const spec = typeof store === 'string' ? parseStoreSpec(store) : null;
    if (spec === null) {
      throw badRequest('/v1/plugins/install: store must be name or name@version, e.g. http-check@1.2.0');
    }
    return { store: spec };
  }
  if (typeof source !== 'string' || !path.isAbsolute(source)) {
    throw badRequest(
      '/v1/plugins/install: source must be the absolute path of a plugin dir or .tgz (or give store: "name@version")',
    );
  }
  return { source };
}

/**
 * The /v1/plugins routes of the control socket. `runtime` answers the agent's PluginRuntime, or
 * null when plugins are switched off; `storeClient` the collector link, for installs from its store.
 */
export function pluginRoutes(
  runtime: () => PluginRuntime | null,
  storeClient: () => PluginStoreClient | null = () => null,
): ControlRoutes {
  const plugins = (): PluginRuntime => {
    const found = runtime();
    if (found === null) throw pluginsDisabled();
    return found;
  };
  const named = (route: string, act: (p: PluginRuntime, name: string) => Promise<unknown>) => ({
    [`POST /v1/plugins/${route}`]: async (req: { body: unknown }) => {
      const body = bodyOf(req.body, `/v1/plugins/${route}`);
      return act(plugins(), nameOf(body.name, `/v1/plugins/${route}`));
    },
  });
  return {
    'GET /v1/plugins': async () => {
      const p = plugins();
      await p.refreshStats();
      return { dir: p.dir, hostPid: p.hostPid ?? null, plugins: p.list() };
    },
    'GET /v1/plugins/show': (req) => plugins().describe(nameOf(req.query.get('name'), '/v1/plugins/show')),
    'GET /v1/plugins/logs': (req) => {
      const raw = req.query.get('lines') ?? '100';
      const lines = Number(raw);
      if (!Number.isSafeInteger(lines) || lines < 1) {
        throw badRequest(`/v1/plugins/logs: lines must be a whole number >= 1, got "${raw}"`);
      }
      return { lines: plugins().logs(nameOf(req.query.get('name'), '/v1/plugins/logs'), lines) };
    },
    'POST /v1/plugins/install': (req) => {
      const body = bodyOf(req.body, '/v1/plugins/install');
      const from = installSourceOf(body);
      const { sha256 } = body;
      if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256))) {
        throw badRequest('/v1/plugins/install: sha256 must be 64 hex digits');
      }
      const p = plugins();
      return streamReply(async (stream) => {
        const write = (event: InstallEvent) => stream.write(event);
        const onProgress = (step: string) => write({ progress: step });
        try {
          let done: Awaited<ReturnType<PluginRuntime['install']>>;
          if ('store' in from) {
            const client = storeClient();
            if (client === null) throw noCollectorLink();
            // The daemon alone talks to the collector: agentctl, which loads this module, stays light.
            const { fetchFromStore } = await import('../fleet/index.ts');
            const fetched = await fetchFromStore(client, from.store, onProgress);
            if (sha256 !== undefined && sha256.toLowerCase() !== fetched.sha256) {
              throw new OutpostError(
                'E_PLUGIN_SHA256',
                `${fetched.name}@${fetched.version}: the store's bundle sha256 is ${fetched.sha256}, expected ${sha256}; refusing to install`,
              );
            }
            done = await p.install(fetched.bytes, { sha256: fetched.sha256, onProgress });
          } else {
            done = await p.install(from.source, { ...(sha256 !== undefined && { sha256 }), onProgress });
          }
          write({ done });
        } catch (err) {
          write({
            error: isOutpostError(err)
              ? { code: err.code, message: err.message }
              : { code: 'E_PLUGIN_INSTALL', message: String(err) },
          });
        } finally {
          stream.end();
        }
      });
    },
    ...named('enable', (p, name) => p.enable(name)),
    ...named('disable', (p, name) => p.disable(name)),
    ...named('restart', (p, name) => p.restart(name)),
    ...named('remove', async (p, name) => {
      await p.remove(name);
      return { removed: name };
    }),
    'POST /v1/plugins/config': async (req) => {
      const body = bodyOf(req.body, '/v1/plugins/config');
      const name = nameOf(body.name, '/v1/plugins/config');
      const config = body.config;
      if (config === null || typeof config !== 'object' || Array.isArray(config)) {
        throw badRequest('/v1/plugins/config: config must be a JSON object');
      }
      return { config: await plugins().configure(name, config as Record<string, unknown>) };
    },
  };
}
