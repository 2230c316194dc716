import type { Command } from 'commander';
import type { Done } from './action.ts';
import { registerAgentCommands } from './agents.ts';
import { registerAlertCommands } from './alert.ts';
import { registerCommandCommands } from './commands.ts';
import { registerConfigCommands } from './configs.ts';
import { registerPluginCommands } from './plugins.ts';
import { registerTokenCommands } from './tokens.ts';

/** The admin subcommands (token, agents, config, command, plugin, alert); they talk to a running collector. */
export function registerFleetCommands(program: Command, done: Done): void {
  registerTokenCommands(program, done);
  registerAgentCommands(program, done);
  registerConfigCommands(program, done);
  registerCommandCommands(program, done);
  registerPluginCommands(program, done);
  registerAlertCommands(program, done);
}
