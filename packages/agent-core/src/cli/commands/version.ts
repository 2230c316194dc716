import type { Command } from 'commander';
import { AGENT_VERSION } from '../../version.ts';

/** agentctl version: what runs here, for bug reports and fleet inventories. */
export function registerVersionCommands(program: Command): void {
  program
    .command('version')
    .description('agent version, Node.js version and platform')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const info = {
        agent: AGENT_VERSION,
        node: process.versions.node,
        platform: process.platform,
        arch: process.arch,
      };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(info, null, 2)}\n`
          : `outpost-agent ${info.agent}\nnode ${info.node}\nplatform ${info.platform}-${info.arch}\n`,
      );
    });
}
