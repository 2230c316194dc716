#!/usr/bin/env node
import { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { ControlClient } from '../control/index.ts';
import { isOutpostError } from '../errors.ts';
import type { AgentStatus, ReloadResult } from '../lifecycle/index.ts';
import { AGENT_VERSION } from '../version.ts';
import { renderStatus } from './status-screen.ts';

/** Exit codes: 0 ok, 1 the operation failed (agent down, invalid config), 2 usage errors (commander). */
const program = new Command('agentctl')
  .description('Talk to the Outpost agent on this host')
  .version(AGENT_VERSION)
  .option('-s, --socket <path>', "the agent's control socket (default: control.socket from the config)")
  .option(
    '-c, --config <file>',
    'config file used to find the socket (default: /etc/outpost/agent.yaml if it exists)',
  )
  .showHelpAfterError();

async function withAgent<T>(use: (client: ControlClient) => Promise<T>): Promise<T> {
  const opts = program.opts<{ socket?: string; config?: string }>();
  const socket =
    opts.socket ?? (await loadConfig({ path: opts.config, env: process.env })).config.control.socket;
  const client = new ControlClient(socket);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

program
  .command('status')
  .description('identity, collector reachability, last send, queue and inputs of the running agent')
  .option('--json', 'print the full status as JSON')
  .action(async (opts: { json?: boolean }) => {
    const status = await withAgent((client) => client.get<AgentStatus>('/v1/status'));
    process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  });

program
  .command('reload')
  .description('re-read the config file and apply it (an invalid file keeps the running config)')
  .action(async () => {
    const result = await withAgent((client) => client.post<ReloadResult>('/v1/reload'));
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
    const result = await withAgent((client) => client.post<{ sent: number; remaining: number }>('/v1/flush'));
    process.stdout.write(`sent ${result.sent} records, ${result.remaining} still queued\n`);
    if (result.remaining > 0) process.exitCode = 1;
  });

const config = program.command('config').description('work with config files');
config
  .command('validate')
  .description('check a config file without starting anything')
  .argument('<file>', 'the YAML config file')
  .action(async (file: string) => {
    const loaded = await loadConfig({ path: file, env: process.env });
    process.stdout.write(`${file}: valid (${loaded.version})\n`);
  });

try {
  await program.parseAsync();
} catch (err) {
  process.stderr.write(
    `agentctl: ${err instanceof Error && isOutpostError(err) ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
}
