import { createRequire } from 'node:module';
import { type LevelWithSilent, type Logger, pino } from 'pino';
import type { LogFormat } from './formats.ts';

// pino-pretty and its colour and date libraries load only when a person reads the logs: a service
// writing JSON to journald never needs them.
const require = createRequire(import.meta.url);
const loadPinoPretty = (): typeof import('pino-pretty') => require('pino-pretty');

export type { Logger } from 'pino';
export { logFormatOption, logLevelOption } from './flags.ts';
export { LOG_FORMATS, type LogFormat } from './formats.ts';

export interface CreateLoggerOptions {
  level: LevelWithSilent;
  name: string;
  /** auto (the default): pretty when stdout is a terminal, JSON otherwise. */
  format?: LogFormat;
  /** Fields on every line; `{ pid }` unless given (pino's default adds the host name too). */
  base?: Record<string, unknown>;
  /** Where lines go; stdout unless given (tests pass a stream to read them back). */
  destination?: NodeJS.WritableStream;
  /** Whether stdout counts as a terminal for format auto; process.stdout.isTTY unless given. */
  isTTY?: boolean;
}

/**
 * JSON lines on stdout, which journald and every log shipper read as they are; readable lines
 * when a person runs the daemon in a terminal.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && isTTY);
  const settings = { level: options.level, name: options.name, base: options.base ?? { pid: process.pid } };
  if (!pretty) {
    return options.destination ? pino(settings, options.destination) : pino(settings);
  }
  // In-process and synchronous rather than pino's worker-thread transport: no extra thread in a
  // daemon that watches its own footprint, and no line lost when the process exits right after.
  const stream = loadPinoPretty()({
    sync: true,
    colorize: isTTY && options.destination === undefined,
    ignore: 'pid,hostname',
    translateTime: 'SYS:HH:MM:ss.l',
    ...(options.destination ? { destination: options.destination } : {}),
  });
  return pino(settings, stream);
}
