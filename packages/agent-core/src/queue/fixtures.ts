import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { OutpostRecord, RecordKind } from '@outpost/plugin-sdk';
import pino, { type Logger } from 'pino';
import { Queue, type QueueOptions } from './index.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A queue file path inside a fresh temp dir, removed when the test file ends. */
export function tempQueuePath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-queue-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'queue.db');
}

export const silent: Logger = pino({ level: 'silent' });

/** A logger that keeps every line it writes, parsed. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export class FakeClock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export function openQueue(file: string, overrides: Partial<QueueOptions> = {}): Queue {
  return Queue.open({
    path: file,
    maxBytes: 1024 * 1024,
    policy: 'drop_oldest',
    durability: 'normal',
    logger: silent,
    ...overrides,
  });
}

/**
 * A record in the queue's canonical field order, so JSON.stringify(record) is byte for byte what
 * the queue stores; padded to exactly `size` payload bytes when given.
 */
export function rec(kind: RecordKind, id: number, size?: number): OutpostRecord {
  const base = build(kind, id, '');
  if (size === undefined) return base;
  const pad = size - bytesOf(base);
  if (pad < 0) throw new Error(`rec(${kind}, ${id}) needs at least ${bytesOf(base)} bytes`);
  return build(kind, id, 'x'.repeat(pad));
}

function build(kind: RecordKind, id: number, pad: string): OutpostRecord {
  const attrs = { id, pad };
  switch (kind) {
    case 'metric':
      return {
        kind,
        ts: 1000 + id,
        name: 'system.cpu.utilization',
        value: id / 10,
        unit: '1',
        attrs,
        source: 'system',
      };
    case 'log':
      return { kind, ts: 1000 + id, name: '/var/log/syslog', body: `line ${id}`, attrs, source: 'log' };
    default:
      return { kind, ts: 1000 + id, name: `${kind}.${id}`, attrs, source: 'plugin:test' };
  }
}

export function bytesOf(record: OutpostRecord): number {
  return Buffer.byteLength(JSON.stringify(record), 'utf8');
}

export function ids(records: Array<{ attrs: Record<string, unknown> }>): number[] {
  return records.map((r) => r.attrs.id as number);
}
