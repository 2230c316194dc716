import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adminAction, type Done, targetOf, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { table, targetText, when } from './table.ts';

interface PackageView {
  name: string;
  version: string;
  sha256: string;
  size: number;
  uploadedAt: number;
  capabilities: string[];
}

interface VersionsView {
  name: string;
  versions: Array<{
    version: string;
    inStore: boolean;
    agents: Array<{ agentId: string; hostname: string; state: string | null }>;
  }>;
}

interface AssignmentView {
  target: { agent: string } | { labels: Record<string, string> };
  name: string;
  version: string | null;
  config: Record<string, unknown> | null;
  enabled: boolean | null;
  updatedAt: number;
}

/** "name@version"; a scoped name (@scope/name@1.0.0) keeps its leading "@". */
function parsePackageRef(ref: string): { name: string; version: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1)
    throw usage(`"${ref}" is not <name>@<version> (e.g. my-plugin@1.2.0)`);
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

/** outpost-collector plugin upload|list|remove|versions|assign|unassign|assignments: the plugin store. */
export function registerPluginCommands(program: Command, done: Done): void {
  const group = withAdminFlags(
    program.command('plugin').description('the plugin store and plugin roll-outs'),
  );

  group
    .command('upload <file>')
    .description(
      'upload a packed plugin (.tgz from agentctl plugin pack); the manifest and bundle are checked',
    )
    .option('--sha256 <hex>', "refuse the upload unless the bundle's sha256 is this")
    .action(
      adminAction<{ sha256?: string }>(done, async ({ client, flags, print }, [file]) => {
        let data: Buffer;
        try {
          data = await readFile(file!);
        } catch (err) {
          throw usage(`cannot read ${file}: ${(err as Error).message}`);
        }
        const pkg = await client.upload<PackageView>('/api/v1/plugin/store', data, {
          'content-type': 'application/gzip',
          ...(flags.sha256 !== undefined && { 'x-outpost-sha256': flags.sha256 }),
        });
        print(pkg, (p) => `${p.name}@${p.version} in the store (bundle sha256 ${p.sha256})\n`);
      }),
    );

  group
    .command('list')
    .description('every plugin version in the store')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { plugins } = await client.get<{ plugins: PackageView[] }>('/api/v1/plugin/store');
        print(plugins, (list) =>
          table(
            ['NAME', 'VERSION', 'SIZE', 'UPLOADED', 'SHA256', 'CAPABILITIES'],
            list.map((p) => [
              p.name,
              p.version,
              p.size,
              when(p.uploadedAt),
              p.sha256.slice(0, 12),
              p.capabilities.join(','),
            ]),
          ),
        );
      }),
    );

  group
    .command('remove <name@version>')
    .description('delete a version from the store; refused while an assignment names it')
    .action(
      adminAction(done, async ({ client, print }, [ref]) => {
        const { name, version } = parsePackageRef(ref!);
        const answer = await client.send<{ removed: boolean }>(
          'DELETE',
          `/api/v1/plugin/store/${encodeURIComponent(name)}/${encodeURIComponent(version)}`,
        );
        print(answer, () => `${name}@${version} removed from the store\n`);
      }),
    );

  group
    .command('versions <name>')
    .description('the versions of a plugin and which agents run which')
    .action(
      adminAction(done, async ({ client, print }, [name]) => {
        const view = await client.get<VersionsView>(
          `/api/v1/plugin/version?name=${encodeURIComponent(name!)}`,
        );
        print(view, (v) =>
          table(
            ['VERSION', 'IN STORE', 'AGENTS'],
            v.versions.map((x) => [
              x.version,
              x.inStore ? 'yes' : 'no',
              x.agents.map((a) => `${a.hostname}(${a.state ?? '?'})`).join(', ') || '-',
            ]),
          ),
        );
      }),
    );

  group
    .command('assign <name> [version]')
    .description('roll a plugin version out to an agent or a label selector; --remove takes it off them')
    .option('--agent <id>', 'one agent')
    .option('--labels <k=v,...>', 'every agent whose labels match ("" for every agent)')
    .option('--config <json>', "the plugin's config, checked against its manifest")
    .option('--enable', 'make sure it runs')
    .option('--disable', 'install it but keep it stopped')
    .option('--remove', 'the agents remove the plugin')
    .action(
      adminAction<{
        agent?: string;
        labels?: string;
        config?: string;
        enable?: boolean;
        disable?: boolean;
        remove?: boolean;
      }>(done, async ({ client, flags, print }, [name, version]) => {
        if (Boolean(flags.remove) === (version !== undefined))
          throw usage('give a version or --remove, not both');
        if (flags.enable && flags.disable) throw usage('--enable and --disable contradict each other');
        let config: unknown;
        if (flags.config !== undefined) {
          try {
            config = JSON.parse(flags.config);
          } catch (err) {
            throw usage(`--config: not JSON (${(err as Error).message})`);
          }
        }
        const body = {
          target: targetOf(flags),
          name,
          version: version ?? null,
          ...(config !== undefined && { config }),
          ...(flags.enable && { enabled: true }),
          ...(flags.disable && { enabled: false }),
        };
        const assignment = await client.send<AssignmentView>('PUT', '/api/v1/plugin/config', body);
        print(assignment, (a) =>
          a.version === null
            ? `${a.name} is to be removed from ${targetText(a.target)}\n`
            : `${a.name}@${a.version} assigned to ${targetText(a.target)}\n`,
        );
      }),
    );

  group
    .command('unassign <name>')
    .description('stop managing a plugin for a target; its agents keep what they have')
    .option('--agent <id>', 'one agent')
    .option('--labels <k=v,...>', 'the label selector it was assigned to ("" for every agent)')
    .action(
      adminAction<{ agent?: string; labels?: string }>(done, async ({ client, flags, print }, [name]) => {
        const answer = await client.send<{ removed: boolean }>('DELETE', '/api/v1/plugin/config', {
          target: targetOf(flags),
          name,
        });
        print(answer, () => `${name} is no longer assigned there\n`);
      }),
    );

  group
    .command('assignments')
    .description('what each agent or label selector is to run')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { assignments } = await client.get<{ assignments: AssignmentView[] }>('/api/v1/plugin/config');
        print(assignments, (list) =>
          table(
            ['PLUGIN', 'VERSION', 'TARGET', 'ENABLED', 'CONFIG'],
            list.map((a) => [
              a.name,
              a.version ?? '(remove)',
              targetText(a.target),
              a.enabled === null ? '-' : String(a.enabled),
              a.config === null ? '-' : JSON.stringify(a.config),
            ]),
          ),
        );
      }),
    );
}
