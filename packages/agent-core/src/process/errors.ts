import { OutpostError } from '../errors.ts';

export const pipelineClosed = (method: string) =>
  new OutpostError(
    'E_PIPELINE_CLOSED',
    `the processor pipeline is closed; ${method}() is not allowed after close()`,
  );

export const unknownTapStage = (stage: string, known: readonly string[]) =>
  new OutpostError(
    'E_PIPELINE_UNKNOWN_STAGE',
    `no pipeline stage named "${stage}"; tap one of: ${known.join(', ')}`,
    { stage, known: [...known] },
  );

export const processorPluginUnknown = (index: number, stage: string, plugin: string, available: boolean) =>
  new OutpostError(
    'E_PROCESSOR_PLUGIN_UNKNOWN',
    available
      ? `processors[${index}].plugin: no process plugin named "${plugin}" (stage "${stage}"); install and enable it, or fix the name`
      : `processors[${index}].plugin: stage "${stage}" uses plugin "${plugin}", but no process plugins are available`,
    { key: `processors[${index}].plugin`, stage, plugin },
  );
