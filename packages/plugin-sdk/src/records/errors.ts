import { OutpostError } from '../errors.ts';

export const outputInvalid = (plugin: string, method: string, problem: string) =>
  new OutpostError('E_PLUGIN_OUTPUT', `plugin "${plugin}": ${method}() output refused: ${problem}`, {
    plugin,
    method,
    problem,
  });
