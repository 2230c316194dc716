import fs from 'node:fs/promises';
import path from 'node:path';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { PluginLogEntry } from '@outpost/plugin-sdk/sandbox';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { OutpostError } from '../../errors.ts';
import {
  asOutpostError,
  type InstallEvent,
  type PluginDetails,
  type PluginStatus,
  parseStoreSpec,
} from '../../plugins/index.ts';
import { type CliContext, USAGE } from '../context.ts';
import { formatBytes } from '../format.ts';

// The bundler, tar and the plugin host load only for the commands that use them, so every other
// agentctl command starts as fast as before.
const pack = () => import('./plugin-package.ts');
/** The SDK's errors (a bad manifest, a bad config) reach agentctl's error line as its own. */
const sdkError = (err: unknown): never => {
  throw asOutpostError(err);
};
const scaffold = () => import('./plugin-scaffold.ts');

const CAPABILITIES = ['collect', 'process', 'rule', 'action'] as const;
type Capability = (typeof CAPABILITIES)[number];

function out(text: string): void {
  process.stdout.write(text);
}

function json(value: unknown): void {
  out(`${JSON.stringify(value, null, 2)}\n`);
}

function positive(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: "${raw}"`);
  return n;
}

function jsonObject(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new InvalidArgumentError(`not valid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"url":"https://example.com"}\'');
  }
  return value as Record<string, unknown>;
}

/** A JSON array of records, or one JSON record per line. */
async function readRecords(file: string): Promise<Array<Partial<OutpostRecord>>> {
  const text = await fs.readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new OutpostError('E_USAGE', `--records ${file}: cannot be read (${err.code ?? err.message})`);
  });
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('[')) return JSON.parse(trimmed) as Array<Partial<OutpostRecord>>;
    return trimmed
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Partial<OutpostRecord>);
  } catch (err) {
    throw new OutpostError(
      'E_USAGE',
      `--records ${file}: not a JSON array or NDJSON (${(err as Error).message})`,
    );
  }
}

/** `key=value`: the value as JSON when it parses (numbers, true, arrays), else as a string; dots nest. */
function assign(config: Record<string, unknown>, pair: string, fail: (message: string) => never): void {
  const eq = pair.indexOf('=');
  if (eq <= 0) fail(`expected key=value, got "${pair}"`);
  const keys = pair.slice(0, eq).split('.');
  const raw = pair.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  let target = config;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  target[keys.at(-1) as string] = value;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function renderList(plugins: PluginStatus[]): string {
  if (plugins.length === 0)
    return 'no plugins installed (agentctl plugin install <dir|file.tgz|name@version>)\n';
  const rows = [
    ['NAME', 'VERSION', 'STATE', 'CAPABILITIES', 'CALLS', 'ERRORS', 'RESTARTS', 'IN', 'OUT', 'CPU', 'HEAP'],
    ...plugins.map((p) => [
      p.name,
      p.version,
      p.state === 'disabled' || p.enabled ? p.state : `${p.state} (disabled)`,
      p.capabilities.join(','),
      String(p.calls),
      String(p.errors),
      String(p.restarts),
      String(p.recordsIn),
      String(p.recordsOut),
      `${(p.cpuTimeMs / 1000).toFixed(2)}s`,
      formatBytes(p.heapUsedBytes),
    ]),
  ];
  const reasons = plugins
    .filter((p) => p.reason !== null || (p.state !== 'running' && p.lastError !== null))
    .map((p) => `${p.name}: ${p.reason ?? p.lastError}`);
  return `${table(rows)}\n${reasons.length > 0 ? `\n${reasons.join('\n')}\n` : ''}`;
}

function renderLog(entry: PluginLogEntry): string {
  const attrs = Object.entries(entry.attrs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${new Date(entry.ts).toISOString()} ${entry.level.padEnd(5)} ${entry.message}${attrs ? `  ${attrs}` : ''}\n`;
}

function renderRecord(r: OutpostRecord): string {
  const what = r.kind === 'metric' ? `${r.value}${r.unit ? ` ${r.unit}` : ''}` : (r.body ?? '');
  const attrs = Object.entries(r.attrs)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${r.kind.padEnd(6)} ${r.name} ${what}${attrs ? `  ${attrs}` : ''}\n`;
}

/** The config next to its schema: each field's type, default and meaning. */
function renderConfig(details: PluginDetails): string {
  const lines = [`${details.name}@${details.version} (${details.state})`, '', 'config:'];
  lines.push(
    ...JSON.stringify(details.config, null, 2)
      .split('\n')
      .map((l) => `  ${l}`),
  );
  const properties = (details.configSchema.properties ?? {}) as Record<
    string,
    { type?: unknown; default?: unknown; description?: unknown }
  >;
  const required = new Set((details.configSchema.required ?? []) as string[]);
  if (Object.keys(properties).length > 0) {
    lines.push('', 'fields:');
    const rows = [['KEY', 'TYPE', 'DEFAULT', 'MEANING']];
    for (const [key, field] of Object.entries(properties)) {
      rows.push([
        `${key}${required.has(key) ? ' *' : ''}`,
        String(field.type ?? '-'),
        field.default === undefined ? '-' : JSON.stringify(field.default),
        String(field.description ?? ''),
      ]);
    }
    lines.push(
      ...table(rows)
        .split('\n')
        .map((l) => `  ${l}`),
    );
    if (required.size > 0) lines.push('  (* required)');
  }
  if (details.overriddenBy.length > 0) {
    lines.push(
      '',
      `plugins.overrides.${details.name} in the agent config sets: ${details.overriddenBy.join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * An existing path wins (a dir or .tgz named like a plugin stays a path); otherwise a store spec.
 * What looks like a path but is missing is a failed install, anything else a usage error.
 */
async function installSource(
  source: string,
  usage: (message: string) => never,
): Promise<{ source: string } | { store: string }> {
  const absolute = path.resolve(source);
  if ((await fs.stat(absolute).catch(() => undefined)) !== undefined) return { source: absolute };
  const packageFile = /\.(tgz|tar\.gz)$/.test(source);
  if (!packageFile && parseStoreSpec(source) !== null) return { store: source };
  if (packageFile || source.startsWith('.') || source.includes(path.sep))
    throw new OutpostError('E_PLUGIN_INSTALL', `${absolute}: no such file or directory`);
  return usage(
    `"${source}" is neither an existing plugin dir or .tgz nor a store spec name[@version] (e.g. http-check@1.2.0)`,
  );
}

/** agentctl plugin ...: write, pack and test plugins; install and run them on this host's agent. */
export function registerPluginCommands(program: Command, ctx: CliContext): void {
  const plugin = program.command('plugin').description('write, pack, test, install and manage plugins');

  const create = plugin.command('new');
  create
    .description('scaffold a plugin project that builds and tests as it is')
    .argument('<dir>', 'the new project directory (must not exist or be empty)')
    .option('--name <name>', 'plugin name (default: the directory name)')
    .addOption(
      new Option('--capability <capability>', 'what the plugin does')
        .choices([...CAPABILITIES])
        .default('collect'),
    )
    .option('--no-link', 'do not link the SDK agentctl runs with into node_modules (install it yourself)')
    .action(async (dir: string, opts: { name?: string; capability: Capability; link: boolean }) => {
      const name = opts.name ?? path.basename(path.resolve(dir));
      const { scaffoldPlugin } = await scaffold();
      let result: Awaited<ReturnType<typeof scaffoldPlugin>>;
      try {
        result = await scaffoldPlugin({ dir, name, capability: opts.capability, linkSdk: opts.link });
      } catch (err) {
        if ((err as { code?: unknown }).code === 'E_PLUGIN_MANIFEST') {
          create.error(
            `--name "${name}": must be an npm-like package name (lower case, may be @scope/name)`,
            USAGE,
          );
        }
        throw err;
      }
      out(`created ${opts.capability} plugin "${name}" in ${result.dir}\n`);
      for (const file of result.files) out(`  ${file}\n`);
      out(
        result.sdk === null
          ? '\nthe SDK was not linked: run `npm install` there first\n'
          : `  node_modules/@outpost/plugin-sdk -> ${result.sdk}\n`,
      );
      out(`\nnext:\n  cd ${dir}\n  npm test\n  agentctl plugin test .\n  agentctl plugin pack .\n`);
    });

  plugin
    .command('pack')
    .description('bundle the plugin into one file and pack it with its manifest and sha256 into a .tgz')
    .argument('[dir]', 'the plugin project', '.')
    .option('-o, --out-dir <dir>', 'where the .tgz goes (default: the project)')
    .option('--no-build', 'pack the entry as built, without bundling src/index.ts')
    .option('--json', 'print the result as JSON (no progress lines)')
    .action(async (dir: string, opts: { outDir?: string; build: boolean; json?: boolean }) => {
      const { packPlugin } = await pack();
      const result = await packPlugin(dir, {
        outDir: opts.outDir,
        build: opts.build,
        progress: opts.json ? undefined : (line) => out(`  ${line}\n`),
      }).catch(sdkError);
      if (opts.json) return json(result);
      out(
        `packed ${result.name}@${result.version}: ${result.file} (${formatBytes(result.bytes)})\n` +
          `install it with: agentctl plugin install ${result.file} --sha256 ${result.sha256}\n`,
      );
    });

  const tryOnce = plugin.command('test');
  tryOnce
    .description("run one call of the plugin in the agent's real sandbox and print what it produced")
    .argument('[dir]', 'the plugin project or a built plugin dir', '.')
    .addOption(
      new Option('--method <method>', 'which call (default: the first capability)').choices([
        ...CAPABILITIES,
      ]),
    )
    // Not --config: agentctl's own -c/--config names the agent's config file.
    .option('--plugin-config <json>', 'the plugin config as a JSON object', jsonObject)
    .option('--records <file>', 'input records for process/rule, the alert for action (JSON array or NDJSON)')
    .option('--no-build', 'run the entry as built, without bundling src/index.ts')
    .option('--json', 'print the records as one JSON array')
    .action(
      async (
        dir: string,
        opts: {
          method?: Capability;
          pluginConfig?: Record<string, unknown>;
          records?: string;
          build: boolean;
          json?: boolean;
        },
      ) => {
        const usage = (err: unknown): never => {
          if (err instanceof OutpostError && err.code === 'E_USAGE') tryOnce.error(err.message, USAGE);
          return sdkError(err);
        };
        const records = opts.records === undefined ? undefined : await readRecords(opts.records).catch(usage);
        const { runPluginOnce } = await pack();
        const result = await runPluginOnce(dir, {
          method: opts.method,
          config: opts.pluginConfig,
          records,
          build: opts.build,
          progress: opts.json ? undefined : (line) => process.stderr.write(`  ${line}\n`),
          onLog: (entry) => process.stderr.write(`  log ${renderLog(entry)}`),
        }).catch(usage);
        if (opts.json) return json(result.records);
        for (const record of result.records) out(renderRecord(record));
        out(
          `${result.name}: ${result.method}() returned ${result.records.length} records in ${result.durationMs.toFixed(1)} ms\n`,
        );
      },
    );

  const install = plugin.command('install');
  install
    .description(
      "install (or upgrade) a plugin on the running agent from a directory, a .tgz, or the collector's plugin store",
    )
    .argument(
      '<source>',
      'a plugin directory or .tgz made by agentctl plugin pack when that path exists, else name[@version] in the plugin store (no version: the newest)',
    )
    .option('--sha256 <hex>', "refuse the install unless the bundle's sha256 is this")
    .option('--json', 'print the installed plugin as JSON (no progress lines)')
    .action(async (source: string, opts: { sha256?: string; json?: boolean }) => {
      if (opts.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.sha256)) {
        install.error(`--sha256 must be 64 hex digits, got "${opts.sha256}"`, USAGE);
      }
      const from = await installSource(source, (message) => install.error(message, USAGE));
      let done: PluginStatus | undefined;
      let failure: { code: string; message: string } | undefined;
      await ctx.withAgent((client) =>
        client.stream<InstallEvent>(
          '/v1/plugins/install',
          (event) => {
            if ('progress' in event) {
              if (!opts.json) out(`  ${event.progress}\n`);
            } else if ('done' in event) done = event.done;
            else failure = event.error;
          },
          { body: { ...from, ...(opts.sha256 !== undefined && { sha256: opts.sha256 }) } },
        ),
      );
      if (failure !== undefined) throw new OutpostError(failure.code, failure.message);
      if (done === undefined)
        throw new OutpostError(
          'E_PLUGIN_INSTALL',
          'the agent ended the install before it finished; see its log',
        );
      if (opts.json) return json(done);
      out(`installed ${done.name}@${done.version}: ${done.state}\n`);
      if (!done.enabled) {
        out(`it needs config first: agentctl plugin config show ${done.name}, then config set and enable\n`);
      } else if (done.state === 'paused') {
        out(
          `${done.name} is paused by the resource guard; it starts when the agent is back under its limits\n`,
        );
      } else if (!isUp(done.state)) {
        out(`${done.name} did not start: ${done.reason ?? done.lastError ?? done.state}\n`);
        process.exitCode = 1;
      }
    });

  plugin
    .command('list')
    .description('installed plugins: state, version, calls, errors, records, CPU and heap')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { plugins } = await ctx.withAgent((client) =>
        client.get<{ plugins: PluginStatus[] }>('/v1/plugins'),
      );
      if (opts.json) return json(plugins);
      out(renderList(plugins));
    });

  for (const [verb, what] of [
    ['enable', 'enable a plugin (clears a quarantine) and start it'],
    ['disable', 'stop a plugin and keep it disabled across restarts'],
    ['restart', 'load a plugin again, keeping its state (clears a quarantine)'],
  ] as const) {
    plugin
      .command(verb)
      .description(what)
      .argument('<name>', 'the plugin')
      .option('--json', 'print JSON')
      .action(async (name: string, opts: { json?: boolean }) => {
        const status = await ctx.withAgent((client) =>
          client.post<PluginStatus>(`/v1/plugins/${verb}`, { name }),
        );
        if (opts.json) return json(status);
        out(
          `${status.name}@${status.version}: ${status.state}${status.reason ? ` (${status.reason})` : ''}\n`,
        );
        if (verb !== 'disable' && !isUp(status.state) && status.state !== 'paused') process.exitCode = 1;
      });
  }

  plugin
    .command('remove')
    .description('stop a plugin and delete its files and its state')
    .argument('<name>', 'the plugin')
    .action(async (name: string) => {
      await ctx.withAgent((client) => client.post('/v1/plugins/remove', { name }));
      out(`removed ${name}\n`);
    });

  const config = plugin.command('config').description("show or change a plugin's config");
  config
    .command('show')
    .description('the config, and the fields its schema allows')
    .argument('<name>', 'the plugin')
    .option('--json', 'print JSON (config, schema, state)')
    .action(async (name: string, opts: { json?: boolean }) => {
      const details = await ctx.withAgent((client) =>
        client.get<PluginDetails>('/v1/plugins/show', { name }),
      );
      if (opts.json) return json(details);
      out(renderConfig(details));
    });
  const set = config.command('set');
  set
    .description('change fields (key=value, values as JSON when they parse) or replace the whole config')
    .argument('<name>', 'the plugin')
    .argument(
      '[pairs...]',
      'key=value pairs merged into the current config, e.g. url=https://a.example timeoutMs=2000',
    )
    .option('--json <config>', 'replace the whole config with this JSON object', jsonObject)
    .action(async (name: string, pairs: string[], opts: { json?: Record<string, unknown> }) => {
      if (pairs.length === 0 && opts.json === undefined)
        set.error('give key=value pairs or --json <config>', USAGE);
      if (pairs.length > 0 && opts.json !== undefined)
        set.error('give key=value pairs or --json, not both', USAGE);
      const fail = (message: string): never => set.error(message, USAGE);
      const stored = await ctx.withAgent(async (client) => {
        let next = opts.json;
        if (next === undefined) {
          next = (await client.get<PluginDetails>('/v1/plugins/show', { name })).config;
          for (const pair of pairs) assign(next, pair, fail);
        }
        return client.post<{ config: Record<string, unknown> }>('/v1/plugins/config', { name, config: next });
      });
      out(`${name}: config stored, plugin reloaded\n${JSON.stringify(stored.config, null, 2)}\n`);
    });

  plugin
    .command('logs')
    .description("a plugin's recent log lines, and the supervisor's lines about it")
    .argument('<name>', 'the plugin')
    .option('-n, --lines <n>', 'how many lines', positive, 50)
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { lines: number; json?: boolean }) => {
      const { lines } = await ctx.withAgent((client) =>
        client.get<{ lines: PluginLogEntry[] }>('/v1/plugins/logs', { name, lines: opts.lines }),
      );
      if (opts.json) return json(lines);
      if (lines.length === 0) out(`${name} has logged nothing since the agent started\n`);
      for (const line of lines) out(renderLog(line));
    });
}

/** Installed and loaded, or loading; `paused` (resource guard) is neither up nor a failure. */
function isUp(state: PluginStatus['state']): boolean {
  return state === 'running' || state === 'starting';
}
