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
    // In this workspace the SDK resolves to its sources, so bundling needs no prior build of it.
    conditions: ['outpost-source'],
    logLevel: 'warning',
  });
}
