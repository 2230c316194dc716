import { OutpostError } from '../errors.ts';

export interface ConfigProblem {
  /** Dotted key as written in YAML (`limits.max_body_bytes`), or the flag / env var name. */
  key: string;
  message: string;
  line?: number;
  column?: number;
}

/** `source` is the config file path, or a description such as "command-line flags". */
export const configInvalid = (source: string, problems: ConfigProblem[]) =>
  new OutpostError(
    'E_CONFIG_INVALID',
    `invalid configuration: ${problems
      .map((p) =>
        p.line === undefined
          ? `${source}: ${p.key}: ${p.message}`
          : `${source}:${p.line}:${p.column ?? 1}: key "${p.key}": ${p.message}`,
      )
      .join('; ')}`,
    { source, problems },
  );

export const configUnreadable = (file: string, cause: unknown) =>
  new OutpostError(
    'E_CONFIG_INVALID',
    `cannot read config file ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { source: file },
    { cause },
  );
