import { OutpostError } from '../errors.ts';

/** Codes of the errors a sandbox call can throw on the host. */
export const SANDBOX_ERROR_CODES = [
  'E_PLUGIN_LOAD',
  'E_PLUGIN_TIMEOUT',
  'E_PLUGIN_MEMORY',
  'E_PLUGIN_CPU',
  'E_PLUGIN_THREW',
  'E_PLUGIN_PERMISSION',
  'E_PLUGIN_OUTPUT',
  'E_PLUGIN_CAPABILITY',
  'E_PLUGIN_DEAD',
  'E_PLUGIN_CLOSED',
] as const;

export const loadFailed = (
  plugin: string,
  reason: string,
  details?: Record<string, unknown>,
  cause?: unknown,
) =>
  new OutpostError(
    'E_PLUGIN_LOAD',
    `plugin "${plugin}" cannot be loaded: ${reason}`,
    { plugin, ...details },
    { cause },
  );

export const callTimedOut = (plugin: string, method: string, timeoutMs: number) =>
  new OutpostError(
    'E_PLUGIN_TIMEOUT',
    `plugin "${plugin}": ${method}() did not finish within ${timeoutMs} ms (limits.timeoutMs)`,
    { plugin, method, timeoutMs },
  );

export const memoryExceeded = (plugin: string, method: string, memoryLimitMb: number) =>
  new OutpostError(
    'E_PLUGIN_MEMORY',
    `plugin "${plugin}": ${method}() went over the isolate's memory limit of ${memoryLimitMb} MB; the isolate was disposed (load the plugin again)`,
    { plugin, method, memoryLimitMb },
  );

export const cpuExceeded = (plugin: string, method: string, budgetMs: number, windowMs: number) =>
  new OutpostError(
    'E_PLUGIN_CPU',
    `plugin "${plugin}": ${method}() was stopped: it used up the CPU budget of ${budgetMs} ms per ${windowMs} ms (limits.cpuBudgetMs)`,
    { plugin, method, budgetMs, windowMs },
  );

export const cpuSpent = (
  plugin: string,
  method: string,
  usedMs: number,
  budgetMs: number,
  retryAfterMs: number,
) =>
  new OutpostError(
    'E_PLUGIN_CPU',
    `plugin "${plugin}": ${method}() refused: ${Math.round(usedMs)} ms of CPU used of a ${budgetMs} ms budget; retry in ${Math.ceil(retryAfterMs)} ms`,
    { plugin, method, usedMs, budgetMs, retryAfterMs },
  );

export interface ThrownError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Where the sandbox's own code runs in the isolate; its frames say nothing about the plugin. */
export const BOOTSTRAP_FILENAME = 'file:///outpost/bootstrap.js';

/** The first "at ..." line of a stack in the plugin's code: where in the bundle it threw. */
export function firstFrame(stack: string | undefined): string | undefined {
  return stack
    ?.split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('at ') && !line.includes(BOOTSTRAP_FILENAME));
}

export const pluginThrew = (plugin: string, method: string, thrown: ThrownError) => {
  const frame = firstFrame(thrown.stack);
  const code = thrown.code === undefined ? '' : ` [${thrown.code}]`;
  return new OutpostError(
    'E_PLUGIN_THREW',
    `plugin "${plugin}": ${method}() threw ${thrown.name}${code}: ${thrown.message}${frame ? ` (${frame})` : ''}`,
    { plugin, method, ...thrown },
  );
};

export const permissionDenied = (plugin: string, what: string, details: Record<string, unknown>) =>
  new OutpostError('E_PLUGIN_PERMISSION', `plugin "${plugin}": ${what}`, { plugin, ...details });

export const capabilityMissing = (plugin: string, capability: string, declared: readonly string[]) =>
  new OutpostError(
    'E_PLUGIN_CAPABILITY',
    `plugin "${plugin}" does not declare the "${capability}" capability (manifest capabilities: ${declared.join(', ')})`,
    { plugin, capability, declared },
  );

export const sandboxDead = (plugin: string, reason: OutpostError) =>
  new OutpostError(
    'E_PLUGIN_DEAD',
    `plugin "${plugin}" is not running since ${reason.code}: ${reason.message}`,
    { plugin, reason: reason.code },
  );

export const sandboxClosed = (plugin: string) =>
  new OutpostError('E_PLUGIN_CLOSED', `plugin "${plugin}": the sandbox was disposed`, { plugin });

export const catastrophic = (plugin: string, message: string) =>
  new OutpostError('E_PLUGIN_MEMORY', `plugin "${plugin}": V8 lost control of the isolate: ${message}`, {
    plugin,
    catastrophic: true,
  });

/** Errors a plugin sees from host calls (their code travels into the isolate as `err.code`). */
export const hostCallFailed = (code: 'E_PLUGIN_HTTP' | 'E_PLUGIN_FILE' | 'E_PLUGIN_STATE', message: string) =>
  new OutpostError(code, message);
