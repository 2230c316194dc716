import { cp } from 'node:fs/promises';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/cli/outpost-collector.ts'],
  format: ['esm'],
  target: 'node24',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  splitting: true,
  // Private workspace package (the systemd unit, the logger), a devDependency: bundled, never installed.
  noExternal: ['@outpost/service'],
  // Declarations for the library entry only: the bin is a program.
  dts: { entry: { index: 'src/index.ts' } },
  // The status page is static files served as they are; the bundle finds them in dist/static.
  onSuccess: async () => {
    await cp('src/web/static', 'dist/static', { recursive: true });
  },
});
