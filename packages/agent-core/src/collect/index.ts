import type { Logger } from 'pino';
import type { AgentConfig } from '../config/index.ts';
import type { Input, InputOptions } from './input.ts';
import { LogFileInput, logfileNoCursors } from './logfile/index.ts';
import { ProcessInput } from './processes.ts';
import { SystemInput } from './system.ts';

export type { Emit, Input, InputOptions, InputStats } from './input.ts';
export type { LogFileInputOptions, LogFileInputStats } from './logfile/index.ts';
export { LogFileInput } from './logfile/index.ts';
export type { ProcessInputOptions } from './processes.ts';
export { ProcessInput } from './processes.ts';
export type { SystemInputOptions } from './system.ts';
export { SystemInput } from './system.ts';

export interface CreateInputsOptions {
  emit: InputOptions['emit'];
  logger: Logger;
  /** Committed input cursors by key prefix, `(p) => queue.cursors(p)`; log inputs need it. */
  readCursors?: (prefix: string) => Map<string, string>;
  /** Attr host.name of log records; default os.hostname(). */
  hostname?: string;
}

/** The built-in inputs the config enables, not started yet. */
export function createInputs(
  config: AgentConfig['inputs'],
  { emit, logger, readCursors, hostname }: CreateInputsOptions,
): Input[] {
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
  for (const log of config.logs) {
    if (readCursors === undefined) throw logfileNoCursors(log.name);
    inputs.push(
      new LogFileInput({
        name: log.name,
        paths: log.paths,
        exclude: log.exclude,
        startAt: log.start_at,
        multiline: log.multiline && {
          startPattern: log.multiline.start_pattern,
          maxLines: log.multiline.max_lines,
          timeoutMs: log.multiline.timeout,
        },
        maxRecordBytes: log.max_record_bytes,
        partialLineTimeoutMs: log.partial_line_timeout,
        rotateWaitMs: log.rotate_wait,
        encoding: log.encoding,
        pollIntervalMs: log.poll_interval,
        hostname,
        emit,
        readCursors,
        logger: logger.child({ input: `logs.${log.name}` }),
      }),
    );
  }
  return inputs;
}
export { MAX_PUSHED_RECORDS, parsePushedRecords } from './push.ts';
