import { OutpostError } from '../errors.ts';

export const agentClosed = () => new OutpostError('E_AGENT_CLOSED', 'the agent is shutting down');

export const agentStarting = () =>
  new OutpostError('E_AGENT_STARTING', 'the agent is still starting; try again in a moment');

export const badBatchParam = (raw: string) =>
  new OutpostError(
    'E_BAD_REQUEST',
    `batch must be a batch seq (a positive integer), got ${JSON.stringify(raw)}`,
  );

export const guardClosed = (method: string) =>
  new OutpostError('E_GUARD_CLOSED', `resource guard: ${method}() after close()`);
