import { OutpostError } from '../errors.ts';

export const noEnrollmentToken = (url: string) =>
  new OutpostError(
    'E_NO_ENROLLMENT_TOKEN',
    `cannot register with the collector at ${url}: no enrollment token; set collector.enrollment_token in the config or OUTPOST_ENROLLMENT_TOKEN in the environment (records are kept in the queue meanwhile)`,
    { url },
  );

export const registrationRefused = (url: string, status: number, code: string, message: string) =>
  new OutpostError(
    'E_REGISTRATION_REFUSED',
    `the collector at ${url} refused registration (${status} ${code}): ${message}`,
    { url, status, code },
  );

export const collectorUnreachable = (url: string, cause: unknown) =>
  new OutpostError(
    'E_COLLECTOR_UNREACHABLE',
    `cannot reach the collector at ${url}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { url },
    { cause },
  );

export const badIdentityFile = (path: string, reason: string) =>
  new OutpostError('E_IDENTITY_INVALID', `${path}: ${reason}`, {
    path,
  });

export const remoteConfigRefused = (version: string, reason: string) =>
  new OutpostError('E_REMOTE_CONFIG_INVALID', `remote config ${version}: ${reason}`, { version });

export const stateFileInvalid = (path: string, reason: string) =>
  new OutpostError('E_STATE_FILE_INVALID', `${path}: ${reason}; it is set aside and rebuilt`, { path });

export const notRegistered = (url: string) =>
  new OutpostError('E_NOT_REGISTERED', `not registered with the collector at ${url} yet`, { url });

export const pluginDidNotLoad = (name: string, message: string) =>
  new OutpostError('E_PLUGIN_LOAD', message, { name });
