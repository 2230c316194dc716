import type { Command } from 'commander';
import { parseDuration } from '../../config/index.ts';
import type { TokenView } from '../../fleet/index.ts';
import { adminAction, type Done, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { table, when } from './table.ts';

/** outpost-collector token create|list|revoke: enrollment tokens made by an admin. */
export function registerTokenCommands(program: Command, done: Done): void {
  const group = withAdminFlags(program.command('token').description('enrollment tokens for new agents'));

  group
    .command('create')
    .description('create an enrollment token (shown once)')
    .option('--description <text>', 'what the token is for', '')
    .option('--ttl <duration>', 'lifetime, e.g. 24h or 7d (default: never expires)')
    .option('--max-uses <n>', 'how many agents may register with it (default: unlimited)')
    .action(
      adminAction<{ description: string; ttl?: string; maxUses?: string }>(
        done,
        async ({ client, flags, print }) => {
          const body: Record<string, unknown> = { description: flags.description };
          if (flags.ttl !== undefined) {
            const ms = parseDuration(flags.ttl);
            if (ms === undefined || ms < 1)
              throw usage(`--ttl: "${flags.ttl}" is not a duration such as 24h or 7d`);
            body.ttlMs = ms;
          }
          if (flags.maxUses !== undefined) {
            if (!/^[1-9]\d*$/.test(flags.maxUses))
              throw usage(`--max-uses: "${flags.maxUses}" is not a positive integer`);
            body.maxUses = Number(flags.maxUses);
          }
          const token = await client.post<TokenView & { token: string }>('/api/v1/enrollment-tokens', body);
          print(
            token,
            (t) =>
              `${t.token}\n\ntoken ${t.id} created; expires ${t.expiresAt ? when(t.expiresAt) : 'never'}, ${
                t.maxUses ?? 'unlimited'
              } uses. It is not shown again: give it to agents as collector.enrollment_token.\n`,
          );
        },
      ),
    );

  group
    .command('list')
    .description('list enrollment tokens (never their secrets)')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { tokens } = await client.get<{ tokens: TokenView[] }>('/api/v1/enrollment-tokens');
        print(tokens, (list) =>
          table(
            ['ID', 'STATE', 'USES', 'EXPIRES', 'DESCRIPTION'],
            list.map((t) => [
              t.id,
              t.state,
              `${t.uses}/${t.maxUses ?? '∞'}`,
              when(t.expiresAt),
              t.description,
            ]),
          ),
        );
      }),
    );

  group
    .command('revoke <id>')
    .description('revoke an enrollment token; agents already registered keep working')
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        const answer = await client.send<{ revoked: boolean }>(
          'DELETE',
          `/api/v1/enrollment-tokens/${encodeURIComponent(id!)}`,
        );
        print(answer, (a) => (a.revoked ? `token ${id} revoked\n` : `token ${id} was already revoked\n`));
      }),
    );
}
