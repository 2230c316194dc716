import { hostname } from 'node:os';
import { createLogger, type Logger } from '@outpost/service/log';
import type { LogFormat, LogLevel } from '../config/index.ts';

export { logFormatOption, logLevelOption } from '@outpost/service/log';

export interface CollectorLoggerOptions {
  level: LogLevel;
  /** auto: pretty when stdout is a terminal, JSON lines otherwise (journald, log shippers). */
  format: LogFormat;
  /** Whether stdout counts as a terminal for format auto; process.stdout.isTTY unless given. */
  isTTY?: boolean;
  /** Where lines go; stdout unless given (tests read them back). */
  destination?: NodeJS.WritableStream;
}

export function createCollectorLogger(options: CollectorLoggerOptions): Logger {
  // pino's default fields, which the collector's lines have always carried (the agent drops the host).
  return createLogger({
    ...options,
    name: 'outpost-collector',
    base: { pid: process.pid, hostname: hostname() },
  });
}
