import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.ts';
import type { Input, InputOptions } from './input.ts';
import { ProcessInput } from './processes.ts';
import { SystemInput } from './system.ts';

export type { Emit, Input, InputOptions, InputStats } from './input.ts';
export type { ProcessInputOptions } from './processes.ts';
export { ProcessInput } from './processes.ts';
export type { SystemInputOptions } from './system.ts';
export { SystemInput } from './system.ts';

export interface CreateInputsOptions {
  emit: InputOptions['emit'];
  logger: Logger;
}

/** The built-in inputs the config enables, not started yet. */
export function createInputs(config: AgentConfig['inputs'], { emit, logger }: CreateInputsOptions): Input[] {
  const inputs: Input[] = [];
  if (config.system.enabled && config.system.metrics.length > 0) {
    inputs.push(
      new SystemInput({
        intervalMs: config.system.interval,
        metrics: config.system.metrics,
        emit,
        logger: logger.child({ input: 'system' }),
      }),
    );
  }
  const { processes } = config;
  if (processes.enabled && (processes.self || processes.match.length > 0)) {
    inputs.push(
      new ProcessInput({
        intervalMs: processes.interval,
        self: processes.self,
        match: processes.match,
        emit,
        logger: logger.child({ input: 'processes' }),
      }),
    );
  }
  return inputs;
}
