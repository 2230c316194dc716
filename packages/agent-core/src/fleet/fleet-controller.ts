import type { Logger } from 'pino';
import { z } from 'zod';
import { loadConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import type { HeartbeatAnswer } from './collector-link.ts';
import { CommandJournal, type CommandResult } from './command-journal.ts';
import { type CommandTarget, type DeliveredCommand, INSTANCE_ID, runCommand } from './commands.ts';
import { PluginSync, type PluginSyncStatus } from './plugin-sync.ts';
import {
  layRemoteConfig,
  type RemoteConfig,
  type RemoteConfigError,
  readRemoteConfig,
  removeRemoteConfig,
  writeRemoteConfig,
} from './remote-config.ts';

/** What the controller needs from the agent beyond running commands. */
export interface FleetHost extends CommandTarget {
  /** The host's own config file as the agent loads it (undefined: the default path). */
  configPath(): string | undefined;
  env(): NodeJS.ProcessEnv;
  /** The remote config in effect and, if the stored one is not, why. */
  remoteConfig(): { version: string | null; error: RemoteConfigError | null };
  /** Called once the work at hand is done, when a command asked the agent to exit. */
  exit(code: number): void;
}

/** Authenticated requests to the collector (the collector link). */
export interface FleetClient {
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown>;
  download(path: string): Promise<Buffer>;
}

export interface FleetControllerOptions {
  host: FleetHost;
  /** The current link; null while there is none (between two senders during a reload). */
  client: () => FleetClient | null;
  stateDir: string;
  logger: Logger;
}

/** What the heartbeat reports about fleet control. */
export interface FleetStatus {
  /** This process (see INSTANCE_ID). */
  instanceId: string;
  remoteConfig: { version: string | null; error: RemoteConfigError | null };
  pluginSync: PluginSyncStatus;
}

const configAnswerSchema = z.object({ version: z.string().nullable(), yaml: z.string().nullable() });
const commandSchema = z.object({
  id: z.string().min(1),
  type: z.string().min(1),
  args: z.record(z.string(), z.unknown()).default({}),
});

/**
 * Acts on heartbeat answers: brings the remote config to the desired version and runs delivered
 * commands once each. Work runs one answer at a time off the heartbeat's path (a reload may replace
 * the link that delivered the answer); answers arriving meanwhile are coalesced into the latest,
 * which carries every command still unfinished.
 */
export class FleetController {
  readonly #options: FleetControllerOptions;
  readonly #journal: CommandJournal;
  readonly #plugins: PluginSync;
  #working: Promise<void> | null = null;
  #next: HeartbeatAnswer | null = null;
  /** A desired version this agent refused; not fetched again until the collector wants another. */
  #refused: RemoteConfigError | null = null;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(options: FleetControllerOptions) {
    this.#options = options;
    this.#plugins = new PluginSync({ stateDir: options.stateDir, logger: options.logger });
    this.#journal = new CommandJournal(options.stateDir, (err) =>
      options.logger.error({ err }, 'command journal is damaged; starting a new one'),
    );
  }

  onHeartbeatAnswer(answer: HeartbeatAnswer): void {
    if (this.#closed) return;
    this.#next = answer;
    this.#working ??= this.#drain().finally(() => {
      this.#working = null;
    });
  }

  status(): FleetStatus {
    const current = this.#options.host.remoteConfig();
    return {
      instanceId: INSTANCE_ID,
      remoteConfig: { version: current.version, error: this.#refused ?? current.error },
      pluginSync: this.#plugins.status(),
    };
  }

  /** Stops a running upgrade command and waits for the work in progress; later answers are ignored. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#next = null;
    this.#abort.abort();
    await this.#working;
  }

  async #drain(): Promise<void> {
    let exitCode: number | undefined;
    while (this.#next && exitCode === undefined) {
      const answer = this.#next;
      this.#next = null;
      try {
        await this.#syncConfig(answer.desiredConfigVersion);
      } catch (err) {
        this.#options.logger.warn({ err }, 'remote config not fetched; trying again on the next heartbeat');
      }
      try {
        const client = this.#options.client();
        if (client) await this.#plugins.sync(answer.desiredPlugins, client, this.#options.host.plugins());
      } catch (err) {
        this.#options.logger.warn({ err }, 'assigned plugins not synced; trying again on the next heartbeat');
      }
      for (const raw of answer.commands ?? []) {
        const parsed = commandSchema.safeParse(raw);
        if (!parsed.success) {
          this.#options.logger.warn({ command: raw }, 'ignoring a malformed command from the collector');
          continue;
        }
        exitCode = await this.#handleCommand(parsed.data);
        if (exitCode !== undefined) break;
      }
    }
    if (exitCode !== undefined) {
      this.#closed = true;
      this.#options.host.exit(exitCode);
    }
  }

  async #syncConfig(desired: string | null | undefined): Promise<void> {
    const { host, logger } = this.#options;
    if (desired === undefined) return;
    const current = host.remoteConfig().version;
    if (desired === current) {
      this.#refused = null;
      return;
    }
    if (desired !== null && this.#refused?.version === desired) return;
    if (!host.config().fleet.remote_config) {
      if (desired !== null) {
        this.#refused = {
          version: desired,
          code: 'E_REMOTE_CONFIG_DISABLED',
          message: 'remote config is turned off on this host (fleet.remote_config: false)',
        };
      }
      return;
    }
    const client = this.#options.client();
    if (!client) return;
    const answer =
      desired === null
        ? { version: null, yaml: null }
        : configAnswerSchema.parse(await client.request('GET', '/api/v1/agent/config'));
    const stateDir = host.config().agent.state_dir;
    const previous = safeRead(stateDir);
    if (answer.version === null || answer.yaml === null) {
      removeRemoteConfig(stateDir);
      const result = await host.reload();
      logger.info(
        { applied: result.applied, previous: current },
        'remote config removed; running on the local file',
      );
      return;
    }

    const version = answer.version;
    try {
      const local = await loadConfig({ path: host.configPath(), env: host.env() });
      await layRemoteConfig(local, answer.yaml, version, host.env());
    } catch (err) {
      if (!isOutpostError(err)) throw err;
      this.#refused = { version, code: err.code, message: err.message };
      logger.error({ err, version }, 'remote config refused; the running config stays');
      return;
    }
    writeRemoteConfig(stateDir, { version, yaml: answer.yaml, receivedAt: Date.now() });
    const result = await host.reload();
    const now = host.remoteConfig();
    if (result.applied && now.version === version) {
      this.#refused = null;
      logger.info({ version, configVersion: result.configVersion }, 'remote config applied');
      return;
    }
    // The host's own file changed meanwhile and no longer takes this config: keep the old one.
    if (previous) writeRemoteConfig(stateDir, previous);
    else removeRemoteConfig(stateDir);
    if (result.applied) await host.reload();
    this.#refused = {
      version,
      code: result.error?.code ?? now.error?.code ?? 'E_REMOTE_CONFIG_INVALID',
      message: result.error?.message ?? now.error?.message ?? 'the reload did not take the remote config',
    };
    logger.error({ version, error: this.#refused }, 'remote config refused; the running config stays');
  }

  /** Runs a command unless this agent already started it; reports the result either way. */
  async #handleCommand(command: DeliveredCommand): Promise<number | undefined> {
    const { logger } = this.#options;
    const seen = this.#journal.get(command.id);
    let result: CommandResult;
    let exitCode: number | undefined;
    if (seen) {
      // Delivered again: the result did not arrive, or the agent stopped while the command ran.
      result = seen.result ?? {
        status: 'failed',
        message: 'the agent stopped while this command ran; it is not run a second time',
      };
    } else {
      this.#journal.started(command.id, command.type);
      logger.info({ command: command.id, type: command.type, args: command.args }, 'running command');
      const outcome = await runCommand(this.#options.host, command, this.#abort.signal);
      result = outcome.result;
      exitCode = outcome.exitCode;
      this.#journal.finished(command.id, result);
      logger.info({ command: command.id, type: command.type, ...result }, 'command finished');
    }
    await this.#report(command.id, result);
    return exitCode;
  }

  async #report(id: string, result: CommandResult): Promise<void> {
    try {
      const client = this.#options.client();
      if (!client) throw new Error('no collector link');
      await client.request('POST', `/api/v1/agent/commands/${encodeURIComponent(id)}/result`, result);
    } catch (err) {
      // The collector delivers the command again until a result arrives; the journal answers then.
      this.#options.logger.warn({ err, command: id }, 'command result not delivered; it is sent again later');
    }
  }
}

function safeRead(stateDir: string): RemoteConfig | null {
  try {
    return readRemoteConfig(stateDir);
  } catch {
    return null;
  }
}
