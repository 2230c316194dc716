import type { Command } from 'commander';
import type { AgentStatus, ReloadResult } from '../../lifecycle/index.ts';
import type { CliContext } from '../context.ts';
import { renderStatus } from '../status-screen.ts';

/** status, reload, flush: the commands that talk to the running daemon as a whole. */
export function registerDaemonCommands(program: Command, ctx: CliContext): void {
  program
    .command('status')
    .description('identity, collector reachability, last send, queue and inputs of the running agent')
    .option('--json', 'print the full status as JSON')
    .action(async (opts: { json?: boolean }) => {
      const status = await ctx.withAgent((client) => client.get<AgentStatus>('/v1/status'));
      process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
    });

  program
    .command('reload')
    .description('re-read the config file and apply it (an invalid file keeps the running config)')
    .action(async () => {
      const result = await ctx.withAgent((client) => client.post<ReloadResult>('/v1/reload'));
      if (!result.applied) {
        process.stderr.write(`reload refused, the running config stays:\n${result.error?.message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`reloaded: config ${result.configVersion}\n`);
      if (result.needsRestart.length > 0) {
        process.stdout.write(`these changes apply after a restart: ${result.needsRestart.join(', ')}\n`);
      }
    });

  program
    .command('flush')
    .description('send everything queued now')
    .action(async () => {
      const result = await ctx.withAgent((client) =>
        client.post<{ sent: number; remaining: number }>('/v1/flush'),
      );
      process.stdout.write(`sent ${result.sent} records, ${result.remaining} still queued\n`);
      if (result.remaining > 0) process.exitCode = 1;
    });
}
