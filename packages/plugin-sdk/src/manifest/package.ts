import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { entryMissing, entryTooLarge, manifestInvalid, manifestUnreadable } from './errors.ts';
import { MANIFEST_FILE, type PluginManifest, parseManifest } from './schema.ts';

/** Bigger bundles are refused: one isolate has to parse and hold the whole file. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A built plugin on disk: its manifest and the bundle it names. */
export interface PluginPackage {
  /** Real path of the plugin's directory. */
  dir: string;
  manifestPath: string;
  manifest: PluginManifest;
  entryPath: string;
  /** The bundle's source text. */
  code: string;
  /** sha256 (hex) of the bundle's bytes. */
  codeSha256: string;
}

/**
 * Reads a plugin directory (or its outpost-plugin.json): the manifest, validated, and the bundle.
 * E_PLUGIN_MANIFEST for a bad manifest, E_PLUGIN_LOAD when the bundle is missing or too large.
 */
export async function readPluginPackage(dirOrManifestPath: string): Promise<PluginPackage> {
  const given = path.resolve(dirOrManifestPath);
  const manifestPath = (await fs.stat(given).catch(() => undefined))?.isDirectory()
    ? path.join(given, MANIFEST_FILE)
    : given;
  let text: string;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (err) {
    throw manifestUnreadable(manifestPath, `cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw manifestUnreadable(manifestPath, `is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(json, manifestPath);
  const dir = await fs.realpath(path.dirname(manifestPath));
  const wanted = path.join(dir, manifest.entry);
  let entryPath: string;
  try {
    entryPath = await fs.realpath(wanted);
  } catch {
    throw entryMissing(manifest.name, manifest.entry, wanted);
  }
  if (!entryPath.startsWith(dir + path.sep)) {
    throw manifestInvalid(manifestPath, [
      { path: 'entry', message: 'resolves outside the plugin directory' },
    ]);
  }
  const bytes = await fs.readFile(entryPath);
  if (bytes.length > MAX_BUNDLE_BYTES) {
    throw entryTooLarge(manifest.name, entryPath, bytes.length, MAX_BUNDLE_BYTES);
  }
  return {
    dir,
    manifestPath,
    manifest,
    entryPath,
    code: bytes.toString('utf8'),
    codeSha256: sha256Hex(bytes),
  };
}
