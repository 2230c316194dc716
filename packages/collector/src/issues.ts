import type { z } from 'zod';

/**
 * Turns zod issues into the short, path-first messages the collector promises in its errors, for
 * example `records[3].ts: expected number, received string`. Shared by the config loader and the
 * ingest validation so both read the same way.
 */

export type IssuePath = readonly PropertyKey[];

export function formatPath(path: IssuePath, root = ''): string {
  let out = root;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$-]*$/.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The message part (without the path) of one issue. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  // A message set on the schema (`{ error: '…' }`) is already written for people; zod's own
  // defaults start with one of these words and are rewritten below.
  if (!/^(Invalid|Too (big|small)|Unrecognized)\b/.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? 'required'
        : `expected ${issue.expected}, received ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${issue.minimum} character(s) long`;
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters long`;
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    default:
      return issue.message;
  }
}

/** `path: message` for each issue, at most `max` of them, as one line. */
export function summarizeIssues(issues: readonly z.core.$ZodIssue[], root: string, max = 5): string {
  const shown = issues
    .slice(0, max)
    .map((issue) => `${formatPath(issue.path, root) || 'body'}: ${describeIssue(issue)}`);
  const more = issues.length > max ? `; and ${issues.length - max} more problem(s)` : '';
  return shown.join('; ') + more;
}
