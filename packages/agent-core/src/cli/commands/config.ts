import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import type { CliContext } from '../context.ts';

export function registerConfigCommands(program: Command, _ctx: CliContext): void {
  const config = program.command('config').description('work with config files');
  config
    .command('validate')
    .description('check a config file without starting anything')
    .argument('<file>', 'the YAML config file')
    .action(async (file: string) => {
      const loaded = await loadConfig({ path: file, env: process.env });
      process.stdout.write(`${file}: valid (${loaded.version})\n`);
    });
}
