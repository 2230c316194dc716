import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { AgentConfig } from '../config/index.ts';
import type { PluginRuntime } from '../plugins/index.ts';
import type { CommandResult } from './command-journal.ts';

/** What a command may ask of the agent. */
export interface CommandTarget {
  config(): AgentConfig;
  reload(): Promise<{ applied: boolean; configVersion: string; error?: { code: string; message: string } }>;
  flush(): Promise<{ sent: number; remaining: number }>;
  /** The agent's plugin runtime; null when plugins.enabled is false. */
  plugins(): PluginRuntime | null;
}

export interface DeliveredCommand {
  id: string;
  type: string;
  args: Record<string, unknown>;
}

/** A command's result, and the exit code when the agent must stop once the result is reported. */
export interface CommandOutcome {
  result: CommandResult;
  exitCode?: number;
}

/**
 * Exit code after a successful upgrade: non-zero so systemd's Restart=on-failure (the unit
 * `agentctl service install` writes) starts the new version; EX_TEMPFAIL from sysexits.h.
 */
export const UPGRADE_EXIT_CODE = 75;

/**
 * This agent process, in every heartbeat and in an upgrade's result: the collector settles an upgrade
 * only on a heartbeat from another process, never on one the old process sends while it shuts down.
 */
export const INSTANCE_ID = randomUUID();

const PLUGIN_METHODS: Record<string, { method: 'restart' | 'disable' | 'enable'; done: string }> = {
  'restart-plugin': { method: 'restart', done: 'restarted' },
  'stop-plugin': { method: 'disable', done: 'stopped' },
  'start-plugin': { method: 'enable', done: 'started' },
};

const KNOWN = ['reload', 'flush', 'stop', 'upgrade', ...Object.keys(PLUGIN_METHODS)];

const failed = (message: string, data?: Record<string, unknown>): CommandOutcome => ({
  result: { status: 'failed', message, ...(data && { data }) },
});
const succeeded = (message: string, data?: Record<string, unknown>): CommandOutcome => ({
  result: { status: 'succeeded', message, ...(data && { data }) },
});

/** Runs one command; never throws: every failure is a result the admin gets to read. */
export async function runCommand(
  target: CommandTarget,
  command: DeliveredCommand,
  signal: AbortSignal,
): Promise<CommandOutcome> {
  if (!target.config().fleet.commands) {
    return failed('commands are turned off on this host (fleet.commands: false in its config)');
  }
  try {
    switch (command.type) {
      case 'reload': {
        const result = await target.reload();
        return result.applied
          ? succeeded(`config reloaded (${result.configVersion})`, { configVersion: result.configVersion })
          : failed(`reload refused, the running config stays: ${result.error?.message ?? 'unknown error'}`);
      }
      case 'flush': {
        const result = await target.flush();
        return succeeded(`sent ${result.sent} records, ${result.remaining} still queued`, { ...result });
      }
      case 'stop':
        return { ...succeeded('agent stopping; start it again with the service manager'), exitCode: 0 };
      case 'upgrade':
        return await upgrade(target.config().fleet, String(command.args.version ?? ''), signal);
      default: {
        const plugin = PLUGIN_METHODS[command.type];
        if (plugin) return await pluginCommand(target.plugins(), plugin, String(command.args.name ?? ''));
        return failed(`unknown command "${command.type}"; this agent runs: ${KNOWN.join(', ')}`);
      }
    }
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  }
}

async function pluginCommand(
  runtime: PluginRuntime | null,
  plugin: { method: 'restart' | 'disable' | 'enable'; done: string },
  name: string,
): Promise<CommandOutcome> {
  if (runtime === null) {
    return failed('plugins are not available on this agent (plugins.enabled: false in its config)');
  }
  const status = await runtime[plugin.method](name);
  return succeeded(`plugin ${name} ${plugin.done} (${status.state})`, { state: status.state });
}

async function upgrade(
  fleet: AgentConfig['fleet'],
  version: string,
  signal: AbortSignal,
): Promise<CommandOutcome> {
  if (fleet.upgrade_command === null) {
    return failed('upgrades are not set up on this host: set fleet.upgrade_command in its config file');
  }
  const outcome = await new Promise<{ code: number | string | null; output: string }>((resolve) => {
    execFile(
      '/bin/sh',
      ['-c', fleet.upgrade_command!],
      {
        timeout: fleet.upgrade_timeout,
        // The agent is shutting down: it must not wait out a long install.
        signal,
        maxBuffer: 1024 * 1024,
        env: { ...process.env, OUTPOST_UPGRADE_VERSION: version },
      },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim().slice(-2000);
        if (!err) return resolve({ code: 0, output });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const code = signal.aborted ? 'stopped' : e.killed ? 'timeout' : (e.code ?? null);
        resolve({ code, output: output || e.message });
      },
    );
  });
  if (outcome.code !== 0) {
    const why =
      outcome.code === 'timeout'
        ? `timed out after ${fleet.upgrade_timeout} ms`
        : outcome.code === 'stopped'
          ? 'was stopped because the agent shut down'
          : `exited with ${outcome.code}`;
    return failed(`upgrade command ${why}; the agent keeps running: ${outcome.output}`, {
      output: outcome.output,
    });
  }
  return {
    result: {
      status: 'awaiting_verification',
      message: `upgrade command done; restarting to run ${version}`,
      data: { output: outcome.output, instanceId: INSTANCE_ID },
    },
    exitCode: UPGRADE_EXIT_CODE,
  };
}
