import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { ConfigVersionView as ConfigVersionBase } from '../../fleet/index.ts';
import { adminAction, type Done, targetOf, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { labels, table, targetText, when } from './table.ts';

/** `config show` adds the document itself. */
type ConfigVersionView = ConfigVersionBase & { yaml?: string | null };

interface TargetFlags {
  agent?: string;
  labels?: string;
}

const describe = (v: ConfigVersionView) =>
  `config version ${v.version} for ${targetText(v.target)}${v.removed ? ' (removed)' : ''}${
    v.rollbackOf ? ` (rollback to ${v.rollbackOf})` : ''
  }\n`;

const withTarget = (command: Command) =>
  command
    .option('--agent <id>', 'one agent')
    .option('--labels <k=v,...>', 'every agent whose labels match ("" for every agent)');

/** outpost-collector config push|history|rollback|retry|show: versioned agent configs. */
export function registerConfigCommands(program: Command, done: Done): void {
  const group = withAdminFlags(
    program
      .command('config')
      .description('agent configs pushed from the collector (laid over each host file)'),
  );

  withTarget(group.command('push [file]'))
    .description('push an agent YAML file as a new config version; "-" reads stdin; --remove withdraws it')
    .option('--comment <text>', 'why, for the history', '')
    .option('--remove', 'withdraw the remote config of the target (agents return to their own file)')
    .action(
      adminAction<TargetFlags & { comment: string; remove?: boolean }>(
        done,
        async ({ client, flags, print }, [file]) => {
          if (Boolean(flags.remove) === (file !== undefined))
            throw usage('give a YAML file or --remove, not both');
          let yaml: string | null = null;
          if (file !== undefined) {
            try {
              yaml = file === '-' ? await readStdin() : await readFile(file, 'utf8');
            } catch (err) {
              throw usage(`cannot read ${file}: ${(err as Error).message}`);
            }
          }
          const version = await client.post<ConfigVersionView>('/api/v1/configs', {
            target: targetOf(flags),
            yaml,
            comment: flags.comment,
          });
          print(version, describe);
        },
      ),
    );

  withTarget(group.command('history'))
    .description('the config versions of a target, newest first')
    .option('--limit <n>', 'how many', '20')
    .action(
      adminAction<TargetFlags & { limit: string }>(done, async ({ client, flags, print }) => {
        const target = targetOf(flags);
        const query =
          'agent' in target
            ? `agent=${encodeURIComponent(target.agent)}`
            : `labels=${encodeURIComponent(Object.keys(target.labels).length === 0 ? '' : labels(target.labels))}`;
        const { versions } = await client.get<{ versions: ConfigVersionView[] }>(
          `/api/v1/configs/history?${query}&limit=${encodeURIComponent(flags.limit)}`,
        );
        print(versions, (list) =>
          table(
            ['VERSION', 'CREATED', 'SHA256', 'NOTE'],
            list.map((v) => [
              v.version,
              when(v.createdAt),
              v.removed ? '(removed)' : (v.sha256?.slice(7, 19) ?? '-'),
              [v.rollbackOf ? `rollback to ${v.rollbackOf}` : '', v.comment].filter(Boolean).join(': '),
            ]),
          ),
        );
      }),
    );

  withTarget(group.command('rollback'))
    .description('push an earlier version of a target again (default: the one before the current)')
    .option('--to <version>', 'the version to go back to')
    .option('--comment <text>', 'why, for the history', '')
    .action(
      adminAction<TargetFlags & { to?: string; comment: string }>(done, async ({ client, flags, print }) => {
        if (flags.to !== undefined && !/^[1-9]\d*$/.test(flags.to))
          throw usage(`--to: "${flags.to}" is not a version number`);
        const version = await client.post<ConfigVersionView>('/api/v1/configs/rollback', {
          target: targetOf(flags),
          ...(flags.to !== undefined && { version: Number(flags.to) }),
          comment: flags.comment,
        });
        print(version, describe);
      }),
    );

  withTarget(group.command('retry'))
    .description(
      "push the target's current config again as a new version, so agents that refused it try again",
    )
    .option('--comment <text>', 'why, for the history', '')
    .action(
      adminAction<TargetFlags & { comment: string }>(done, async ({ client, flags, print }) => {
        const version = await client.post<ConfigVersionView>('/api/v1/configs/retry', {
          target: targetOf(flags),
          comment: flags.comment,
        });
        print(version, describe);
      }),
    );

  group
    .command('show <version>')
    .description('one config version and its YAML')
    .action(
      adminAction(done, async ({ client, print }, [version]) => {
        const config = await client.get<ConfigVersionView>(`/api/v1/configs/${encodeURIComponent(version!)}`);
        print(config, (v) => `# ${describe(v).trim()}\n${v.yaml ?? ''}`);
      }),
    );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
