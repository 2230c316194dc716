import os from 'node:os';
import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import si from 'systeminformation';
import { SYSTEM_METRIC_GROUPS, type SystemMetricGroup } from '../config/index.ts';
import { type InputOptions, PollingInput } from './input.ts';

export interface SystemInputOptions extends InputOptions {
  /** Metric groups to collect; all of them by default. */
  metrics?: readonly SystemMetricGroup[];
}

type Push = (
  name: string,
  value: number | null | undefined,
  unit: string,
  attrs?: Record<string, AttrValue>,
) => void;

/** Host metrics with OpenTelemetry names and units, through systeminformation. */
export class SystemInput extends PollingInput {
  readonly name = 'system';
  readonly #groups: readonly SystemMetricGroup[];

  constructor(options: SystemInputOptions) {
    super(options);
    this.#groups = [...new Set(options.metrics ?? SYSTEM_METRIC_GROUPS)];
  }

  // CPU utilization is a difference between two samples of /proc/stat; taking the first one
  // here makes the first scheduled cycle report the load since start() instead of waiting.
  protected override async prepare(): Promise<void> {
    if (this.#groups.includes('cpu')) await si.currentLoad();
  }

  protected async collect(): Promise<OutpostRecord[]> {
    const ts = Date.now();
    const records: OutpostRecord[] = [];
    // Containers and some platforms lack values (null, NaN): skip them rather than emit garbage.
    const push: Push = (name, value, unit, attrs = {}) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return;
      records.push({ kind: 'metric', ts, name, value, unit, attrs, source: 'system' });
    };
    const results = await Promise.allSettled(this.#groups.map((group) => COLLECTORS[group](push)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === results.length && failures.length > 0) throw failures[0]?.reason;
    for (const failure of failures) this.reportError(failure.reason);
    return records;
  }
}

const fraction = (part: number, whole: number) => (whole > 0 ? part / whole : undefined);
const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

const COLLECTORS: Record<SystemMetricGroup, (push: Push) => Promise<void>> = {
  async cpu(push) {
    const load = await si.currentLoad();
    push('system.cpu.utilization', clamp01(load.currentLoad / 100), '1');
    for (const [i, cpu] of load.cpus.entries()) {
      push('system.cpu.utilization', clamp01(cpu.load / 100), '1', { 'cpu.logical_number': i });
    }
  },

  async memory(push) {
    const mem = await si.mem();
    // States add up to the total, as OpenTelemetry asks: "used" is what is neither free nor
    // reclaimable page cache / buffers (SReclaimable counts as cache, as in the collector's hostmetrics).
    const states: Record<string, number> = { free: mem.free };
    if (process.platform === 'linux') {
      states.buffers = mem.buffers;
      states.cached = mem.cached + mem.reclaimable;
    }
    const notUsed = Object.values(states).reduce((a, b) => a + b, 0);
    states.used = Math.max(0, mem.total - notUsed);
    for (const [state, bytes] of Object.entries(states)) {
      push('system.memory.usage', bytes, 'By', { 'system.memory.state': state });
      push('system.memory.utilization', fraction(bytes, mem.total), '1', { 'system.memory.state': state });
    }
  },

  async swap(push) {
    const mem = await si.mem();
    push('system.paging.usage', mem.swapused, 'By', { 'system.paging.state': 'used' });
    push('system.paging.usage', mem.swapfree, 'By', { 'system.paging.state': 'free' });
  },

  async load(push) {
    // Windows has no load average; os.loadavg() answers zeros there.
    if (process.platform === 'win32') return;
    const [one, five, fifteen] = os.loadavg();
    push('system.cpu.load_average.1m', one, '{thread}');
    push('system.cpu.load_average.5m', five, '{thread}');
    push('system.cpu.load_average.15m', fifteen, '{thread}');
  },

  async filesystem(push) {
    const seen = new Set<string>();
    for (const fs of await si.fsSize()) {
      if (!(fs.size > 0) || seen.has(fs.mount)) continue;
      seen.add(fs.mount);
      const attrs = {
        'system.device': fs.fs,
        'system.filesystem.mountpoint': fs.mount,
        'system.filesystem.type': fs.type,
      };
      push('system.filesystem.usage', fs.used, 'By', { ...attrs, 'system.filesystem.state': 'used' });
      push('system.filesystem.usage', fs.available, 'By', { ...attrs, 'system.filesystem.state': 'free' });
      // As df computes Use%: space reserved for root is neither used nor available to users.
      push('system.filesystem.utilization', fraction(fs.used, fs.used + fs.available), '1', attrs);
    }
  },

  async disk(push) {
    const [bytes, operations] = await Promise.all([si.fsStats(), si.disksIO()]);
    if (bytes) {
      push('system.disk.io', bytes.rx, 'By', { 'disk.io.direction': 'read' });
      push('system.disk.io', bytes.wx, 'By', { 'disk.io.direction': 'write' });
    }
    if (operations) {
      push('system.disk.operations', operations.rIO, '{operation}', { 'disk.io.direction': 'read' });
      push('system.disk.operations', operations.wIO, '{operation}', { 'disk.io.direction': 'write' });
    }
  },

  async network(push) {
    for (const iface of await si.networkStats('*')) {
      const receive = { 'network.interface.name': iface.iface, 'network.io.direction': 'receive' };
      const transmit = { 'network.interface.name': iface.iface, 'network.io.direction': 'transmit' };
      push('system.network.io', iface.rx_bytes, 'By', receive);
      push('system.network.io', iface.tx_bytes, 'By', transmit);
      push('system.network.errors', iface.rx_errors, '{error}', receive);
      push('system.network.errors', iface.tx_errors, '{error}', transmit);
      push('system.network.dropped', iface.rx_dropped, '{packet}', receive);
      push('system.network.dropped', iface.tx_dropped, '{packet}', transmit);
    }
  },

  async uptime(push) {
    push('system.uptime', os.uptime(), 's');
  },
};
