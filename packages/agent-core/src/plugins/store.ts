import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  MANIFEST_FILE,
  type PluginManifest,
  type PluginPackage,
  readPluginPackage,
  validatePluginConfig,
} from '@outpost/plugin-sdk/manifest';
import type { OutpostError } from '../errors.ts';
import { installSourceInvalid, pluginNotInstalled, registryUnreadable, sha256Mismatch } from './errors.ts';
import { writeFileAtomic } from './state.ts';

export interface RegistryEntry {
  name: string;
  version: string;
  enabled: boolean;
  config: Record<string, unknown>;
  /** sha256 (hex) of the installed entry. */
  sha256: string;
  /** ISO 8601. */
  installedAt: string;
}

export interface InstalledPlugin extends RegistryEntry {
  /** Where the installed files are: <stateDir>/plugins/<name>/<version>. */
  dir: string;
  stateFile: string;
}

export type InstallPhase = 'extracting' | 'reading' | 'verifying' | 'copying' | 'installed';

export interface InstallOptions {
  /** Refuse the install (E_PLUGIN_SHA256) unless the entry has this sha256 (hex). */
  expectedSha256?: string;
  /** Replaces the config; default: the previous version's config, else {}. */
  config?: Record<string, unknown>;
  /** Called with the manifest's name when `config` is not given: a config that wins over the previous one. */
  configFor?: (name: string) => Record<string, unknown> | undefined;
  onProgress?: (phase: InstallPhase, detail: string) => void;
}

/** Either the agent's state dir (plugins go to <stateDir>/plugins) or the plugins dir itself. */
export type PluginStoreOptions =
  | { stateDir: string; dir?: undefined }
  | { dir: string; stateDir?: undefined };

/**
 * Installed plugins under <stateDir>/plugins: one folder per name and version, and registry.json
 * saying which version is installed, whether it is enabled and its config. Changes are serialized
 * and the registry is replaced atomically, so a failed install leaves the previous version in use.
 */
export class PluginStore {
  readonly root: string;
  readonly #registryFile: string;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: PluginStoreOptions) {
    this.root = path.resolve(options.dir ?? path.join(options.stateDir as string, 'plugins'));
    this.#registryFile = path.join(this.root, 'registry.json');
  }

  pluginDir(name: string): string {
    return path.join(this.root, name);
  }

  stateFile(name: string): string {
    return path.join(this.pluginDir(name), 'state.json');
  }

  async list(): Promise<InstalledPlugin[]> {
    const registry = await this.#readRegistry();
    return Object.values(registry)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((entry) => this.#describe(entry));
  }

  async get(name: string): Promise<InstalledPlugin | undefined> {
    const entry = (await this.#readRegistry())[name];
    return entry === undefined ? undefined : this.#describe(entry);
  }

  /** The installed package (manifest and code), read back and checked against the registry's sha256. */
  async read(name: string): Promise<{ plugin: InstalledPlugin; pkg: PluginPackage }> {
    const plugin = await this.get(name);
    if (plugin === undefined) throw pluginNotInstalled(name);
    const pkg = await readPluginPackage(plugin.dir);
    if (pkg.codeSha256 !== plugin.sha256) {
      throw sha256Mismatch(plugin.dir, name, plugin.sha256, pkg.codeSha256);
    }
    return { plugin, pkg };
  }

  /** Installs from a plugin directory or a .tgz (npm pack layout with package/, or flat). */
  install(source: string, options: InstallOptions = {}): Promise<InstalledPlugin> {
    return this.#serialized(() => this.#install(path.resolve(source), options));
  }

  enable(name: string): Promise<InstalledPlugin> {
    return this.#update(name, (entry) => ({ ...entry, enabled: true }));
  }

  disable(name: string): Promise<InstalledPlugin> {
    return this.#update(name, (entry) => ({ ...entry, enabled: false }));
  }

  /** Validated against the manifest (E_PLUGIN_CONFIG naming the field); the old config stays on error. */
  setConfig(name: string, config: Record<string, unknown>): Promise<InstalledPlugin> {
    return this.#serialized(async () => {
      const { pkg } = await this.read(name);
      const validated = validatePluginConfig(pkg.manifest, config);
      return this.#updateNow(name, (entry) => ({ ...entry, config: validated }));
    });
  }

  /** Deletes the plugin's files and its state. */
  remove(name: string): Promise<void> {
    return this.#serialized(async () => {
      const registry = await this.#readRegistry();
      if (registry[name] === undefined) throw pluginNotInstalled(name);
      delete registry[name];
      this.#writeRegistry(registry);
      await fs.rm(this.pluginDir(name), { recursive: true, force: true });
    });
  }

  async #install(source: string, options: InstallOptions): Promise<InstalledPlugin> {
    const progress = options.onProgress ?? (() => {});
    await fs.mkdir(this.root, { recursive: true });
    const work = path.join(this.root, `.install-${randomUUID()}`);
    try {
      const stat = await fs.stat(source).catch(() => undefined);
      if (stat === undefined) throw installSourceInvalid(source, 'no such file or directory');
      let dir = source;
      if (stat.isFile()) {
        if (!/\.(tgz|tar\.gz)$/.test(source)) {
          throw installSourceInvalid(source, 'expected a plugin directory or a .tgz');
        }
        progress('extracting', source);
        const extracted = path.join(work, 'extracted');
        await fs.mkdir(extracted, { recursive: true });
        try {
          // Only plain files and folders: links in an archive could point the entry outside it.
          // Loaded here: only an install from a .tgz needs tar, not the daemon that runs plugins.
          const tar = await import('tar');
          await tar.x({ file: source, cwd: extracted, strict: true, filter: (_p, e) => isPlain(e) });
        } catch (err) {
          throw installSourceInvalid(source, `not a readable .tgz (${(err as Error).message})`);
        }
        const packaged = path.join(extracted, 'package');
        dir = (await exists(path.join(packaged, MANIFEST_FILE))) ? packaged : extracted;
      }
      progress('reading', dir);
      const pkg = await readPluginPackage(dir);
      const { manifest } = pkg;
      progress('verifying', pkg.codeSha256);
      if (options.expectedSha256 !== undefined && options.expectedSha256.toLowerCase() !== pkg.codeSha256) {
        throw sha256Mismatch(source, manifest.name, options.expectedSha256, pkg.codeSha256);
      }
      const registry = await this.#readRegistry();
      const previous = registry[manifest.name];
      const given = options.config ?? options.configFor?.(manifest.name);
      const { config, enabled } = this.#initialConfig(manifest, previous, given);

      progress('copying', this.#versionDir(manifest.name, manifest.version));
      const staged = path.join(work, 'staged');
      await fs.mkdir(path.dirname(path.join(staged, manifest.entry)), { recursive: true });
      await fs.copyFile(pkg.manifestPath, path.join(staged, MANIFEST_FILE));
      await fs.copyFile(pkg.entryPath, path.join(staged, manifest.entry));
      const copied = await readPluginPackage(staged);
      if (copied.codeSha256 !== pkg.codeSha256) {
        throw sha256Mismatch(staged, manifest.name, pkg.codeSha256, copied.codeSha256);
      }
      const target = this.#versionDir(manifest.name, manifest.version);
      await fs.mkdir(path.dirname(target), { recursive: true });
      // Same version again: move the old copy aside first so the rename lands on an empty path.
      const aside = path.join(work, 'previous');
      const hadTarget = await exists(target);
      if (hadTarget) await fs.rename(target, aside);
      try {
        await fs.rename(staged, target);
      } catch (err) {
        if (hadTarget) await fs.rename(aside, target);
        throw err;
      }
      const entry: RegistryEntry = {
        name: manifest.name,
        version: manifest.version,
        enabled,
        config,
        sha256: pkg.codeSha256,
        installedAt: new Date().toISOString(),
      };
      try {
        this.#writeRegistry({ ...registry, [manifest.name]: entry });
      } catch (err) {
        await fs.rm(target, { recursive: true, force: true });
        if (hadTarget) await fs.rename(aside, target);
        throw err;
      }
      if (previous !== undefined && previous.version !== manifest.version) {
        await fs.rm(this.#versionDir(previous.name, previous.version), { recursive: true, force: true });
      }
      progress('installed', `${manifest.name}@${manifest.version}`);
      return this.#describe(entry);
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /**
   * The config the new version starts with. A fresh install whose schema needs fields nobody gave
   * is installed disabled, to be configured then enabled; a given or inherited config must fit.
   */
  #initialConfig(
    manifest: PluginManifest,
    previous: RegistryEntry | undefined,
    given: Record<string, unknown> | undefined,
  ): { config: Record<string, unknown>; enabled: boolean } {
    const wanted = given ?? previous?.config;
    if (wanted !== undefined) {
      return { config: validatePluginConfig(manifest, wanted), enabled: previous?.enabled ?? true };
    }
    try {
      return { config: validatePluginConfig(manifest, {}), enabled: true };
    } catch (err) {
      if (err instanceof Error && (err as OutpostError).code === 'E_PLUGIN_CONFIG') {
        return { config: {}, enabled: false };
      }
      throw err;
    }
  }

  #versionDir(name: string, version: string): string {
    return path.join(this.pluginDir(name), version);
  }

  #describe(entry: RegistryEntry): InstalledPlugin {
    return {
      ...structuredClone(entry),
      dir: this.#versionDir(entry.name, entry.version),
      stateFile: this.stateFile(entry.name),
    };
  }

  #update(name: string, change: (entry: RegistryEntry) => RegistryEntry): Promise<InstalledPlugin> {
    return this.#serialized(() => this.#updateNow(name, change));
  }

  async #updateNow(name: string, change: (entry: RegistryEntry) => RegistryEntry): Promise<InstalledPlugin> {
    const registry = await this.#readRegistry();
    const entry = registry[name];
    if (entry === undefined) throw pluginNotInstalled(name);
    const next = change(entry);
    this.#writeRegistry({ ...registry, [name]: next });
    return this.#describe(next);
  }

  async #readRegistry(): Promise<Record<string, RegistryEntry>> {
    let text: string;
    try {
      text = await fs.readFile(this.#registryFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw registryUnreadable(this.#registryFile, (err as Error).message);
    }
    try {
      const parsed = JSON.parse(text) as { plugins?: Record<string, RegistryEntry> };
      return parsed.plugins ?? {};
    } catch (err) {
      throw registryUnreadable(this.#registryFile, `is not valid JSON (${(err as Error).message})`);
    }
  }

  #writeRegistry(registry: Record<string, RegistryEntry>): void {
    writeFileAtomic(this.#registryFile, `${JSON.stringify({ plugins: registry }, null, 2)}\n`);
  }

  #serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(work, work);
    this.#tail = run.catch(() => {});
    return run;
  }
}

function isPlain(entry: unknown): boolean {
  const type = (entry as { type?: string }).type;
  return type === 'File' || type === 'OldFile' || type === 'Directory';
}

async function exists(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => undefined)) !== undefined;
}
