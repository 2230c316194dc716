import { Option } from 'commander';
import { LOG_FORMATS } from './formats.ts';

/** --log-level: each daemon passes the levels its config accepts, in the order its help lists them. */
export const logLevelOption = (levels: readonly string[]) =>
  new Option('--log-level <level>', 'overrides log.level from the config').choices(levels);

export const logFormatOption = () =>
  new Option(
    '--log-format <format>',
    'overrides log.format from the config (default auto: pretty on a terminal, JSON otherwise)',
  ).choices(LOG_FORMATS);
