#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isOutpostError } from '../errors.ts';
import { AGENT_VERSION } from '../version.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDaemonCommands } from './commands/daemon.ts';
import { registerEmitCommands } from './commands/emit.ts';
import { registerPluginCommands } from './commands/plugin.ts';
import { registerQueueCommands } from './commands/queue.ts';
import { registerServiceCommands } from './commands/service.ts';
import { registerTapCommands } from './commands/tap.ts';
import { registerTopCommands } from './commands/top.ts';
import { registerVersionCommands } from './commands/version.ts';
import { createCliContext } from './context.ts';

/** Exit codes: 0 ok, 1 the operation failed (agent down, invalid config), 2 usage errors. */
const program = new Command('agentctl')
  .description('Talk to the Outpost agent on this host')
  .version(AGENT_VERSION)
  .option('-s, --socket <path>', "the agent's control socket (default: control.socket from the config)")
  .option(
    '-c, --config <file>',
    'config file used to find the socket (default: /etc/outpost/agent.yaml if it exists)',
  )
  .showHelpAfterError()
  // Throw instead of exiting so commander's own parse errors exit 2 like ours (subcommands inherit it).
  .exitOverride();

// Each command group lives in its own file under commands/.
const ctx = createCliContext(program);
registerDaemonCommands(program, ctx);
registerConfigCommands(program, ctx);
registerQueueCommands(program, ctx);
registerEmitCommands(program, ctx);
registerTapCommands(program, ctx);
registerPluginCommands(program, ctx);
registerTopCommands(program, ctx);
registerServiceCommands(program, ctx);
registerVersionCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed the message (or the help/version) already.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  process.stderr.write(
    `agentctl: ${err instanceof Error && isOutpostError(err) ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
}
