import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../config/index.ts';
import { adminAction, type Done, parsePairs, usage } from './action.ts';
import { withAdminFlags } from './admin-client.ts';
import { ago, labels, table, when } from './table.ts';

type RuleView = Record<string, unknown> & {
  id: string;
  name: string;
  type: string;
  createdAt: number;
  updatedAt: number;
};

interface AlertView {
  key: string;
  ruleId: string | null;
  name: string;
  labels: Record<string, string>;
  state: string;
  value: number | null;
  since: number;
  source: string;
}

interface TransitionView {
  id: number;
  alertKey: string;
  name: string;
  from: string;
  to: string;
  at: number;
  value: number | null;
  labels: Record<string, string>;
}

interface Matcher {
  name: string;
  value: string;
  op: '=' | '!=' | '=~';
}

interface SilenceView {
  id: string;
  matchers: Matcher[];
  comment: string;
  createdAt: number;
  expiresAt: number;
  active: boolean;
}

interface ChannelView {
  id: string;
  name: string;
  type: string;
  url: string;
  headers?: Record<string, string>;
  send_resolved?: boolean;
  repeat_interval?: string;
  matchers?: Matcher[];
  createdAt: number;
}

interface NotificationView {
  id: number;
  channelId: string;
  alertKey: string;
  status: string;
  attempts: number;
  createdAt: number;
  lastError: string | null;
}

const STATES = ['inactive', 'pending', 'firing', 'resolved'];
const RULE_TYPES = ['threshold', 'agent_offline', 'no_data', 'log_pattern'];
const repeatable = (value: string, all: string[]) => [...all, value];
const path = (...parts: string[]) => parts.map(encodeURIComponent).join('/');

/** "severity=critical", "env!=dev", "host=~web-.*": the alertmanager matcher syntax. */
export function parseMatcher(text: string, flag: string): Matcher {
  const match = /^([^=!~\s]+)\s*(=~|!=|=)\s*(.*)$/.exec(text.trim());
  if (!match) throw usage(`${flag}: "${text}" is not name=value, name!=value or name=~regex`);
  return { name: match[1]!, op: match[2] as Matcher['op'], value: match[3]! };
}

const matcherText = (list: Matcher[] | undefined) =>
  list && list.length > 0 ? list.map((m) => `${m.name}${m.op}${m.value}`).join(',') : '-';

function checkState(state: string | undefined): void {
  if (state !== undefined && !STATES.includes(state)) {
    throw usage(`--state: expected one of ${STATES.join(', ')}, received "${state}"`);
  }
}

/** `… remove <id>`: deletes one rule, silence or channel by id. */
function addRemoveCommand(
  parent: Command,
  done: Done,
  noun: string,
  route: string,
  description: string,
): void {
  parent
    .command('remove <id>')
    .description(description)
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        await client.send('DELETE', `${route}/${path(id!)}`);
        print({ id, removed: true }, () => `${noun} ${id} removed\n`);
      }),
    );
}

function durationFlag(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw usage(`${flag}: "${value}" is not a duration such as 30s, 5m or 2h`);
  return ms;
}

function numberFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw usage(`${flag}: "${value}" is not a number`);
  return n;
}

/** What a rule watches, in one line: "avg(system.cpu.utilization) > 0.9 over 5m". */
function condition(rule: Record<string, unknown>): string {
  const s = (key: string) => (rule[key] === undefined ? undefined : String(rule[key]));
  switch (rule.type) {
    case 'threshold':
      return `${s('aggregate') ?? 'avg'}(${s('metric')}) ${rule.op === 'below' ? '<' : '>'} ${s('threshold')} over ${s('window') ?? '1m'}`;
    case 'agent_offline':
      return `no heartbeat for ${s('after') ?? 'agents.offline_after'}`;
    case 'no_data':
      return `no ${s('metric')} for ${s('window') ?? '5m'}`;
    case 'log_pattern':
      return `> ${s('count_above') ?? '0'} lines /${s('pattern')}/${rule.log ? ` in ${s('log')}` : ''} over ${s('window') ?? '5m'}`;
    default:
      return '-';
  }
}

const selectorText = (rule: Record<string, unknown>) =>
  [
    rule.agent ? `agent=${String(rule.agent)}` : '',
    rule.labels ? labels(rule.labels as Record<string, string>) : '',
  ]
    .filter(Boolean)
    .join(' ') || 'every agent';

/** Only scheme and host: a Slack webhook's path is its secret. */
function urlText(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.pathname === '/' && !parsed.search ? parsed.origin : `${parsed.origin}/…`;
  } catch {
    return '?';
  }
}

interface RuleFlags {
  file?: string;
  type?: string;
  name?: string;
  metric?: string;
  op?: string;
  threshold?: string;
  aggregate?: string;
  window?: string;
  for?: string;
  severity?: string;
  agent?: string;
  labels?: string;
  after?: string;
  pattern?: string;
  log?: string;
  countAbove?: string;
  description?: string;
  disabled?: boolean;
}

/** The rule body from --file (JSON or YAML, "-" for stdin) or from the flags; the collector validates it. */
async function ruleBody(flags: RuleFlags): Promise<Record<string, unknown>> {
  const fromFlags = {
    type: flags.type,
    name: flags.name,
    metric: flags.metric,
    op: flags.op,
    threshold: numberFlag('--threshold', flags.threshold),
    aggregate: flags.aggregate,
    window: flags.window,
    for: flags.for,
    severity: flags.severity,
    agent: flags.agent,
    labels: flags.labels === undefined ? undefined : parsePairs(flags.labels, '--labels'),
    after: flags.after,
    pattern: flags.pattern,
    log: flags.log,
    count_above: numberFlag('--count-above', flags.countAbove),
    description: flags.description,
    enabled: flags.disabled ? false : undefined,
  };
  const given = Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined));
  if (flags.file !== undefined) {
    if (Object.keys(given).length > 0) throw usage('give the rule in --file or as flags, not both');
    let text: string;
    try {
      text = flags.file === '-' ? await readStdin() : await readFile(flags.file, 'utf8');
    } catch (err) {
      throw usage(`cannot read ${flags.file}: ${(err as Error).message}`);
    }
    let body: unknown;
    try {
      body = parseYaml(text);
    } catch (err) {
      throw usage(`${flags.file}: not JSON or YAML: ${(err as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw usage(`${flags.file}: expected one rule (an object)`);
    }
    return body as Record<string, unknown>;
  }
  if (given.type === undefined || given.name === undefined) {
    throw usage(`give --type (${RULE_TYPES.join(', ')}) and --name, or --file <rule.json|yaml>`);
  }
  if (!RULE_TYPES.includes(String(given.type))) {
    throw usage(`--type: expected one of ${RULE_TYPES.join(', ')}, received "${String(given.type)}"`);
  }
  return given;
}

/** outpost-collector alert ...: rules, current alerts, history, silences and channels of a running collector. */
export function registerAlertCommands(program: Command, done: Done): void {
  const group = withAdminFlags(
    program.command('alert').description('alert rules, current alerts, history, silences and channels'),
  );

  const rules = group.command('rules').description('alert rules evaluated by the collector');

  rules
    .command('list')
    .description('every rule with its condition')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { rules: list } = await client.get<{ rules: RuleView[] }>('/api/v1/alert/rules');
        print(list, (all) =>
          table(
            ['ID', 'NAME', 'TYPE', 'SEVERITY', 'FOR', 'ENABLED', 'CONDITION', 'AGENTS'],
            all.map((r) => [
              r.id,
              r.name,
              r.type,
              String(r.severity ?? 'warning'),
              String(r.for ?? '0s'),
              r.enabled === false ? 'no' : 'yes',
              condition(r),
              selectorText(r),
            ]),
          ),
        );
      }),
    );

  rules
    .command('add')
    .description('create a rule from flags, or from a JSON/YAML file with --file (see docs/alerts.md)')
    .option('--file <file>', 'the rule as JSON or YAML ("-" reads stdin)')
    .option('--type <type>', RULE_TYPES.join(', '))
    .option('--name <name>', 'the alert name')
    .option('--metric <metric>', 'threshold, no_data: the metric name')
    .option('--op <op>', 'threshold: above or below')
    .option('--threshold <number>', 'threshold: the value')
    .option('--aggregate <fn>', 'threshold: avg (default), max, min or last')
    .option('--window <duration>', 'threshold, no_data, log_pattern: the window, e.g. 5m')
    .option('--for <duration>', 'how long the condition must hold before firing')
    .option('--severity <severity>', 'info, warning (default) or critical')
    .option('--agent <id>', 'only this agent')
    .option('--labels <k=v,...>', 'only agents with these labels')
    .option('--after <duration>', 'agent_offline: heartbeat age that counts as offline')
    .option('--pattern <regex>', 'log_pattern: the regular expression')
    .option('--log <name>', 'log_pattern: only this log source')
    .option('--count-above <n>', 'log_pattern: fire when more lines than this match')
    .option('--description <text>', 'free text')
    .option('--disabled', 'create it disabled')
    .action(
      adminAction<RuleFlags>(done, async ({ client, flags, print }) => {
        const rule = await client.post<RuleView>('/api/v1/alert/rules', await ruleBody(flags));
        print(rule, (r) => `rule ${r.id} created: ${r.name} (${condition(r)})\n`);
      }),
    );

  rules
    .command('show <id>')
    .description('one rule, and its current alerts')
    .action(
      adminAction(done, async ({ client, print }, [id]) => {
        const rule = await client.get<RuleView>(`/api/v1/alert/rules/${path(id!)}`);
        const { alerts } = await client.get<{ alerts: AlertView[] }>(
          `/api/v1/alert/alerts?rule=${encodeURIComponent(id!)}`,
        );
        print({ ...rule, alerts }, (r) => {
          const { id: _id, name, type, createdAt, updatedAt, alerts: current, ...spec } = r;
          const lines = [
            `id:         ${r.id}`,
            `name:       ${name}`,
            `type:       ${type}`,
            `condition:  ${condition(r)}`,
            `agents:     ${selectorText(r)}`,
            ...Object.entries(spec).map(([k, v]) => `${`${k}:`.padEnd(12)}${JSON.stringify(v)}`),
            `created:    ${when(createdAt)}${updatedAt !== createdAt ? `, updated ${when(updatedAt)}` : ''}`,
            '',
            current.length === 0
              ? 'no current alerts'
              : table(
                  ['STATE', 'AGENT', 'VALUE', 'SINCE'],
                  current.map((a) => [a.state, a.labels.hostname ?? a.labels.agent, a.value, ago(a.since)]),
                ).trimEnd(),
          ];
          return `${lines.join('\n')}\n`;
        });
      }),
    );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    rules
      .command(`${verb} <id>`)
      .description(
        enabled ? 'evaluate a disabled rule again' : 'stop evaluating a rule (its firing alerts resolve)',
      )
      .action(
        adminAction(done, async ({ client, print }, [id]) => {
          const {
            id: _id,
            createdAt: _c,
            updatedAt: _u,
            ...spec
          } = await client.get<RuleView>(`/api/v1/alert/rules/${path(id!)}`);
          const rule = await client.send<RuleView>('PUT', `/api/v1/alert/rules/${path(id!)}`, {
            ...spec,
            enabled,
          });
          print(rule, (r) => `rule ${r.id} ${enabled ? 'enabled' : 'disabled'}\n`);
        }),
      );
  }

  addRemoveCommand(
    rules,
    done,
    'rule',
    '/api/v1/alert/rules',
    'delete a rule and its current alerts (their history stays)',
  );

  group
    .command('list')
    .description('current alerts (pending, firing, resolved)')
    .option('--state <state>', STATES.join(', '))
    .option('--rule <id>', 'only this rule')
    .action(
      adminAction<{ state?: string; rule?: string }>(done, async ({ client, flags, print }) => {
        checkState(flags.state);
        const query = new URLSearchParams();
        if (flags.state) query.set('state', flags.state);
        if (flags.rule) query.set('rule', flags.rule);
        const { alerts } = await client.get<{ alerts: AlertView[] }>(`/api/v1/alert/alerts?${query}`);
        print(alerts, (list) =>
          table(
            ['STATE', 'ALERT', 'AGENT', 'VALUE', 'SINCE', 'SOURCE', 'LABELS'],
            list.map((a) => [
              a.state,
              a.name,
              a.labels.hostname ?? a.labels.agent,
              a.value,
              ago(a.since),
              a.source,
              labels(a.labels),
            ]),
          ),
        );
      }),
    );

  group
    .command('history')
    .description('alert transitions, newest first')
    .option('--rule <id>', 'only this rule')
    .option('--alert <key>', 'only this alert key')
    .option('--name <name>', 'only this alert name')
    .option('--state <state>', `only transitions into this state (${STATES.join(', ')})`)
    .option('--since <duration>', 'only the last ..., e.g. 24h')
    .option('--limit <n>', 'how many (1-1000)', '50')
    .option('--before <id>', 'the page before this transition id (the "next" of --json)')
    .action(
      adminAction<{
        rule?: string;
        alert?: string;
        name?: string;
        state?: string;
        since?: string;
        limit: string;
        before?: string;
      }>(done, async ({ client, flags, print }) => {
        if (!/^\d+$/.test(flags.limit) || Number(flags.limit) < 1 || Number(flags.limit) > 1000) {
          throw usage(`--limit: expected an integer from 1 to 1000, received "${flags.limit}"`);
        }
        checkState(flags.state);
        if (flags.before !== undefined && !/^\d+$/.test(flags.before)) {
          throw usage(`--before: "${flags.before}" is not a transition id`);
        }
        const query = new URLSearchParams({ limit: flags.limit });
        if (flags.rule) query.set('rule', flags.rule);
        if (flags.alert) query.set('alert', flags.alert);
        if (flags.name) query.set('name', flags.name);
        if (flags.state) query.set('state', flags.state);
        if (flags.before) query.set('before', flags.before);
        if (flags.since) query.set('from', String(Date.now() - durationFlag('--since', flags.since)));
        const page = await client.get<{ transitions: TransitionView[]; next: string | null; more: boolean }>(
          `/api/v1/alert/history?${query}`,
        );
        print(page, (p) => {
          const rows = table(
            ['TIME', 'ALERT', 'AGENT', 'TRANSITION', 'VALUE'],
            p.transitions.map((t) => [
              when(t.at),
              t.name,
              t.labels.hostname ?? t.labels.agent,
              `${t.from} -> ${t.to}`,
              t.value,
            ]),
          );
          return p.more ? `${rows}(more: --before ${p.next})\n` : rows;
        });
      }),
    );

  const silences = group
    .command('silence')
    .description('silences: matching alerts change state but notify no one');

  silences
    .command('add')
    .description('silence alerts whose labels match every --matcher')
    .option('--matcher <m>', 'name=value, name!=value or name=~regex (repeatable)', repeatable, [])
    .option('--duration <duration>', 'how long, e.g. 2h')
    .option('--until <time>', 'until this time (ISO 8601 or unix ms)')
    .option('--comment <text>', 'why', '')
    .action(
      adminAction<{ matcher: string[]; duration?: string; until?: string; comment: string }>(
        done,
        async ({ client, flags, print }) => {
          if (flags.matcher.length === 0) throw usage('give at least one --matcher name=value');
          if ((flags.duration === undefined) === (flags.until === undefined)) {
            throw usage('give exactly one of --duration or --until');
          }
          const body: Record<string, unknown> = {
            matchers: flags.matcher.map((m) => parseMatcher(m, '--matcher')),
            comment: flags.comment,
          };
          if (flags.duration !== undefined) {
            durationFlag('--duration', flags.duration);
            body.duration = flags.duration;
          } else {
            const until = /^\d+$/.test(flags.until!) ? Number(flags.until) : Date.parse(flags.until!);
            if (!Number.isFinite(until)) throw usage(`--until: "${flags.until}" is not a time`);
            body.expires_at = until;
          }
          const silence = await client.post<SilenceView>('/api/v1/alert/silences', body);
          print(
            silence,
            (s) => `silence ${s.id} created: ${matcherText(s.matchers)} until ${when(s.expiresAt)}\n`,
          );
        },
      ),
    );

  silences
    .command('list')
    .description('silences, active and expired')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { silences: list } = await client.get<{ silences: SilenceView[] }>('/api/v1/alert/silences');
        print(list, (all) =>
          table(
            ['ID', 'ACTIVE', 'EXPIRES', 'MATCHERS', 'COMMENT'],
            all.map((s) => [
              s.id,
              s.active ? 'yes' : 'no',
              when(s.expiresAt),
              matcherText(s.matchers),
              s.comment,
            ]),
          ),
        );
      }),
    );

  addRemoveCommand(silences, done, 'silence', '/api/v1/alert/silences', 'end a silence now');

  const channels = group.command('channels').description('notification channels (webhook, slack)');

  channels
    .command('list')
    .description('every channel (URLs shortened to their origin; --json shows them whole)')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { channels: list } = await client.get<{ channels: ChannelView[] }>('/api/v1/alert/notify');
        print(list, (all) =>
          table(
            ['ID', 'NAME', 'TYPE', 'URL', 'RESOLVED', 'REPEAT', 'MATCHERS'],
            all.map((c) => [
              c.id,
              c.name,
              c.type,
              urlText(c.url),
              c.send_resolved === false ? 'no' : 'yes',
              c.repeat_interval ?? '-',
              matcherText(c.matchers),
            ]),
          ),
        );
      }),
    );

  channels
    .command('add <name> <url>')
    .description('add a channel: notifications of matching alerts are POSTed to <url>')
    .option('--type <type>', 'webhook (the event as JSON) or slack ({ text })', 'webhook')
    .option('--header <k=v>', 'an HTTP header to send (repeatable)', repeatable, [])
    .option(
      '--matcher <m>',
      'only alerts matching name=value, name!=value or name=~regex (repeatable)',
      repeatable,
      [],
    )
    .option('--repeat-interval <duration>', 'notify again while still firing, e.g. 4h')
    .option('--no-send-resolved', 'do not notify when an alert resolves')
    .action(
      adminAction<{
        type: string;
        header: string[];
        matcher: string[];
        repeatInterval?: string;
        sendResolved: boolean;
      }>(done, async ({ client, flags, print }, [name, url]) => {
        const headers: Record<string, string> = {};
        for (const h of flags.header) Object.assign(headers, parsePairs(h, '--header'));
        const body: Record<string, unknown> = {
          name,
          type: flags.type,
          url,
          send_resolved: flags.sendResolved,
          matchers: flags.matcher.map((m) => parseMatcher(m, '--matcher')),
        };
        if (flags.header.length > 0) body.headers = headers;
        if (flags.repeatInterval !== undefined) {
          durationFlag('--repeat-interval', flags.repeatInterval);
          body.repeat_interval = flags.repeatInterval;
        }
        const channel = await client.post<ChannelView>('/api/v1/alert/notify', body);
        print(channel, (c) => `channel ${c.id} created: ${c.name} (${c.type} to ${urlText(c.url)})\n`);
      }),
    );

  addRemoveCommand(
    channels,
    done,
    'channel',
    '/api/v1/alert/notify',
    'delete a channel (its queued notifications are not sent)',
  );

  channels
    .command('outbox')
    .description('the last 200 notifications: pending, delivered or failed, with the last error')
    .action(
      adminAction(done, async ({ client, print }) => {
        const { notifications } = await client.get<{ notifications: NotificationView[] }>(
          '/api/v1/alert/notify/outbox',
        );
        print(notifications, (list) =>
          table(
            ['ID', 'CHANNEL', 'ALERT', 'STATUS', 'ATTEMPTS', 'CREATED', 'LAST ERROR'],
            list.map((n) => [
              n.id,
              n.channelId,
              n.alertKey,
              n.status,
              n.attempts,
              ago(n.createdAt),
              n.lastError,
            ]),
          ),
        );
      }),
    );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
