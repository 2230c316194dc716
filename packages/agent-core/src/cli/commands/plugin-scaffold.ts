import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLUGIN_API_VERSION } from '@outpost/plugin-sdk';
import { MANIFEST_FILE, parseManifest } from '@outpost/plugin-sdk/manifest';
import { OutpostError } from '../../errors.ts';
import { AGENT_VERSION } from '../../version.ts';

export const SCAFFOLD_CAPABILITIES = ['collect', 'process', 'rule', 'action'] as const;
export type ScaffoldCapability = (typeof SCAFFOLD_CAPABILITIES)[number];

export interface ScaffoldOptions {
  dir: string;
  name: string;
  capability: ScaffoldCapability;
  /**
   * Depend on the SDK package installed with agentctl (a file: dependency) and symlink it into
   * node_modules, so the project builds and tests, and `npm install` works, without a registry.
   */
  linkSdk: boolean;
}

export interface ScaffoldResult {
  dir: string;
  files: string[];
  /** Where node_modules/@outpost/plugin-sdk points, when it was linked. */
  sdk: string | null;
}

const dirNotEmpty = (dir: string) =>
  new OutpostError('E_SCAFFOLD_EXISTS', `${dir} exists and is not empty; pick a new directory`, { dir });

interface Template {
  manifest: Record<string, unknown>;
  source: string;
  test: string;
}

/** Metric names follow OpenTelemetry: dotted, from the plugin's name without its scope. */
function metricBase(name: string): string {
  return name.replace(/^@[^/]+\//, '').replaceAll('-', '_');
}

function template(name: string, capability: ScaffoldCapability): Template {
  const base = metricBase(name);
  switch (capability) {
    case 'collect':
      return {
        manifest: {
          collectIntervalMs: 10_000,
          configSchema: {
            type: 'object',
            additionalProperties: false,
            properties: {
              greeting: { type: 'string', default: 'hello', description: 'What to say on each run.' },
            },
          },
        },
        source: `import { definePlugin } from '@outpost/plugin-sdk';

interface Config {
  greeting: string;
}

export default definePlugin<Config>({
  async collect(ctx) {
    // State survives restarts, upgrades and reconfiguration of the plugin.
    const runs = ((await ctx.state.get<number>('runs')) ?? 0) + 1;
    await ctx.state.set('runs', runs);
    ctx.log.debug('collecting', { runs });
    return [
      { kind: 'metric', name: '${base}.runs', value: runs, unit: '1' },
      { kind: 'log', name: '${base}.greeting', body: \`\${ctx.config.greeting} #\${runs}\` },
    ];
  },
});
`,
        test: `test('collect counts its runs and greets', async () => {
  await using plugin = await loadPlugin(pluginDir, { config: { greeting: 'hi' } });
  const first = await plugin.collect();
  assert.equal(first.find((r) => r.name === '${base}.runs')?.value, 1);
  assert.equal(first.find((r) => r.name === '${base}.greeting')?.body, 'hi #1');
  const second = await plugin.collect();
  assert.equal(second.find((r) => r.name === '${base}.runs')?.value, 2);
});

test('a bad config names the field', async () => {
  await assert.rejects(loadPlugin(pluginDir, { config: { greeting: 42 } }), /config\\.greeting: must be string/);
});
`,
      };
    case 'process':
      return {
        manifest: {
          configSchema: {
            type: 'object',
            additionalProperties: false,
            properties: {
              drop: {
                type: 'array',
                items: { type: 'string' },
                default: [],
                description: 'Record names to drop.',
              },
              tag: {
                type: 'string',
                default: base,
                description: 'Attribute set to true on kept records.',
              },
            },
          },
        },
        source: `import { definePlugin } from '@outpost/plugin-sdk';

interface Config {
  drop: string[];
  tag: string;
}

export default definePlugin<Config>({
  process(records, ctx) {
    const drop = new Set(ctx.config.drop);
    return records
      .filter((r) => !drop.has(r.name))
      .map((r) => ({ ...r, attrs: { ...r.attrs, [ctx.config.tag]: true } }));
  },
});
`,
        test: `test('process drops the configured names and tags the rest', async () => {
  await using plugin = await loadPlugin(pluginDir, { config: { drop: ['noise'] } });
  const out = await plugin.process([
    { kind: 'log', name: 'noise', body: 'x' },
    { kind: 'metric', name: 'cpu', value: 1 },
  ]);
  assert.deepEqual(
    out.map((r) => [r.name, r.attrs['${base}']]),
    [['cpu', true]],
  );
});
`,
      };
    case 'rule':
      return {
        manifest: {
          configSchema: {
            type: 'object',
            additionalProperties: false,
            required: ['metric', 'above'],
            properties: {
              metric: { type: 'string', description: 'Metric name to watch.' },
              above: { type: 'number', description: 'Fire when a value is above this.' },
            },
          },
        },
        source: `import { alert, definePlugin } from '@outpost/plugin-sdk';

interface Config {
  metric: string;
  above: number;
}

export default definePlugin<Config>({
  async rule(records, ctx) {
    const values = records.filter((r) => r.name === ctx.config.metric && r.value !== undefined);
    if (values.length === 0) return [];
    const high = values.some((r) => (r.value as number) > ctx.config.above);
    const firing = (await ctx.state.get<boolean>('firing')) ?? false;
    if (high === firing) return [];
    await ctx.state.set('firing', high);
    return [
      alert({
        name: '${base}',
        state: high ? 'firing' : 'resolved',
        severity: 'warning',
        attrs: { metric: ctx.config.metric, above: ctx.config.above },
      }),
    ];
  },
});
`,
        test: `test('rule fires once above the threshold and resolves below it', async () => {
  await using plugin = await loadPlugin(pluginDir, { config: { metric: 'cpu', above: 90 } });
  const hot = [{ kind: 'metric' as const, name: 'cpu', value: 95 }];
  assert.deepEqual((await plugin.rule(hot)).map((a) => a.attrs.state), ['firing']);
  assert.deepEqual(await plugin.rule(hot), []);
  const cool = [{ kind: 'metric' as const, name: 'cpu', value: 10 }];
  assert.deepEqual((await plugin.rule(cool)).map((a) => a.attrs.state), ['resolved']);
});
`,
      };
    case 'action':
      return {
        manifest: {},
        source: `import { definePlugin } from '@outpost/plugin-sdk';

export default definePlugin({
  action(alert, ctx) {
    ctx.log.info('alert', { name: alert.name, state: alert.attrs.state });
    ctx.emit({ kind: 'event', name: '${base}.acted', attrs: { alert: alert.name, state: alert.attrs.state } });
  },
});
`,
        test: `test('action records each alert it saw', async () => {
  await using plugin = await loadPlugin(pluginDir);
  const out = await plugin.action({
    kind: 'alert',
    name: 'cpu.high',
    attrs: { state: 'firing', severity: 'warning' },
  });
  assert.deepEqual(out.map((r) => [r.name, r.attrs.alert]), [['${base}.acted', 'cpu.high']]);
});
`,
      };
  }
}

/**
 * The SDK package next to agentctl: agent-core depends on it, so an installed agent has it in its
 * node_modules (or beside it in a global prefix), and a clone has the workspace package.
 */
async function sdkPackageDir(): Promise<string | undefined> {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve('@outpost/plugin-sdk'));
  } catch {
    return undefined;
  }
  for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const text = await fs.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    if ((JSON.parse(text) as { name?: string }).name === '@outpost/plugin-sdk') return dir;
  }
  return undefined;
}

/**
 * Writes a plugin project that builds and tests as it is: manifest, src/index.ts, build.ts,
 * a node:test file using the SDK's harness, package.json and a README. The manifest is checked
 * with the same parser the agent uses, so a bad name fails here (E_PLUGIN_MANIFEST).
 */
export async function scaffoldPlugin(options: ScaffoldOptions): Promise<ScaffoldResult> {
  const dir = path.resolve(options.dir);
  const existing = await fs.readdir(dir).catch(() => []);
  if (existing.length > 0) throw dirNotEmpty(dir);
  const { name, capability } = options;
  const t = template(name, capability);
  const manifest = {
    name,
    version: '0.1.0',
    apiVersion: PLUGIN_API_VERSION,
    description: `A ${capability} plugin`,
    entry: 'dist/index.js',
    capabilities: [capability],
    ...t.manifest,
  };
  parseManifest(manifest, MANIFEST_FILE);
  const sdk = options.linkSdk ? await sdkPackageDir() : undefined;
  const files: Record<string, string> = {
    [MANIFEST_FILE]: `${JSON.stringify(manifest, null, 2)}\n`,
    'package.json': `${JSON.stringify(
      {
        name,
        version: '0.1.0',
        private: true,
        type: 'module',
        engines: { node: '>=24' },
        scripts: {
          build: 'node build.ts',
          test: "node --no-node-snapshot --test 'test/*.test.ts'",
          pack: 'agentctl plugin pack .',
        },
        // file: the SDK is not on the registry: the project uses the one installed with agentctl.
        devDependencies: { '@outpost/plugin-sdk': sdk ? `file:${sdk}` : `^${AGENT_VERSION}` },
      },
      null,
      2,
    )}\n`,
    'src/index.ts': t.source,
    'build.ts': `import { bundlePlugin } from '@outpost/plugin-sdk/build';

/** Bundles src/index.ts, the SDK included, into dist/index.js: the one file the agent runs. */
export const buildPlugin = (): Promise<void> => bundlePlugin(new URL('.', import.meta.url));

if (import.meta.main) await buildPlugin();
`,
    'test/plugin.test.ts': `import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadPlugin } from '@outpost/plugin-sdk/testing';
import { buildPlugin } from '../build.ts';

// The plugin runs in the same sandbox as on the agent: build it first.
const pluginDir = new URL('..', import.meta.url).pathname;
before(() => buildPlugin());

${t.test}`,
    '.gitignore': 'node_modules/\ndist/\n*.tgz\n',
    'README.md': `# ${name}

An Outpost ${capability} plugin, made with \`agentctl plugin new\`.

\`\`\`sh
npm test                              # builds, then runs test/*.test.ts in the real sandbox
agentctl plugin test .                # runs it once in the agent's plugin host, prints records
agentctl plugin pack .                # dist/index.js + manifest + sha256 -> ${name.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz
agentctl plugin install ./*.tgz       # onto the agent running on this host
\`\`\`

See docs/plugins.md of Outpost for the host API, permissions and limits.
`,
  };
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  if (sdk !== undefined) {
    const link = path.join(dir, 'node_modules', '@outpost', 'plugin-sdk');
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.symlink(sdk, link, 'dir');
  }
  return { dir, files: Object.keys(files), sdk: sdk ?? null };
}
