import { OutpostError } from '../errors.ts';

export const sha256Mismatch = (source: string, plugin: string, expected: string, actual: string) =>
  new OutpostError(
    'E_PLUGIN_SHA256',
    `plugin "${plugin}" from ${source}: the entry's sha256 is ${actual}, expected ${expected}; refusing to install`,
    { source, plugin, expected, actual },
  );

export const pluginNotInstalled = (name: string) =>
  new OutpostError('E_PLUGIN_NOT_INSTALLED', `plugin "${name}" is not installed (see agentctl plugin list)`, {
    plugin: name,
  });

export const installSourceInvalid = (source: string, reason: string) =>
  new OutpostError('E_PLUGIN_INSTALL', `cannot install a plugin from ${source}: ${reason}`, { source });

export const registryUnreadable = (file: string, reason: string) =>
  new OutpostError('E_PLUGIN_REGISTRY', `plugin registry ${file}: ${reason}`, { file });

export const stateTooLarge = (plugin: string, bytes: number, max: number) =>
  new OutpostError(
    'E_PLUGIN_STATE_FULL',
    `plugin "${plugin}": its state would be ${bytes} bytes as JSON, over the ${max} bytes it may keep; delete keys first`,
    { plugin, bytes, max },
  );

export const hostDied = (reason: string) =>
  new OutpostError('E_PLUGIN_HOST_DIED', `the plugin host process ended (${reason}); the request was lost`, {
    reason,
  });

export const hostTimeout = (op: string, timeoutMs: number) =>
  new OutpostError('E_PLUGIN_HOST_TIMEOUT', `the plugin host did not answer ${op} within ${timeoutMs} ms`, {
    op,
    timeoutMs,
  });

export const hostClosed = () => new OutpostError('E_PLUGIN_HOST_CLOSED', 'the plugin host was closed');

export const pluginQuarantined = (name: string, reason: string) =>
  new OutpostError(
    'E_PLUGIN_QUARANTINED',
    `plugin "${name}" is quarantined after repeated failures (last: ${reason}); fix it and enable it again`,
    { plugin: name, reason },
  );

export const pluginNotRunning = (name: string, state: string) =>
  new OutpostError('E_PLUGIN_NOT_RUNNING', `plugin "${name}" is not running (state: ${state})`, {
    plugin: name,
    state,
  });

/** An error that crossed the IPC channel as plain data, rebuilt with its code. */
export const remoteError = (data: { code?: string; message: string; details?: Record<string, unknown> }) =>
  new OutpostError(data.code ?? 'E_PLUGIN_HOST', data.message, data.details);

export const capabilityNotDeclared = (name: string, capability: string, declared: readonly string[]) =>
  new OutpostError(
    'E_PLUGIN_CAPABILITY',
    `plugin "${name}" does not declare the "${capability}" capability (it declares: ${declared.join(', ')})`,
    { plugin: name, capability, declared },
  );

export const processPluginMissing = (name: string) =>
  new OutpostError(
    'E_PLUGIN_NOT_INSTALLED',
    `no installed plugin "${name}" with the process capability (agentctl plugin list; agentctl plugin install)`,
    { plugin: name },
  );

/**
 * The SDK (manifest, config validation) raises its own OutpostError class with the same shape;
 * rebuilt here so callers of the runtime and the control server see one class and its code.
 */
export function asOutpostError(err: unknown): unknown {
  if (err instanceof OutpostError || !(err instanceof Error)) return err;
  const { code, details } = err as Error & { code?: unknown; details?: unknown };
  if (typeof code !== 'string') return err;
  return new OutpostError(code, err.message, details as Record<string, unknown> | undefined, { cause: err });
}
