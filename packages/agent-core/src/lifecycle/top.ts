import type { PluginStatus } from '../plugins/index.ts';
import type { GuardStatus } from './resource-guard.ts';

/** A plugin's figures as `agentctl top` shows them; counters are cumulative. */
export interface TopPlugin {
  name: string;
  state: string;
  cpuTimeMs: number;
  heapUsedBytes: number;
  calls: number;
  errors: number;
  recordsOut: number;
}

/**
 * GET /v1/top: cumulative counters at one instant. The client takes two of them and divides the
 * differences by the time between, so the agent keeps no per-viewer state and any number of
 * `agentctl top` can run at once.
 */
export interface TopSnapshot {
  at: number;
  pid: number;
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  queue: { depth: number; bytes: number; dropped: number; enqueued: number; acked: number };
  inputs: Array<{
    name: string;
    records: number;
    runs: number;
    errors: number;
    lastDurationMs: number | null;
  }>;
  stages: Array<{ stage: string; type: string; in: number; out: number; dropped: number; errors: number }>;
  /** null when plugins are off (plugins.enabled: false). */
  plugins: TopPlugin[] | null;
  guard: GuardStatus | null;
}

/** The plugin runtime's list, cut to what top shows. */
export function topPlugins(listed: PluginStatus[]): TopPlugin[] {
  return listed.map((p) => ({
    name: p.name,
    state: p.state,
    cpuTimeMs: p.cpuTimeMs,
    heapUsedBytes: p.heapUsedBytes,
    calls: p.calls,
    errors: p.errors,
    recordsOut: p.recordsOut,
  }));
}
