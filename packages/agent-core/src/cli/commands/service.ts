import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { type AgentConfig, DEFAULT_CONFIG_PATH, defaultConfig, loadConfig } from '../../config/index.ts';
import {
  badServiceFlag,
  DEFAULT_UNIT_DIR,
  installUnit,
  parseCpuQuota,
  parseMemoryMax,
  parseWatchdogSec,
  siblingBin,
  uninstallUnit,
} from '../../service/index.ts';
import type { CliContext } from '../context.ts';

const UNIT_NAME = 'outpost-agent';
const STATE_DIR = '/var/lib/outpost';

interface InstallFlags {
  user: string;
  unitDir: string;
  dryRun?: boolean;
  memoryMax?: string;
  cpuQuota?: string;
  watchdogSec?: string;
}

/** agentctl service install|uninstall: the systemd unit for the agent on this host. */
export function registerServiceCommands(program: Command, ctx: CliContext): void {
  const service = program.command('service').description('install or remove the systemd unit for the agent');

  service
    .command('install')
    .description(
      `write ${UNIT_NAME}.service: runs outpost-agent as a dedicated user with -c/--config (default ${DEFAULT_CONFIG_PATH}), state in ${STATE_DIR}, hardening and resource limits`,
    )
    .option(
      '--user <name>',
      'user the agent runs as; created with useradd when missing and run as root',
      'outpost',
    )
    .option('--unit-dir <dir>', 'where the unit file goes', DEFAULT_UNIT_DIR)
    .option('--dry-run', 'print the unit and the steps instead of doing them')
    .option(
      '--memory-max <size>',
      'MemoryMax=, e.g. 256M or "none" (default: service.memory_max from the config)',
    )
    .option(
      '--cpu-quota <percent>',
      'CPUQuota=, e.g. 20% or "none" (default: service.cpu_quota from the config)',
    )
    .option(
      '--watchdog-sec <seconds>',
      'WatchdogSec= under Type=notify, e.g. 60 or "none" (default: service.watchdog from the config, 60s)',
    )
    .action(async (flags: InstallFlags) => {
      const configPath = resolve(ctx.configPath() ?? DEFAULT_CONFIG_PATH);
      // The defaults the service will see: systemd sets $STATE_DIRECTORY from StateDirectory=.
      const env = { ...process.env, STATE_DIRECTORY: STATE_DIR };
      const haveConfig = existsSync(configPath);
      const config: AgentConfig = haveConfig
        ? (await loadConfig({ path: configPath, env })).config
        : defaultConfig(env);
      const bin = siblingBin(process.argv[1] as string, 'outpost-agent');
      installUnit({
        unit: {
          name: UNIT_NAME,
          description: 'Outpost agent: host metrics, logs and plugins, shipped to the collector',
          reloadOnSighup: true,
          execStart: [
            process.execPath,
            // From a checkout the bin is TypeScript importing workspace sources.
            ...(bin.endsWith('.ts') ? ['--conditions=outpost-source'] : []),
            bin,
            '--config',
            configPath,
          ],
          user: flags.user,
          stateDirectory: 'outpost',
          configurationDirectory: 'outpost',
          environmentFile: '/etc/outpost/agent.env',
          readWritePaths: extraWritablePaths(config),
          memoryMax:
            flags.memoryMax === undefined ? config.service.memory_max : memoryMaxFlag(flags.memoryMax),
          cpuQuota: flags.cpuQuota === undefined ? config.service.cpu_quota : cpuQuotaFlag(flags.cpuQuota),
          timeoutStopSec: Math.ceil(config.shutdown.grace_period / 1000) + 20,
          watchdogSec:
            flags.watchdogSec === undefined
              ? config.service.watchdog === null
                ? null
                : Math.ceil(config.service.watchdog / 1000)
              : watchdogSecFlag(flags.watchdogSec),
        },
        unitDir: flags.unitDir,
        dryRun: flags.dryRun === true,
        print: (text) => process.stdout.write(text),
      });
      if (!haveConfig) {
        process.stderr.write(
          `note: ${configPath} does not exist yet; the agent will not start without it (agentctl config validate ${configPath} checks it)\n`,
        );
      }
    });

  service
    .command('uninstall')
    .description(
      `stop and disable ${UNIT_NAME} (as root on systemd), then remove its unit file; the queue stays`,
    )
    .option('--unit-dir <dir>', 'where the unit file is', DEFAULT_UNIT_DIR)
    .option('--dry-run', 'say what would be done')
    .action((flags: { unitDir: string; dryRun?: boolean }) => {
      uninstallUnit({
        name: UNIT_NAME,
        unitDir: flags.unitDir,
        dryRun: flags.dryRun === true,
        print: (text) => process.stdout.write(text),
      });
    });
}

/** ProtectSystem=strict leaves only the state directory writable: add a state_dir or socket elsewhere. */
function extraWritablePaths(config: AgentConfig): string[] {
  const paths = new Set<string>();
  if (config.agent.state_dir !== STATE_DIR) paths.add(config.agent.state_dir);
  const socketDir = dirname(config.control.socket);
  if (
    socketDir !== STATE_DIR &&
    !socketDir.startsWith(`${config.agent.state_dir}/`) &&
    socketDir !== config.agent.state_dir
  ) {
    paths.add(socketDir);
  }
  return [...paths];
}

function memoryMaxFlag(value: string): number | null {
  const bytes = parseMemoryMax(value);
  if (bytes === undefined) throw badServiceFlag('--memory-max', value, 'a size like 256M or 1GiB, or "none"');
  return bytes;
}

function watchdogSecFlag(value: string): number | null {
  const seconds = parseWatchdogSec(value);
  if (seconds === undefined)
    throw badServiceFlag('--watchdog-sec', value, 'seconds like 60 or 2min, or "none"');
  return seconds;
}

function cpuQuotaFlag(value: string): number | null {
  const percent = parseCpuQuota(value);
  if (percent === undefined)
    throw badServiceFlag('--cpu-quota', value, 'a share of one CPU like 20%, or "none"');
  return percent;
}
