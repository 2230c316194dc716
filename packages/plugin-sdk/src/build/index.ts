import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles a plugin's src/index.ts, the SDK included, into dist/index.js: the one import-free ES
 * module the sandbox runs (docs/plugins.md, "Bundle format").
 */
export async function bundlePlugin(pluginDir: string | URL): Promise<void> {
  const dir = typeof pluginDir === 'string' ? pluginDir : fileURLToPath(pluginDir);
  await build({
    entryPoints: [`${dir}/src/index.ts`],
    outfile: `${dir}/dist/index.js`,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // The plugin gets the SDK as this code was loaded: its sources when running from them (a
    // clone, no build needed), else dist/. An installed SDK ships dist/ only, and the
    // outpost-source entries of its exports lead nowhere.
    conditions: import.meta.url.endsWith('.ts') ? ['outpost-source'] : [],
    logLevel: 'warning',
  });
}
