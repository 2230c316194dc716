import { cp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isOutpostError } from '../errors.ts';
import type { PluginRuntime } from '../plugins/index.ts';
import { HttpAnswerError } from './collector-link.ts';
import { pluginDidNotLoad } from './errors.ts';

/** What the sync needs of the collector link. */
export interface PluginSyncClient {
  request(method: 'GET', path: string): Promise<unknown>;
  download(path: string): Promise<Buffer>;
}

export interface PluginSyncError {
  name: string;
  version: string | null;
  code: string;
  message: string;
}

/** What the heartbeat reports: the assignment digest last acted on, and what failed there. */
export interface PluginSyncStatus {
  digest: string | null;
  errors: PluginSyncError[];
}

const desiredSchema = z.object({
  digest: z.string().nullable(),
  plugins: z.array(
    z.union([
      z.object({
        name: z.string().min(1),
        version: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        config: z.record(z.string(), z.unknown()).nullable(),
        enabled: z.boolean().nullable(),
      }),
      z.object({ name: z.string().min(1), version: z.null() }),
    ]),
  ),
});
type Desired = z.infer<typeof desiredSchema>['plugins'][number];

/** States in which a freshly installed plugin did not load. */
const DID_NOT_LOAD = new Set(['backoff', 'quarantined', 'failed']);

/**
 * Brings the plugins the collector assigns to this agent to their assigned version, config and
 * enabled flag; plugins no assignment names are left alone. A package that is refused (bad
 * manifest, wrong sha256) never replaces what runs; one that installs but does not load is swapped
 * back for the version that ran before.
 */
export class PluginSync {
  readonly #stateDir: string;
  readonly #logger: Logger;
  #status: PluginSyncStatus = { digest: null, errors: [] };

  constructor(options: { stateDir: string; logger: Logger }) {
    this.#stateDir = options.stateDir;
    this.#logger = options.logger;
  }

  status(): PluginSyncStatus {
    return this.#status;
  }

  /** Acts when the heartbeat's digest differs from the last one acted on. */
  async sync(
    digest: string | null | undefined,
    client: PluginSyncClient,
    runtime: PluginRuntime | null,
  ): Promise<void> {
    if (digest === undefined || digest === this.#status.digest) return;
    if (digest === null) {
      this.#status = { digest: null, errors: [] };
      return;
    }
    if (runtime === null) {
      this.#status = {
        digest,
        errors: [
          {
            name: '*',
            version: null,
            code: 'E_PLUGINS_UNAVAILABLE',
            message: 'plugins are not available on this agent (plugins.enabled: false)',
          },
        ],
      };
      return;
    }
    const answer = desiredSchema.parse(await client.request('GET', '/api/v1/agent/plugins'));
    const errors: PluginSyncError[] = [];
    for (const plugin of answer.plugins) {
      try {
        await this.#apply(plugin, client, runtime);
      } catch (err) {
        // Unreachable collector or a 5xx: the next heartbeat tries the whole set again.
        if (isTransient(err)) throw err;
        const code = (err as { code?: string }).code ?? 'E_PLUGIN_SYNC';
        const message = err instanceof Error ? err.message : String(err);
        errors.push({ name: plugin.name, version: plugin.version, code, message });
        this.#logger.error(
          { plugin: plugin.name, version: plugin.version, code, message },
          'assigned plugin refused',
        );
      }
    }
    this.#status = { digest: answer.digest, errors };
  }

  async #apply(plugin: Desired, client: PluginSyncClient, runtime: PluginRuntime): Promise<void> {
    const current = runtime.list().find((p) => p.name === plugin.name);
    if (plugin.version === null) {
      if (current) {
        await runtime.remove(plugin.name);
        this.#logger.info({ plugin: plugin.name }, 'assigned plugin removed');
      }
      return;
    }
    const installedSha = current ? (await runtime.describe(plugin.name)).sha256 : undefined;
    if (!current || current.version !== plugin.version || installedSha !== plugin.sha256) {
      await this.#install(plugin, current?.version, installedSha, client, runtime);
    }
    if (plugin.config !== null) {
      const details = await runtime.describe(plugin.name);
      if (JSON.stringify(details.config) !== JSON.stringify(plugin.config)) {
        await runtime.configure(plugin.name, plugin.config);
      }
    }
    const enabled = runtime.list().find((p) => p.name === plugin.name)?.enabled;
    if (plugin.enabled === true && enabled === false) await runtime.enable(plugin.name);
    if (plugin.enabled === false && enabled === true) await runtime.disable(plugin.name);
  }

  async #install(
    plugin: Extract<Desired, { sha256: string }>,
    previousVersion: string | undefined,
    previousSha: string | undefined,
    client: PluginSyncClient,
    runtime: PluginRuntime,
  ): Promise<void> {
    const bytes = await client.download(
      `/api/v1/agent/plugins/${encodeURIComponent(plugin.name)}/${encodeURIComponent(plugin.version)}`,
    );
    // The running version's files, kept aside (the plugin store's <dir>/<name>/<version> layout)
    // so a new version that does not load can be swapped back.
    const aside = join(this.#stateDir, 'fleet-plugins', 'previous', encodeURIComponent(plugin.name));
    await rm(aside, { recursive: true, force: true });
    let kept = false;
    if (previousVersion !== undefined) {
      const dir = join(runtime.dir, plugin.name, previousVersion);
      if (await stat(dir).catch(() => undefined)) {
        await cp(dir, aside, { recursive: true });
        kept = true;
      }
    }
    try {
      const status = await runtime.install(bytes, { sha256: plugin.sha256 });
      if (!DID_NOT_LOAD.has(status.state)) {
        this.#logger.info(
          { plugin: plugin.name, version: plugin.version, state: status.state },
          'assigned plugin installed',
        );
        return;
      }
      const why = `${plugin.name}@${plugin.version} does not load (${status.reason ?? status.state})`;
      if (kept) {
        await runtime.install(aside, { ...(previousSha !== undefined && { sha256: previousSha }) });
        throw pluginDidNotLoad(plugin.name, `${why}; ${previousVersion} runs again`);
      }
      await runtime.remove(plugin.name);
      throw pluginDidNotLoad(plugin.name, `${why}; it was removed`);
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  }
}

function isTransient(err: unknown): boolean {
  if (err instanceof HttpAnswerError) return err.status >= 500 || [401, 408, 429].includes(err.status);
  return isOutpostError(err, 'E_COLLECTOR_UNREACHABLE') || isOutpostError(err, 'E_NOT_REGISTERED');
}
