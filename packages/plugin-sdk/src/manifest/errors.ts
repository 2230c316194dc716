import { OutpostError } from '../errors.ts';

export interface FieldProblem {
  /** Dotted path, e.g. `permissions.http[0]` or `config.url`. */
  path: string;
  message: string;
}

const joinProblems = (problems: readonly FieldProblem[]) =>
  problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`)).join('; ');

export const manifestInvalid = (file: string, problems: readonly FieldProblem[]) =>
  new OutpostError('E_PLUGIN_MANIFEST', `${file}: ${joinProblems(problems)}`, { file, problems });

export const manifestUnreadable = (file: string, reason: string) =>
  new OutpostError('E_PLUGIN_MANIFEST', `${file}: ${reason}`, { file });

export const configInvalid = (plugin: string, problems: readonly FieldProblem[]) =>
  new OutpostError('E_PLUGIN_CONFIG', `plugin "${plugin}": ${joinProblems(problems)}`, { plugin, problems });

export const entryMissing = (plugin: string, entry: string, file: string) =>
  new OutpostError(
    'E_PLUGIN_LOAD',
    `plugin "${plugin}": entry ${entry} not found at ${file} (build the plugin first)`,
    { plugin, entry, file },
  );

export const entryTooLarge = (plugin: string, file: string, bytes: number, max: number) =>
  new OutpostError(
    'E_PLUGIN_LOAD',
    `plugin "${plugin}": entry ${file} is ${bytes} bytes, over the ${max} bytes a bundle may have`,
    { plugin, file, bytes, max },
  );
