import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { parseDuration } from '../../config/index.ts';
import { adminAction, type Done, parsePairs, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { table, when } from './table.ts';

interface CommandView {
  id: string;
  agentId: string;
  type: string;
  args: Record<string, unknown>;
  status: string;
  createdAt: number;
  finishedAt: number | null;
  result: { message?: string } | null;
}

const FINAL = new Set(['succeeded', 'failed', 'expired']);

const describe = (c: CommandView) =>
  `${c.id} ${c.type} on ${c.agentId}: ${c.status}${c.result?.message ? ` (${c.result.message})` : ''}\n`;

/** outpost-collector command send|list|show: remote commands for one agent. */
export function registerCommandCommands(program: Command, done: Done): void {
  const group = withAdminFlags(program.command('command').description('remote commands run by an agent'));

  group
    .command('send <agent-id> <type>')
    .description(
      'queue a command: reload, flush, stop, restart-plugin, stop-plugin, start-plugin (--plugin), upgrade (--to-version)',
    )
    .option('--plugin <name>', 'the plugin, for the *-plugin commands')
    .option('--to-version <version>', 'the version to upgrade to, for upgrade')
    .option('--arg <k=v>', 'another argument (repeatable)', (v: string, all: string[]) => [...all, v], [])
    .option('--ttl <duration>', 'how long it waits for the agent, e.g. 10m (default 1h)')
    .option('--wait [duration]', 'wait for the result (default 2m); exit 1 unless it succeeded')
    .action(
      adminAction<{
        plugin?: string;
        toVersion?: string;
        arg: string[];
        ttl?: string;
        wait?: string | boolean;
      }>(done, async ({ client, flags, print }, [agentId, type]) => {
        const args: Record<string, unknown> = parsePairs(flags.arg.join(','), '--arg');
        if (flags.plugin !== undefined) args.name = flags.plugin;
        if (flags.toVersion !== undefined) args.version = flags.toVersion;
        const body: Record<string, unknown> = { type, args };
        if (flags.ttl !== undefined) body.ttlMs = durationFlag('--ttl', flags.ttl);
        const waitMs =
          flags.wait === undefined
            ? 0
            : flags.wait === true
              ? 120_000
              : durationFlag('--wait', String(flags.wait));
        let command = await client.post<CommandView>(
          `/api/v1/agents/${encodeURIComponent(agentId!)}/commands`,
          body,
        );
        const deadline = Date.now() + waitMs;
        while (waitMs > 0 && !FINAL.has(command.status) && Date.now() < deadline) {
          await sleep(500);
          command = await client.get<CommandView>(`/api/v1/commands/${command.id}`);
        }
        print(command, describe);
        return waitMs > 0 && command.status !== 'succeeded' ? 1 : 0;
      }),
    );

  group
    .command('list <agent-id>')
    .description("an agent's commands, newest first")
    .action(
      adminAction(done, async ({ client, print }, [agentId]) => {
        const { commands } = await client.get<{ commands: CommandView[] }>(
          `/api/v1/agents/${encodeURIComponent(agentId!)}/commands`,
        );
        print(commands, (list) =>
          table(
            ['ID', 'TYPE', 'STATUS', 'CREATED', 'RESULT'],
            list.map((c) => [c.id, c.type, c.status, when(c.createdAt), c.result?.message ?? '']),
          ),
        );
      }),
    );

  group
    .command('show <id>')
    .description('one command and its result')
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        print(await client.get<CommandView>(`/api/v1/commands/${encodeURIComponent(id!)}`), describe);
      }),
    );
}

function durationFlag(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1) throw usage(`${flag}: "${value}" is not a duration such as 30s or 10m`);
  return ms;
}
