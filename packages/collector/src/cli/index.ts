import { ServiceNotifier } from '@outpost/service/notify';
import { Command, CommanderError } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { createCollector } from '../collector.ts';
import { type CollectorConfig, LOG_LEVELS, loadCollectorConfig } from '../config/index.ts';
import { isOutpostError } from '../errors.ts';
import { registerServiceCommands } from '../service/index.ts';
import { registerFleetCommands } from './commands/index.ts';
import { createCollectorLogger, logFormatOption, logLevelOption } from './logger.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

interface ServeFlags {
  config?: string;
  listen?: string;
  dataDir?: string;
  logLevel?: string;
  logFormat?: string;
}

/**
 * Runs `outpost-collector [serve] [flags]` and resolves with the process exit code: 0 after a
 * signal-driven shutdown, 1 when starting fails, 2 for a bad config or bad usage.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('outpost-collector')
    .description(
      'Outpost collector: registers agents, stores and forwards their data, steers the fleet, raises alerts',
    )
    .version(packageJson.version)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('serve', { isDefault: true })
    .description('run the collector (the default command)')
    .option('--config <file>', 'YAML config file')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:7410)')
    .option('--data-dir <dir>', 'where the database and token files live')
    .addOption(logLevelOption(LOG_LEVELS))
    .addOption(logFormatOption())
    .action(async (flags: ServeFlags) => {
      exitCode = await serve(flags);
    });

  registerServiceCommands(program, (code) => {
    exitCode = code;
  });
  registerFleetCommands(program, (code) => {
    exitCode = code;
  });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw err;
  }
  return exitCode;
}

async function serve(flags: ServeFlags): Promise<number> {
  let config: CollectorConfig;
  try {
    config = await loadCollectorConfig({
      file: flags.config,
      flags: {
        listen: flags.listen,
        dataDir: flags.dataDir,
        logLevel: flags.logLevel,
        logFormat: flags.logFormat,
      },
    });
  } catch (err) {
    failLine(err);
    return isOutpostError(err, 'E_CONFIG_INVALID') ? EXIT_USAGE : EXIT_FAILURE;
  }

  const logger = createCollectorLogger(config.log);
  const signalled = waitForSignal();
  // systemd (Type=notify): ready once listening, stopping on a signal, and the watchdog meanwhile.
  const notifier = new ServiceNotifier({ logger });
  let collector: Awaited<ReturnType<typeof createCollector>>;
  try {
    collector = await createCollector({ config, logger });
  } catch (err) {
    failLine(err);
    await notifier.close();
    return EXIT_FAILURE;
  }
  notifier.ready(`listening on ${collector.url}`);

  const signal = await signalled;
  logger.info({ signal }, 'shutting down');
  notifier.stopping();
  const forceExit = () => {
    logger.warn('second signal during shutdown: exiting without waiting');
    process.exit(EXIT_FAILURE);
  };
  process.once('SIGTERM', forceExit);
  process.once('SIGINT', forceExit);
  try {
    await collector.close();
  } catch (err) {
    failLine(err);
    return EXIT_FAILURE;
  } finally {
    await notifier.close();
  }
  return EXIT_OK;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Startup failures are one plain line on stderr; the JSON log on stdout is for the running service. */
function failLine(err: unknown): void {
  const message = isOutpostError(err)
    ? err.message
    : err instanceof Error
      ? (err.stack ?? err.message)
      : String(err);
  process.stderr.write(`outpost-collector: ${message}\n`);
}
