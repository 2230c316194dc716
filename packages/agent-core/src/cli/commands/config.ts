import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/index.ts';
import type { CliContext } from '../context.ts';
import { redactSecrets } from '../redact.ts';

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  const config = program.command('config').description('work with config files');
  config
    .command('validate')
    .description('check a config file without starting anything')
    .argument('<file>', 'the YAML config file')
    .action(async (file: string) => {
      const loaded = await loadConfig({ path: file, env: process.env });
      process.stdout.write(`${file}: valid (${loaded.version})\n`);
    });

  config
    .command('show')
    .description(
      'print the effective config: the file with every default filled in and secrets redacted ' +
        '(durations in ms, sizes in bytes)',
    )
    .option('-c, --config <file>', 'the config file (default: agentctl -c, else /etc/outpost/agent.yaml)')
    .option('--json', 'print JSON instead of YAML')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const loaded = await loadConfig({ path: opts.config ?? ctx.configPath(), env: process.env });
      const shown = redactSecrets(loaded.config);
      const source = loaded.path ?? '(built-in defaults)';
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ path: loaded.path, version: loaded.version, config: shown }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(`# effective config of ${source} (${loaded.version})\n`);
      process.stdout.write(`# durations are in ms, sizes in bytes; secrets are redacted\n`);
      process.stdout.write(stringify(shown, { lineWidth: 0 }));
    });
}
