import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  badServiceFlag,
  DEFAULT_UNIT_DIR,
  DEFAULT_WATCHDOG_SEC,
  installUnit,
  isServiceError,
  parseCpuQuota,
  parseMemoryMax,
  parseWatchdogSec,
  siblingBin,
  uninstallUnit,
} from '@outpost/service/systemd';
import type { Command } from 'commander';

const UNIT_NAME = 'outpost-collector';
const DEFAULT_CONFIG = '/etc/outpost/collector.yaml';
const STATE_DIR = '/var/lib/outpost-collector';

interface InstallFlags {
  config: string;
  user: string;
  unitDir: string;
  dryRun?: boolean;
  memoryMax: string;
  cpuQuota: string;
  watchdogSec: string;
}

/**
 * outpost-collector service install|uninstall. `done` receives the exit code: 0, or 1 with the
 * reason on stderr.
 */
export function registerServiceCommands(program: Command, done: (exitCode: number) => void): void {
  const service = program
    .command('service')
    .description('install or remove the systemd unit for the collector');
  const run = (action: () => void) => {
    try {
      action();
      done(0);
    } catch (err) {
      if (!isServiceError(err)) throw err;
      process.stderr.write(`outpost-collector: ${err.message}\n`);
      done(1);
    }
  };

  service
    .command('install')
    .description(
      `write ${UNIT_NAME}.service: runs the collector as a dedicated user, data in ${STATE_DIR}, hardened`,
    )
    .option('--config <file>', 'the config file the service reads', DEFAULT_CONFIG)
    .option(
      '--user <name>',
      'user the collector runs as; created with useradd when missing and run as root',
      'outpost',
    )
    .option('--unit-dir <dir>', 'where the unit file goes', DEFAULT_UNIT_DIR)
    .option('--dry-run', 'print the unit and the steps instead of doing them')
    .option('--memory-max <size>', 'MemoryMax=, e.g. 1G, or "none"', '1G')
    .option('--cpu-quota <percent>', 'CPUQuota=, e.g. 200% (two CPUs), or "none"', 'none')
    .option(
      '--watchdog-sec <seconds>',
      'WatchdogSec= under Type=notify: restart when the event loop is stuck this long, or "none"',
      String(DEFAULT_WATCHDOG_SEC),
    )
    .action((flags: InstallFlags) =>
      run(() => {
        const config = resolve(flags.config);
        const memoryMax = parseMemoryMax(flags.memoryMax);
        if (memoryMax === undefined) {
          throw badServiceFlag('--memory-max', flags.memoryMax, 'a size like 1G or 512MiB, or "none"');
        }
        const cpuQuota = parseCpuQuota(flags.cpuQuota);
        if (cpuQuota === undefined) {
          throw badServiceFlag('--cpu-quota', flags.cpuQuota, 'a share of one CPU like 200%, or "none"');
        }
        const watchdogSec = parseWatchdogSec(flags.watchdogSec);
        if (watchdogSec === undefined) {
          throw badServiceFlag('--watchdog-sec', flags.watchdogSec, 'seconds like 60 or 2min, or "none"');
        }
        const bin = siblingBin(process.argv[1] as string, 'outpost-collector');
        installUnit({
          unit: {
            name: UNIT_NAME,
            description: 'Outpost collector: registers agents, stores and serves their data',
            reloadOnSighup: false,
            execStart: [
              process.execPath,
              ...(bin.endsWith('.ts') ? ['--conditions=outpost-source'] : []),
              bin,
              'serve',
              '--config',
              config,
              '--data-dir',
              STATE_DIR,
            ],
            user: flags.user,
            stateDirectory: 'outpost-collector',
            configurationDirectory: 'outpost',
            environmentFile: '/etc/outpost/collector.env',
            memoryMax,
            cpuQuota,
            // Above the collector's 10 s grace for in-flight requests.
            timeoutStopSec: 30,
            watchdogSec,
          },
          unitDir: flags.unitDir,
          dryRun: flags.dryRun === true,
          print: (text) => process.stdout.write(text),
        });
        if (!existsSync(config)) {
          process.stderr.write(`note: ${config} does not exist yet; create it before starting the service\n`);
        }
      }),
    );

  service
    .command('uninstall')
    .description(
      `stop and disable ${UNIT_NAME} (as root on systemd), then remove its unit file; the data stays`,
    )
    .option('--unit-dir <dir>', 'where the unit file is', DEFAULT_UNIT_DIR)
    .option('--dry-run', 'say what would be done')
    .action((flags: { unitDir: string; dryRun?: boolean }) =>
      run(() => {
        uninstallUnit({
          name: UNIT_NAME,
          unitDir: flags.unitDir,
          dryRun: flags.dryRun === true,
          print: (text) => process.stdout.write(text),
        });
      }),
    );
}
