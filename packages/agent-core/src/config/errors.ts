import { OutpostError } from '../errors.ts';

/** One problem in a config file, with the position a person can jump to. */
export interface ConfigIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Dotted path of the key, e.g. "queue.max_bytes" or "inputs.processes.match[0].name"; "" when none applies. */
  key: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const key = issue.key === '' ? '' : `${issue.key}: `;
  return `${issue.file}:${issue.line}:${issue.column}: ${key}${issue.message}`;
}

/** Every problem found in a config file at once, one line each, so one edit can fix them all. */
export class ConfigError extends OutpostError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super('E_CONFIG_INVALID', issues.map(formatIssue).join('\n'), { issues });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export const configNotFound = (path: string) =>
  new OutpostError('E_CONFIG_NOT_FOUND', `config file ${path} does not exist`, { path });

export const configUnreadable = (path: string, cause: Error) =>
  new OutpostError(
    'E_CONFIG_UNREADABLE',
    `cannot read config file ${path}: ${cause.message}`,
    { path },
    { cause },
  );
