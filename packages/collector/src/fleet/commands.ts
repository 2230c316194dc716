import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseRequest } from '../ingest/index.ts';
import type { Store, StoredCommand } from '../store/index.ts';
import { badFleetBody, forbiddenAgent, notFound } from './errors.ts';

export const COMMAND_TYPES = [
  'reload',
  'flush',
  'stop',
  'restart-plugin',
  'stop-plugin',
  'start-plugin',
  'upgrade',
] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

export const DEFAULT_COMMAND_TTL_MS = 60 * 60 * 1000;

const pluginName = z.strictObject({ name: z.string().min(1).max(214) });
const ARGS: Record<CommandType, z.ZodType<Record<string, unknown>>> = {
  reload: z.strictObject({}),
  flush: z.strictObject({}),
  stop: z.strictObject({}),
  'restart-plugin': pluginName,
  'stop-plugin': pluginName,
  'start-plugin': pluginName,
  upgrade: z.strictObject({ version: z.string().min(1).max(128) }),
};

export const sendCommandSchema = z.strictObject({
  type: z.enum(COMMAND_TYPES),
  args: z.record(z.string(), z.unknown()).default({}),
  /** How long the command waits for the agent; an agent offline longer never runs it. */
  ttlMs: z
    .number()
    .int()
    .min(1000)
    .max(30 * 24 * 3600 * 1000)
    .default(DEFAULT_COMMAND_TTL_MS),
});

export const commandResultSchema = z.strictObject({
  status: z.enum(['succeeded', 'failed', 'awaiting_verification']),
  message: z.string().max(4096),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** What an agent receives in the heartbeat answer. */
export interface DeliveredCommand {
  id: string;
  type: string;
  args: Record<string, unknown>;
  createdAt: number;
}

export async function sendCommand(
  store: Store,
  agentId: string,
  body: unknown,
  now: number,
): Promise<StoredCommand> {
  const request = parseRequest(sendCommandSchema, body);
  const args = ARGS[request.type].safeParse(request.args);
  if (!args.success) {
    const issue = args.error.issues[0]!;
    const where = ['args', ...issue.path.map(String)].join('.');
    throw badFleetBody(`${where}: ${issue.message} (command "${request.type}")`);
  }
  const agent = await store.getAgent(agentId);
  if (!agent) throw notFound(`agent ${agentId} not found`);
  const command = {
    id: `cmd_${randomBytes(10).toString('hex')}`,
    agentId,
    type: request.type,
    args: args.data,
    createdAt: now,
    expiresAt: now + request.ttlMs,
  };
  await store.fleet.queueCommand(command);
  return {
    ...command,
    status: 'queued',
    deliveredAt: null,
    deliveries: 0,
    finishedAt: null,
    result: null,
  };
}

/** Stores what the agent reports; it may only report on its own commands. */
export async function recordCommandResult(
  store: Store,
  agentId: string,
  commandId: string,
  body: unknown,
  now: number,
): Promise<{ recorded: boolean }> {
  const request = parseRequest(commandResultSchema, body);
  const outcome = await store.fleet.finishCommand(agentId, commandId, {
    status: request.status,
    result: { message: request.message, ...(request.data ? { data: request.data } : {}) },
    at: now,
  });
  if (outcome === 'unknown') throw notFound(`command ${commandId} not found`);
  if (outcome === 'other_agent') throw forbiddenAgent(`command ${commandId}`);
  // A result sent twice (the first answer was lost) is not an error: the first one stands.
  return { recorded: outcome === 'ok' };
}

export function deliveredView(command: StoredCommand): DeliveredCommand {
  return { id: command.id, type: command.type, args: command.args, createdAt: command.createdAt };
}
