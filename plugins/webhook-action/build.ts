// Bundles src/index.ts, the SDK included, into the one import-free ES module the sandbox runs.
import { build } from 'esbuild';

export async function buildPlugin(): Promise<void> {
  await build({
    entryPoints: [new URL('src/index.ts', import.meta.url).pathname],
    outfile: new URL('dist/index.js', import.meta.url).pathname,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // The SDK's source entry: bundling it needs no prior build of the SDK.
    conditions: ['outpost-source'],
    logLevel: 'warning',
  });
}

if (import.meta.main) await buildPlugin();
