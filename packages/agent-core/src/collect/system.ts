import os from 'node:os';
import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import { SYSTEM_METRIC_GROUPS, type SystemMetricGroup } from '../config/index.ts';
import { type InputOptions, PollingInput } from './input.ts';
import {
  type CpuTimes,
  filesystemSpace,
  parseDiskstats,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  readProc,
  utilization,
} from './system-proc.ts';

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

type Collectors = Record<SystemMetricGroup, (push: Push) => Promise<void>>;

/**
 * Host metrics with OpenTelemetry names and units: on Linux read from /proc and statfs in this
 * process (cheap enough for every 10 s), elsewhere through systeminformation.
 */
export class SystemInput extends PollingInput {
  readonly name = 'system';
  readonly #groups: readonly SystemMetricGroup[];
  readonly #collectors: Collectors;

  constructor(options: SystemInputOptions) {
    super(options);
    this.#groups = [...new Set(options.metrics ?? SYSTEM_METRIC_GROUPS)];
    this.#collectors = process.platform === 'linux' ? linuxCollectors() : SI_COLLECTORS;
  }

  // CPU utilization is a difference between two samples of /proc/stat; taking the first one
  // here makes the first scheduled cycle report the load since start() instead of waiting.
  protected override async prepare(): Promise<void> {
    if (this.#groups.includes('cpu')) await this.#collectors.cpu(() => {});
  }

  protected async collect(): Promise<OutpostRecord[]> {
    const ts = Date.now();
    const records: OutpostRecord[] = [];
    // Containers and some platforms lack values (null, NaN): skip them rather than emit garbage.
    const push: Push = (name, value, unit, attrs = {}) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return;
      records.push({ kind: 'metric', ts, name, value, unit, attrs, source: 'system' });
    };
    const results = await Promise.allSettled(this.#groups.map((group) => this.#collectors[group](push)));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length === results.length && failures.length > 0) throw failures[0]?.reason;
    for (const failure of failures) this.reportError(failure.reason);
    return records;
  }
}

const fraction = (part: number, whole: number) => (whole > 0 ? part / whole : undefined);
const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

/** Without a previous reading, CPU utilization is the average since boot (as systeminformation gives). */
function linuxCollectors(): Collectors {
  let previous: CpuTimes[] = [];
  return {
    async cpu(push) {
      const now = parseProcStat(await readProc('stat'));
      const [total, ...cpus] = now;
      const [totalBefore, ...cpusBefore] = previous;
      previous = now;
      if (total === undefined) throw new Error('/proc/stat has no cpu line');
      push('system.cpu.utilization', utilization(totalBefore ?? { total: 0, idle: 0 }, total), '1');
      for (const [i, cpu] of cpus.entries()) {
        const before = cpusBefore[i] ?? { total: 0, idle: 0 };
        push('system.cpu.utilization', utilization(before, cpu), '1', { 'cpu.logical_number': i });
      }
    },

    async memory(push) {
      const mem = parseMeminfo(await readProc('meminfo'));
      const total = mem.get('MemTotal') ?? 0;
      // As in the systeminformation path: used is what is neither free nor buffers/cache (with SReclaimable).
      const states: Record<string, number> = {
        free: mem.get('MemFree') ?? 0,
        buffers: mem.get('Buffers') ?? 0,
        cached: (mem.get('Cached') ?? 0) + (mem.get('SReclaimable') ?? 0),
      };
      const notUsed = Object.values(states).reduce((a, b) => a + b, 0);
      states.used = Math.max(0, total - notUsed);
      for (const [state, bytes] of Object.entries(states)) {
        push('system.memory.usage', bytes, 'By', { 'system.memory.state': state });
        push('system.memory.utilization', fraction(bytes, total), '1', { 'system.memory.state': state });
      }
    },

    async swap(push) {
      const mem = parseMeminfo(await readProc('meminfo'));
      const total = mem.get('SwapTotal') ?? 0;
      const free = mem.get('SwapFree') ?? 0;
      push('system.paging.usage', total - free, 'By', { 'system.paging.state': 'used' });
      push('system.paging.usage', free, 'By', { 'system.paging.state': 'free' });
    },

    load: SI_COLLECTORS.load,

    async filesystem(push) {
      for (const fs of await filesystemSpace(parseMounts(await readProc('mounts')))) {
        pushFilesystem(push, {
          device: fs.device,
          mount: fs.mountpoint,
          type: fs.type,
          used: fs.usedBytes,
          available: fs.freeBytes,
        });
      }
    },

    async disk(push) {
      for (const disk of parseDiskstats(await readProc('diskstats'))) {
        const device = { 'system.device': disk.device };
        push('system.disk.io', disk.readBytes, 'By', { ...device, 'disk.io.direction': 'read' });
        push('system.disk.io', disk.writeBytes, 'By', { ...device, 'disk.io.direction': 'write' });
        push('system.disk.operations', disk.readOps, '{operation}', {
          ...device,
          'disk.io.direction': 'read',
        });
        push('system.disk.operations', disk.writeOps, '{operation}', {
          ...device,
          'disk.io.direction': 'write',
        });
      }
    },

    async network(push) {
      for (const iface of parseNetDev(await readProc('net/dev'))) {
        pushInterface(push, iface.iface, {
          rxBytes: iface.rxBytes,
          txBytes: iface.txBytes,
          rxErrors: iface.rxErrors,
          txErrors: iface.txErrors,
          rxDropped: iface.rxDropped,
          txDropped: iface.txDropped,
        });
      }
    },

    uptime: SI_COLLECTORS.uptime,
  };
}

function pushFilesystem(
  push: Push,
  fs: { device: string; mount: string; type: string; used: number; available: number },
): void {
  const attrs = {
    'system.device': fs.device,
    'system.filesystem.mountpoint': fs.mount,
    'system.filesystem.type': fs.type,
  };
  push('system.filesystem.usage', fs.used, 'By', { ...attrs, 'system.filesystem.state': 'used' });
  push('system.filesystem.usage', fs.available, 'By', { ...attrs, 'system.filesystem.state': 'free' });
  // As df computes Use%: space reserved for root is neither used nor available to users.
  push('system.filesystem.utilization', fraction(fs.used, fs.used + fs.available), '1', attrs);
}

function pushInterface(
  push: Push,
  name: string,
  c: {
    rxBytes: number;
    txBytes: number;
    rxErrors: number;
    txErrors: number;
    rxDropped: number;
    txDropped: number;
  },
): void {
  const receive = { 'network.interface.name': name, 'network.io.direction': 'receive' };
  const transmit = { 'network.interface.name': name, 'network.io.direction': 'transmit' };
  push('system.network.io', c.rxBytes, 'By', receive);
  push('system.network.io', c.txBytes, 'By', transmit);
  push('system.network.errors', c.rxErrors, '{error}', receive);
  push('system.network.errors', c.txErrors, '{error}', transmit);
  push('system.network.dropped', c.rxDropped, '{packet}', receive);
  push('system.network.dropped', c.txDropped, '{packet}', transmit);
}

/** Loaded on first use: Linux never needs it, and it is a large module to keep in memory. */
const systeminformation = async () => (await import('systeminformation')).default;

/** Other platforms: systeminformation, which spawns tools (df, netstat, ...) for some groups. */
const SI_COLLECTORS: Collectors = {
  async cpu(push) {
    const si = await systeminformation();
    const load = await si.currentLoad();
    push('system.cpu.utilization', clamp01(load.currentLoad / 100), '1');
    for (const [i, cpu] of load.cpus.entries()) {
      push('system.cpu.utilization', clamp01(cpu.load / 100), '1', { 'cpu.logical_number': i });
    }
  },

  async memory(push) {
    const si = await systeminformation();
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
    const si = await systeminformation();
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
    const si = await systeminformation();
    const seen = new Set<string>();
    for (const fs of await si.fsSize()) {
      if (!(fs.size > 0) || seen.has(fs.mount)) continue;
      seen.add(fs.mount);
      pushFilesystem(push, {
        device: fs.fs,
        mount: fs.mount,
        type: fs.type,
        used: fs.used,
        available: fs.available,
      });
    }
  },

  async disk(push) {
    const si = await systeminformation();
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
    const si = await systeminformation();
    for (const iface of await si.networkStats('*')) {
      pushInterface(push, iface.iface, {
        rxBytes: iface.rx_bytes,
        txBytes: iface.tx_bytes,
        rxErrors: iface.rx_errors,
        txErrors: iface.tx_errors,
        rxDropped: iface.rx_dropped,
        txDropped: iface.tx_dropped,
      });
    }
  },

  async uptime(push) {
    push('system.uptime', os.uptime(), 's');
  },
};
