export {
  type CreateLoggerOptions,
  createLogger,
  LOG_FORMATS,
  type LogFormat,
  type Logger,
} from '@outpost/service/log';
