import type { Registry } from 'prom-client';
import { defineScrapedMetric } from '../telemetry/index.ts';
import type { PluginStatus } from './runtime.ts';

const PREFIX = 'outpost_agent_plugin_';

/**
 * Per-plugin self-metrics (label `plugin`) on the agent's registry, read from `list` at scrape
 * time. A removed plugin's series disappear at the next scrape.
 */
export function registerPluginMetrics(registry: Registry, list: () => PluginStatus[]): void {
  const define = (
    type: 'counter' | 'gauge',
    name: string,
    help: string,
    read: (p: PluginStatus) => number,
    extraLabels: (p: PluginStatus) => Record<string, string> = () => ({}),
  ) =>
    defineScrapedMetric({
      type,
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['plugin', ...(name === 'info' ? ['version', 'state'] : [])],
      registry,
      fill: (set) => {
        for (const p of list()) set({ plugin: p.name, ...extraLabels(p) }, read(p));
      },
    });
  define(
    'gauge',
    'info',
    'Installed plugins: always 1; the labels carry the version and the state (running, backoff, quarantined, disabled, paused)',
    () => 1,
    (p) => ({ version: p.version, state: p.state }),
  );
  define('gauge', 'up', '1 when the plugin is running', (p) => (p.state === 'running' ? 1 : 0));
  define('counter', 'calls_total', 'Calls into the plugin (collect, process, rule, action)', (p) => p.calls);
  define('counter', 'errors_total', 'Failed calls: thrown, timed out, over a limit', (p) => p.errors);
  define('counter', 'restarts_total', 'Times the plugin was restarted after a failure', (p) => p.restarts);
  define('counter', 'records_in_total', 'Records given to the plugin', (p) => p.recordsIn);
  define('counter', 'records_out_total', 'Records the plugin returned or emitted', (p) => p.recordsOut);
  define(
    'counter',
    'cpu_seconds_total',
    "CPU time of the plugin's current isolate (starts over when it is loaded again)",
    (p) => p.cpuTimeMs / 1000,
  );
  define(
    'gauge',
    'heap_bytes',
    "Heap used by the plugin's isolate, ArrayBuffers included",
    (p) => p.heapUsedBytes,
  );
  define(
    'counter',
    'backlog_dropped_total',
    'Records (rule) or alerts (action) dropped because the plugin was behind or failed',
    (p) => p.backlogDropped,
  );
}
