import { type Logger, pino } from 'pino';
import pinoPretty from 'pino-pretty';
import type { LogFormat, LogLevel } from '../config/index.ts';

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
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && isTTY);
  const settings = { name: 'outpost-collector', level: options.level };
  if (!pretty) return options.destination ? pino(settings, options.destination) : pino(settings);
  // In-process and synchronous, as the agent does: no worker thread, no line lost at exit.
  const stream = pinoPretty({
    sync: true,
    colorize: isTTY && options.destination === undefined,
    ignore: 'pid,hostname',
    translateTime: 'SYS:HH:MM:ss.l',
    ...(options.destination ? { destination: options.destination } : {}),
  });
  return pino(settings, stream);
}
