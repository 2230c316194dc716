import type { Command } from 'commander';
import { loadConfig } from '../config/index.ts';
import { ControlClient } from '../control/index.ts';

/** What every agentctl command group gets: a way to reach the running agent. */
export interface CliContext {
  /** Opens the control socket (from -s, else the config's control.socket), runs `use`, closes it. */
  withAgent<T>(use: (client: ControlClient) => Promise<T>): Promise<T>;
  /** The -c/--config file given on the command line, if any. */
  configPath(): string | undefined;
}

export function createCliContext(program: Command): CliContext {
  const opts = () => program.opts<{ socket?: string; config?: string }>();
  return {
    configPath: () => opts().config,
    async withAgent(use) {
      const { socket, config } = opts();
      const path = socket ?? (await loadConfig({ path: config, env: process.env })).config.control.socket;
      const client = new ControlClient(path);
      try {
        return await use(client);
      } finally {
        await client.close();
      }
    },
  };
}

/** For command.error(): usage mistakes exit 2, as commander's own parse errors do. */
export const USAGE = { exitCode: 2, code: 'agentctl.usage' } as const;
