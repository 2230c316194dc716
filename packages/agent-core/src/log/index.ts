export {
  type CreateLoggerOptions,
  createLogger,
  LOG_FORMATS,
  type LogFormat,
  type Logger,
  logFormatOption,
  logLevelOption,
} from '@outpost/service/log';
