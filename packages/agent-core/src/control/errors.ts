import { OutpostError } from '../errors.ts';

export const agentAlreadyRunning = (socketPath: string) =>
  new OutpostError(
    'E_ALREADY_RUNNING',
    `another outpost-agent is already listening on ${socketPath}; stop it first or give this one another agent.state_dir`,
    { socketPath },
  );

export const agentNotRunning = (socketPath: string, cause: unknown) =>
  new OutpostError(
    'E_AGENT_NOT_RUNNING',
    `no outpost-agent is listening on ${socketPath} (${(cause as NodeJS.ErrnoException).code ?? String(cause)}): is it running? Start it with \`outpost-agent --config <file>\` or \`systemctl start outpost-agent\`, or point agentctl at its socket with --socket`,
    { socketPath },
    { cause },
  );

export const socketNotAccessible = (socketPath: string, cause: unknown) =>
  new OutpostError(
    'E_SOCKET_ACCESS',
    `cannot open ${socketPath}: permission denied; the control socket is readable by the agent's user only (run agentctl as that user, or with sudo)`,
    { socketPath },
    { cause },
  );

/** `remoteCode` is the agent's own error code (e.g. E_BAD_REQUEST), for callers that branch on it. */
export const controlRequestFailed = (path: string, status: number, message: string, remoteCode?: string) =>
  new OutpostError('E_CONTROL_REQUEST', `agent answered ${status} to ${path}: ${message}`, {
    path,
    status,
    remoteCode,
  });

/** Routes throw it for bad query params or body fields; the server answers 400. */
export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new OutpostError('E_BAD_REQUEST', message, details);

export const bodyTooLarge = (path: string, limit: number) =>
  new OutpostError('E_BODY_TOO_LARGE', `${path}: the request body is larger than ${limit} bytes`, {
    path,
    limit,
  });
