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

export const controlRequestFailed = (path: string, status: number, message: string) =>
  new OutpostError('E_CONTROL_REQUEST', `agent answered ${status} to ${path}: ${message}`, { path, status });
