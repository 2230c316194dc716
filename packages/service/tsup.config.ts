import { defineConfig } from 'tsup';

// Built only for the agent's and the collector's bundles, which inline it (noExternal): the
// package is private and never installed on a host.
export default defineConfig({
  entry: {
    'systemd/index': 'src/systemd/index.ts',
    'log/index': 'src/log/index.ts',
    'notify/index': 'src/notify/index.ts',
    'undici/index': 'src/undici/index.ts',
    'node-flags/index': 'src/node-flags/index.ts',
  },
  format: ['esm'],
  target: 'node24',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  dts: true,
});
