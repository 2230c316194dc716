import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout: journald and every log shipper read them as they are. */
export function createLogger(options: { level: LevelWithSilent; name: string }): Logger {
  return pino({ level: options.level, name: options.name, base: { pid: process.pid } });
}
