import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AlertRecord, OutpostRecord } from '@outpost/plugin-sdk';
import { bundlePlugin } from '@outpost/plugin-sdk/build';
import { readPluginPackage, validatePluginConfig } from '@outpost/plugin-sdk/manifest';
import type { PluginLogEntry } from '@outpost/plugin-sdk/sandbox';
import { pino } from 'pino';
import * as tar from 'tar';
import { OutpostError } from '../../errors.ts';
import { type CallMethod, PluginHost } from '../../plugins/index.ts';

export interface PackResult {
  name: string;
  version: string;
  file: string;
  /** sha256 (hex) of the bundle: what `agentctl plugin install --sha256` checks. */
  sha256: string;
  bytes: number;
}

const bundleFailed = (dir: string, err: unknown) =>
  new OutpostError(
    'E_PLUGIN_BUILD',
    `bundling ${path.join(dir, 'src/index.ts')} failed: ${(err as Error).message}`,
    {
      dir,
    },
  );

async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined)) !== undefined;
}

/** Bundles src/index.ts into the manifest's entry when the project has sources (else uses the built entry). */
async function build(dir: string, progress: (line: string) => void): Promise<void> {
  if (!(await exists(path.join(dir, 'src', 'index.ts')))) return;
  progress('bundling src/index.ts -> dist/index.js');
  try {
    await bundlePlugin(dir);
  } catch (err) {
    throw bundleFailed(dir, err);
  }
}

/** npm's tarball naming: @acme/http-check@1.0.0 -> acme-http-check-1.0.0.tgz. */
function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

/**
 * Builds the plugin and writes <outDir>/<name>-<version>.tgz with package/outpost-plugin.json,
 * the bundle, its sha256 (package/SHA256SUMS) and the README when there is one: what
 * `agentctl plugin install` and the collector's plugin store take.
 */
export async function packPlugin(
  dirGiven: string,
  options: { outDir?: string; build?: boolean; progress?: (line: string) => void } = {},
): Promise<PackResult> {
  const dir = path.resolve(dirGiven);
  const progress = options.progress ?? (() => {});
  if (options.build ?? true) await build(dir, progress);
  progress('checking outpost-plugin.json and the bundle');
  const pkg = await readPluginPackage(dir);
  const { manifest } = pkg;
  progress(`sha256 ${pkg.codeSha256}  ${manifest.entry} (${Buffer.byteLength(pkg.code)} bytes)`);
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'outpost-pack-'));
  try {
    const root = path.join(staging, 'package');
    await fs.mkdir(path.dirname(path.join(root, manifest.entry)), { recursive: true });
    await fs.copyFile(pkg.manifestPath, path.join(root, 'outpost-plugin.json'));
    await fs.copyFile(pkg.entryPath, path.join(root, manifest.entry));
    await fs.writeFile(path.join(root, 'SHA256SUMS'), `${pkg.codeSha256}  ${manifest.entry}\n`);
    if (await exists(path.join(dir, 'README.md')))
      await fs.copyFile(path.join(dir, 'README.md'), path.join(root, 'README.md'));
    const outDir = path.resolve(options.outDir ?? dir);
    await fs.mkdir(outDir, { recursive: true });
    const file = path.join(outDir, tarballName(manifest.name, manifest.version));
    progress(`writing ${file}`);
    await tar.c({ gzip: true, file, cwd: staging, portable: true, noMtime: true }, ['package']);
    const { size } = await fs.stat(file);
    return { name: manifest.name, version: manifest.version, file, sha256: pkg.codeSha256, bytes: size };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

export interface TestRunOptions {
  method?: CallMethod;
  config?: unknown;
  /** Input of process and rule; the first one is the alert of action. Missing ts, attrs, source are filled. */
  records?: Array<Partial<OutpostRecord>>;
  build?: boolean;
  progress?: (line: string) => void;
  onLog?: (entry: PluginLogEntry) => void;
}

export interface TestRunResult {
  name: string;
  method: CallMethod;
  records: OutpostRecord[];
  durationMs: number;
}

const methodMissing = (name: string, method: string, declared: readonly string[]) =>
  new OutpostError(
    'E_PLUGIN_CAPABILITY',
    `plugin "${name}" does not declare "${method}" (it declares: ${declared.join(', ')})`,
    { plugin: name, method },
  );

export const recordsNeeded = (method: string) =>
  new OutpostError(
    'E_USAGE',
    `${method} needs input: pass --records <file> (a JSON array or NDJSON of records)`,
  );

/**
 * Runs one call of the plugin in a plugin-host process of its own, the sandbox and limits the
 * agent uses, with a throw-away state; returns what it produced.
 */
export async function runPluginOnce(dirGiven: string, options: TestRunOptions = {}): Promise<TestRunResult> {
  const dir = path.resolve(dirGiven);
  const progress = options.progress ?? (() => {});
  if (options.build ?? true) await build(dir, progress);
  const pkg = await readPluginPackage(dir);
  const { manifest } = pkg;
  const declared = manifest.capabilities;
  const method =
    options.method ?? (['collect', 'process', 'rule', 'action'] as const).find((m) => declared.includes(m));
  if (method === undefined || !declared.includes(method))
    throw methodMissing(manifest.name, String(method), declared);
  const config = validatePluginConfig(manifest, options.config ?? {});
  const now = Date.now();
  const records = (options.records ?? []).map(
    (r) => ({ ts: now, attrs: {}, source: 'test', ...r }) as OutpostRecord,
  );
  if (method !== 'collect' && records.length === 0) throw recordsNeeded(method);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'outpost-plugin-test-'));
  const host = new PluginHost({
    logger: pino({ level: 'warn' }, pino.destination(2)),
    restartMaxMs: 0,
    onLog: options.onLog,
  });
  try {
    progress(`loading ${manifest.name}@${manifest.version} in a plugin host`);
    await host.start();
    await host.load({
      name: manifest.name,
      manifest,
      entryPath: pkg.entryPath,
      sha256: pkg.codeSha256,
      config,
      stateFile: path.join(work, 'state.json'),
    });
    progress(`calling ${method}()`);
    const started = performance.now();
    const input =
      method === 'collect' ? undefined : method === 'action' ? (records[0] as AlertRecord) : records;
    const out = (await host.call(manifest.name, method, input)) as OutpostRecord[];
    return { name: manifest.name, method, records: out, durationMs: performance.now() - started };
  } finally {
    await host.close();
    await fs.rm(work, { recursive: true, force: true });
  }
}
