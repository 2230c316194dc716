import { defineConfig } from 'tsup';

export default defineConfig({
  // The plugin host is forked from whichever chunk holds plugins/host.ts, which resolves
  // ./host-main.js next to itself: chunks land at the root of dist/, so the host's entry does too.
  entry: {
    index: 'src/index.ts',
    'cli/outpost-agent': 'src/cli/outpost-agent.ts',
    'cli/agentctl': 'src/cli/agentctl.ts',
    'host-main': 'src/plugins/host-main.ts',
  },
  format: ['esm'],
  target: 'node24',
  platform: 'node',
  outDir: 'dist',
  clean: true,
  sourcemap: true,
  splitting: true,
  // The SDK is a dependency so that an installed agent has it as a package for the plugin projects
  // agentctl scaffolds (they depend on it with file:), but the agent runs its own bundled copy.
  // @outpost/service (the systemd unit, the logger) is private, a devDependency: only bundled.
  noExternal: ['@outpost/plugin-sdk', '@outpost/service'],
  // Declarations for the library entry only: the bins and the plugin host are programs.
  dts: { entry: { index: 'src/index.ts' } },
});
