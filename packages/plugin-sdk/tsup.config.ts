import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'manifest/index': 'src/manifest/index.ts',
    'records/index': 'src/records/index.ts',
    'sandbox/index': 'src/sandbox/index.ts',
    'testing/index': 'src/testing/index.ts',
    'build/index': 'src/build/index.ts',
  },
  format: ['esm'],
  target: 'node24',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  dts: true,
});
