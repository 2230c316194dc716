import type { Command } from 'commander';
import { adminAction, type Done, parsePairs, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { ago, labels, table, when } from './table.ts';

interface AgentView {
  id: string;
  hostname: string;
  labels: Record<string, string>;
  adminLabels: Record<string, string> | null;
  version: string;
  registeredAt: number;
  revokedAt: number | null;
  lastHeartbeatAt: number | null;
  remoteAddress: string | null;
  state: string;
  reasons: string[];
  heartbeat: {
    uptimeSec: number | null;
    configVersion: string | null;
    remoteConfig: { version: string | null; error: { version: string; message: string } | null } | null;
    queue: { depth?: number; bytes?: number; dropped?: number; deadLetter?: number } | null;
    cpuPercent: number | null;
    rssBytes: number | null;
    plugins: Array<{ name?: string; version?: string; state?: string }>;
  } | null;
}

/** outpost-collector agents list|show|revoke|label. */
export function registerAgentCommands(program: Command, done: Done): void {
  const group = withAdminFlags(program.command('agents').description('agents registered with the collector'));

  group
    .command('list')
    .description('every agent with its state (online, degraded, offline, revoked)')
    .option('--state <state>', 'only agents in this state')
    .action(
      adminAction<{ state?: string }>(done, async ({ client, flags, print }) => {
        const { agents } = await client.get<{ agents: AgentView[] }>('/api/v1/agents');
        const shown = flags.state ? agents.filter((a) => a.state === flags.state) : agents;
        print(shown, (list) =>
          table(
            ['ID', 'HOSTNAME', 'STATE', 'VERSION', 'LAST HEARTBEAT', 'LABELS'],
            list.map((a) => [a.id, a.hostname, a.state, a.version, ago(a.lastHeartbeatAt), labels(a.labels)]),
          ),
        );
      }),
    );

  group
    .command('show <id>')
    .description("one agent's identity, health and last heartbeat")
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        const agent = await client.get<AgentView>(`/api/v1/agents/${encodeURIComponent(id!)}`);
        print(agent, renderAgent);
      }),
    );

  group
    .command('revoke <id>')
    .description(
      'revoke an agent: its secret stops working at once and it cannot register again under its id',
    )
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        const answer = await client.post<{ revoked: boolean }>(
          `/api/v1/agents/${encodeURIComponent(id!)}/revoke`,
        );
        print(answer, (a) => (a.revoked ? `agent ${id} revoked\n` : `agent ${id} was already revoked\n`));
      }),
    );

  group
    .command('label <id> [pairs...]')
    .description(
      'set the admin labels of an agent (key=value ...), merged over its own; --clear removes them',
    )
    .option('--clear', 'remove the admin labels')
    .action(
      adminAction<{ clear?: boolean }>(done, async ({ client, flags, print }, [id, ...rest]) => {
        const pairs = rest.flatMap((arg) => (arg ?? '').split(',')).filter((p) => p !== '');
        if (Boolean(flags.clear) === pairs.length > 0)
          throw usage('give key=value pairs or --clear, not both');
        const body = { labels: flags.clear ? null : parsePairs(pairs.join(','), 'labels') };
        const agent = await client.send<AgentView>(
          'PUT',
          `/api/v1/agents/${encodeURIComponent(id!)}/labels`,
          body,
        );
        print(agent, (a) => `agent ${a.id} labels: ${labels(a.labels)}\n`);
      }),
    );
}

function renderAgent(a: AgentView): string {
  const hb = a.heartbeat;
  const lines = [
    `id:              ${a.id}`,
    `hostname:        ${a.hostname}`,
    `state:           ${a.state}${a.reasons.length ? ` (${a.reasons.join('; ')})` : ''}`,
    `version:         ${a.version}`,
    `labels:          ${labels(a.labels)}${a.adminLabels ? ` (admin: ${labels(a.adminLabels)})` : ''}`,
    `registered:      ${when(a.registeredAt)}${a.revokedAt ? `, revoked ${when(a.revokedAt)}` : ''}`,
    `last heartbeat:  ${ago(a.lastHeartbeatAt)}${a.remoteAddress ? ` from ${a.remoteAddress}` : ''}`,
  ];
  if (hb) {
    const remote = hb.remoteConfig;
    lines.push(
      `uptime:          ${hb.uptimeSec === null ? '-' : `${Math.round(hb.uptimeSec)}s`}`,
      `config:          ${hb.configVersion ?? '-'}${remote?.version ? ` (remote version ${remote.version})` : ''}`,
      ...(remote?.error ? [`config refused:  version ${remote.error.version}: ${remote.error.message}`] : []),
      `queue:           ${hb.queue?.depth ?? '-'} records, ${hb.queue?.bytes ?? '-'} bytes, ${hb.queue?.dropped ?? 0} dropped, ${hb.queue?.deadLetter ?? 0} dead-lettered`,
      `cpu / rss:       ${hb.cpuPercent ?? '-'}% / ${hb.rssBytes === null ? '-' : `${(hb.rssBytes / 1024 / 1024).toFixed(1)} MiB`}`,
      `plugins:         ${hb.plugins.length ? hb.plugins.map((p) => `${p.name}@${p.version ?? '?'} ${p.state}`).join(', ') : '-'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
