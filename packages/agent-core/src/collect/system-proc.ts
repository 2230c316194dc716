import { readFile, statfs } from 'node:fs/promises';

/**
 * Host figures read straight from Linux's /proc, in this process. systeminformation gets some of
 * them by spawning df, lsblk or cat every call, which costs a tenth of a CPU-second or more each
 * time; these reads cost microseconds, so the system input can run every 10 s at almost no cost.
 */

export interface CpuTimes {
  /** Jiffies per state, summed: all of them, and idle + iowait. */
  total: number;
  idle: number;
}

/** /proc/stat: the "cpu" line first, then one per logical CPU in order. */
export function parseProcStat(text: string): CpuTimes[] {
  const cpus: CpuTimes[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    // user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
    const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    cpus.push({ total, idle: (fields[3] ?? 0) + (fields[4] ?? 0) });
  }
  return cpus;
}

/** Busy share between two readings, 0..1; undefined when no time passed. */
export function utilization(before: CpuTimes, after: CpuTimes): number | undefined {
  const total = after.total - before.total;
  if (!(total > 0)) return undefined;
  return Math.min(1, Math.max(0, (total - (after.idle - before.idle)) / total));
}

/** /proc/meminfo in bytes, by field name (MemTotal, MemFree, Buffers, Cached, SReclaimable, Swap*). */
export function parseMeminfo(text: string): Map<string, number> {
  const fields = new Map<string, number>();
  for (const match of text.matchAll(/^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?$/gm)) {
    const [, name, value] = match;
    if (name !== undefined && value !== undefined) fields.set(name, Number(value) * 1024);
  }
  return fields;
}

export interface InterfaceCounters {
  iface: string;
  rxBytes: number;
  rxErrors: number;
  rxDropped: number;
  txBytes: number;
  txErrors: number;
  txDropped: number;
}

/** /proc/net/dev: cumulative counters per network interface. */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    out.push({
      iface: line.slice(0, colon).trim(),
      rxBytes: f[0] ?? 0,
      rxErrors: f[2] ?? 0,
      rxDropped: f[3] ?? 0,
      txBytes: f[8] ?? 0,
      txErrors: f[10] ?? 0,
      txDropped: f[11] ?? 0,
    });
  }
  return out;
}

export interface DiskCounters {
  device: string;
  readOps: number;
  readBytes: number;
  writeOps: number;
  writeBytes: number;
}

// Partitions count their I/O in their disk too; loop, ram and zram devices are not real disks.
const PARTITION = /^(?:(?:sd|hd|vd|xvd)[a-z]+\d+|(?:nvme\d+n\d+|mmcblk\d+)p\d+|dm-\d+p\d+)$/;
const VIRTUAL_DISK = /^(?:loop|ram|zram|fd|sr)\d*/;

/** /proc/diskstats: cumulative I/O per whole disk (sectors are 512 bytes whatever the device). */
export function parseDiskstats(text: string): DiskCounters[] {
  const out: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const device = f[2];
    if (device === undefined || f.length < 10 || PARTITION.test(device) || VIRTUAL_DISK.test(device))
      continue;
    out.push({
      device,
      readOps: Number(f[3]),
      readBytes: Number(f[5]) * 512,
      writeOps: Number(f[7]),
      writeBytes: Number(f[9]) * 512,
    });
  }
  return out;
}

export interface Mount {
  device: string;
  mountpoint: string;
  type: string;
}

/** Kernel and memory filesystems: no disk space to report. */
const PSEUDO_FS = new Set([
  'autofs',
  'binfmt_misc',
  'bpf',
  'cgroup',
  'cgroup2',
  'configfs',
  'debugfs',
  'devpts',
  'devtmpfs',
  'efivarfs',
  'fusectl',
  'hugetlbfs',
  'mqueue',
  'nsfs',
  'proc',
  'pstore',
  'ramfs',
  'rpc_pipefs',
  'securityfs',
  'selinuxfs',
  'squashfs',
  'sysfs',
  'tmpfs',
  'tracefs',
]);

/** /proc/mounts: filesystems with disk space, each mount point once. */
export function parseMounts(text: string): Mount[] {
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const [device, rawMount, type] = line.split(' ');
    if (device === undefined || rawMount === undefined || type === undefined || PSEUDO_FS.has(type)) continue;
    // Spaces and tabs in mount points are octal escapes (\040).
    const mountpoint = rawMount.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(Number.parseInt(octal, 8)),
    );
    if (seen.has(mountpoint)) continue;
    seen.add(mountpoint);
    out.push({ device, mountpoint, type });
  }
  return out;
}

export interface FilesystemSpace extends Mount {
  usedBytes: number;
  /** Available to unprivileged users (what df shows as Avail). */
  freeBytes: number;
}

/** Space of each mounted filesystem by statfs(2); a mount that cannot be read is skipped. */
export async function filesystemSpace(mounts: Mount[]): Promise<FilesystemSpace[]> {
  const results = await Promise.allSettled(
    mounts.map(async (m) => {
      const s = await statfs(m.mountpoint);
      return {
        ...m,
        usedBytes: (s.blocks - s.bfree) * s.bsize,
        freeBytes: s.bavail * s.bsize,
        size: s.blocks,
      };
    }),
  );
  return results.flatMap((r) =>
    r.status === 'fulfilled' && r.value.size > 0
      ? [
          {
            device: r.value.device,
            mountpoint: r.value.mountpoint,
            type: r.value.type,
            usedBytes: r.value.usedBytes,
            freeBytes: r.value.freeBytes,
          },
        ]
      : [],
  );
}

export const readProc = (name: string) => readFile(`/proc/${name}`, 'utf8');
