import type { AgentStatus } from '../lifecycle/index.ts';
import { formatAgo, formatBytes, formatDuration, formatLabels } from './format.ts';

/** `agentctl status`: one screen an operator reads top to bottom. */
export function renderStatus(status: AgentStatus, now = Date.now()): string {
  const { agent, collector, queue, sender, inputs } = status;
  const rows: Array<[string, string]> = [];
  rows.push([
    'agent',
    `${collector?.agentId ?? '(not registered yet)'}  host ${agent.hostname}  labels ${formatLabels(agent.labels)}`,
  ]);
  rows.push(['version', `${agent.version}  pid ${agent.pid}  up ${formatDuration(agent.uptimeSec * 1000)}`]);
  rows.push(['config', `${agent.configPath ?? '(built-in defaults)'}  ${agent.configVersion}`]);
  rows.push(['state', `${agent.stateDir}  socket ${agent.socket}`]);
  if (collector) {
    const reach = collector.lastHeartbeatError
      ? `UNREACHABLE: ${collector.lastHeartbeatError}`
      : collector.registered
        ? `reachable, last heartbeat ${formatAgo(collector.lastHeartbeatAt, now)}`
        : `registering: ${collector.lastRegisterError ?? 'in progress'}`;
    rows.push(['collector', `${collector.url}  ${reach}`]);
  }
  if (sender) {
    const failing =
      sender.consecutiveFailures > 0 ? `  failing x${sender.consecutiveFailures}: ${sender.lastError}` : '';
    rows.push([
      'last send',
      `${formatAgo(sender.lastSendAt, now)}  (${sender.batchesSent} batches, ${sender.recordsSent} records, ${formatBytes(sender.bytesSent)} sent)${failing}`,
    ]);
  }
  const dropped = Object.entries(queue.dropped)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  rows.push([
    'queue',
    `${queue.depth} records, ${formatBytes(queue.bytes)}, oldest ${formatAgo(queue.oldestTs, now)}, dropped ${dropped || '0'}, dead-letter ${queue.deadLetter}`,
  ]);
  for (const input of inputs) {
    const err = input.errors > 0 ? `, ${input.errors} errors (last: ${input.lastError})` : '';
    rows.push([`input ${input.name}`, `${input.runs} runs, ${input.records} records${err}`]);
  }
  rows.push(['resources', `cpu ${status.process.cpuPercent}%  rss ${formatBytes(status.process.rssBytes)}`]);
  const { guard } = status;
  if (guard) {
    const cpu = guard.limits.cpuPercent === null ? 'none' : `${guard.limits.cpuPercent}%`;
    const memory = guard.limits.memoryBytes === null ? 'none' : formatBytes(guard.limits.memoryBytes);
    const state =
      guard.level === 0
        ? 'guard ok'
        : `guard level ${guard.level}: inputs x${guard.inputSlowdown}${guard.pausedPlugins.length > 0 ? `, paused ${guard.pausedPlugins.join(', ')}` : ''}`;
    rows.push(['limits', `cpu ${cpu}  rss ${memory}  ${state}`]);
  } else rows.push(['limits', 'none (resource guard off)']);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`;
}
