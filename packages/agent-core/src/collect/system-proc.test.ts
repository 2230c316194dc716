import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { test } from 'node:test';
import {
  filesystemSpace,
  parseDiskstats,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  utilization,
} from './system-proc.ts';

const linux = process.platform === 'linux';

test('system /proc: stat gives the total then one line per cpu; utilization is busy over total', () => {
  const text = `cpu  100 0 100 700 100 0 0 0 0 0
cpu0 50 0 50 350 50 0 0 0 0 0
cpu1 50 0 50 350 50 0 0 0 0 0
intr 12345
`;
  const later = `cpu  200 0 200 1300 300 0 0 0 0 0
cpu0 150 0 150 500 200 0 0 0 0 0
cpu1 50 0 50 800 100 0 0 0 0 0
`;
  const [total, cpu0, cpu1] = parseProcStat(text);
  const [total2, cpu0b, cpu1b] = parseProcStat(later);
  assert.deepEqual(total, { total: 1000, idle: 800 });
  // 1000 jiffies passed, 800 of them idle or iowait.
  assert.equal(utilization(total!, total2!), 0.2);
  assert.equal(utilization(cpu0!, cpu0b!), 0.4);
  assert.equal(utilization(cpu1!, cpu1b!), 0);
  assert.equal(utilization(total!, total!), undefined, 'no time passed');
  if (linux) assert.equal(parseProcStat(readFileSync('/proc/stat', 'utf8')).length, os.cpus().length + 1);
});

test('system /proc: meminfo in bytes, net/dev per interface, diskstats per whole disk', () => {
  const mem = parseMeminfo('MemTotal:       16000 kB\nMemFree:         4000 kB\nHugePages_Total:       0\n');
  assert.equal(mem.get('MemTotal'), 16000 * 1024);
  assert.equal(mem.get('MemFree'), 4000 * 1024);
  if (linux) assert.equal(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')).get('MemTotal'), os.totalmem());

  const net = parseNetDev(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 5000 50 1 2 0 0 0 0 7000 70 3 4 0 0 0 0
`);
  assert.deepEqual(net[1], {
    iface: 'eth0',
    rxBytes: 5000,
    rxErrors: 1,
    rxDropped: 2,
    txBytes: 7000,
    txErrors: 3,
    txDropped: 4,
  });

  const disks = parseDiskstats(`   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0
   8       0 sda 100 0 2000 0 50 0 1000 0 0 0 0
   8       1 sda1 90 0 1800 0 40 0 800 0 0 0 0
 259       0 nvme0n1 10 0 80 0 5 0 40 0 0 0 0
 259       1 nvme0n1p1 10 0 80 0 5 0 40 0 0 0 0
`);
  assert.deepEqual(
    disks.map((d) => [d.device, d.readOps, d.readBytes, d.writeOps, d.writeBytes]),
    [
      ['sda', 100, 2000 * 512, 50, 1000 * 512],
      ['nvme0n1', 10, 80 * 512, 5, 40 * 512],
    ],
  );
});

test('system /proc: mounts skip kernel filesystems and unescape paths; statfs gives used and free', async () => {
  const mounts = parseMounts(`proc /proc proc rw 0 0
/dev/sda1 / ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/sdb1 /mnt/my\\040disk xfs rw 0 0
/dev/sda1 / ext4 rw 0 0
`);
  assert.deepEqual(mounts, [
    { device: '/dev/sda1', mountpoint: '/', type: 'ext4' },
    { device: '/dev/sdb1', mountpoint: '/mnt/my disk', type: 'xfs' },
  ]);
  if (!linux) return;
  const [root, missing] = await filesystemSpace([
    { device: 'x', mountpoint: '/', type: 'any' },
    { device: 'y', mountpoint: '/no/such/mount', type: 'any' },
  ]);
  assert.equal(missing, undefined, 'an unreadable mount is skipped');
  assert.ok(root && root.usedBytes > 0 && root.freeBytes >= 0);
});
