/** The outpost-agent command, loaded by outpost-agent.ts once the process runs with the daemon's flags. */
import { Command, CommanderError } from 'commander';
import { isOutpostError } from '../errors.ts';
import { Agent, HeapTrim } from '../lifecycle/index.ts';
import { type LogFormat, logFormatOption, logLevelOption } from '../log/index.ts';
import { ServiceNotifier } from '../service/index.ts';
import { AGENT_VERSION } from '../version.ts';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
type Flags = { config?: string; logLevel?: (typeof LOG_LEVELS)[number]; logFormat?: LogFormat };

const program = new Command('outpost-agent')
  .description(
    'Outpost host agent: collects system and process metrics, queues them durably, ships them to the collector',
  )
  .version(AGENT_VERSION)
  .option(
    '-c, --config <file>',
    'config file (default: /etc/outpost/agent.yaml if it exists, else built-in defaults)',
  )
  .addOption(logLevelOption(LOG_LEVELS))
  .addOption(logFormatOption())
  .action(async (opts: Flags) => {
    // Before the start, so the watchdog covers it; the logger comes with the config, later.
    const notifier = new ServiceNotifier({
      logger: { warn: (_details, message) => process.stderr.write(`outpost-agent: warning: ${message}\n`) },
    });
    const exit = (code: number) => void notifier.close().then(() => process.exit(code));
    let agent: Agent;
    try {
      agent = await Agent.start({
        configPath: opts.config,
        logLevel: opts.logLevel,
        logFormat: opts.logFormat,
        notifier,
        // A fleet command (stop, upgrade) closed the agent; upgrade exits non-zero for a restart.
        onExit: exit,
      });
    } catch (err) {
      process.stderr.write(`outpost-agent: ${err instanceof Error ? err.message : String(err)}\n`);
      return exit(isOutpostError(err) && err.code.startsWith('E_CONFIG') ? 2 : 1);
    }
    const heapTrim = new HeapTrim();
    heapTrim.start();
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(
          `outpost-agent: ${signal} again, exiting now; unsent records stay in the queue\n`,
        );
        process.exit(1);
      }
      stopping = true;
      void heapTrim.close();
      agent.close().then(
        () => exit(0),
        (err: unknown) => {
          process.stderr.write(
            `outpost-agent: shutdown failed: ${err instanceof Error ? err.stack : String(err)}\n`,
          );
          exit(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => void agent.reload().catch(() => undefined));
  });

// Throw instead of exiting so commander's own parse errors exit 2, like an invalid config.
program.exitOverride();
try {
  await program.parseAsync();
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exit(err.exitCode === 0 ? 0 : 2);
}
