import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import type { OutpostRecord } from '@outpost/plugin-sdk';
import pino, { type Logger } from 'pino';
import { isOutpostError } from '../../errors.ts';
import { Queue, type QueueOptions } from '../../queue/index.ts';
import type { Emit } from '../input.ts';
import { LogFileInput, type LogFileInputOptions } from './index.ts';

export const silent: Logger = pino({ level: 'silent' });

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-logfile-'));
  dirs.push(dir);
  return dir;
}

/** `line 000042`: numbered lines whose bodies a test can count exactly. */
export const numbered = (i: number) => `line ${String(i).padStart(6, '0')}`;

export async function waitFor(
  what: string | (() => string),
  condition: () => boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      assert.fail(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The emit/cursor path as the agent wires it: a real queue file, enqueue() with the cursors in the
 * same transaction, false when a block-policy queue is full. Records are read back by lease + ack.
 */
export class Harness {
  readonly dir: string;
  readonly queuePath: string;
  queue: Queue;
  readonly received: OutpostRecord[] = [];
  readonly #inputs: LogFileInput[] = [];
  readonly #queueOptions: Partial<QueueOptions>;

  constructor(queueOptions: Partial<QueueOptions> = {}) {
    this.dir = tempDir();
    this.queuePath = path.join(this.dir, 'state', 'queue.db');
    this.#queueOptions = queueOptions;
    this.queue = this.#open();
  }

  #open(): Queue {
    return Queue.open({
      path: this.queuePath,
      maxBytes: 1024 ** 3,
      policy: 'drop_oldest',
      durability: 'normal',
      logger: silent,
      ...this.#queueOptions,
    });
  }

  readonly emit: Emit = async (records, options) => {
    try {
      this.queue.enqueue(records, options);
      return true;
    } catch (err) {
      if (isOutpostError(err, 'E_QUEUE_FULL')) return false;
      throw err;
    }
  };

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** A started input reading into this harness's queue; closed when the test file ends. */
  input(options: Partial<LogFileInputOptions> = {}): LogFileInput {
    const input = new LogFileInput({
      name: 'app',
      paths: [path.join(this.dir, '*.log')],
      startAt: 'beginning',
      pollIntervalMs: 100,
      rotateWaitMs: 300,
      partialLineTimeoutMs: 300,
      hostname: 'test-host',
      emit: this.emit,
      readCursors: (prefix) => this.queue.cursors(prefix),
      logger: silent,
      ...options,
    });
    this.#inputs.push(input);
    after(() => input.close());
    input.start();
    return input;
  }

  /** Takes every record committed so far out of the queue (lease + ack) into `received`. */
  drain(): OutpostRecord[] {
    for (;;) {
      const batch = this.queue.lease({ maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 });
      if (batch === null) break;
      this.received.push(...batch.records);
      this.queue.ack(batch.seq);
    }
    return this.received;
  }

  bodies(): string[] {
    return this.drain().map((r) => r.body ?? '');
  }

  async waitForBodies(count: number, timeoutMs = 10_000): Promise<string[]> {
    await waitFor(
      () => `${count} records (have ${this.received.length})`,
      () => this.bodies().length >= count,
      timeoutMs,
    );
    return this.bodies();
  }

  /** Closes the inputs, then the queue. */
  async close(): Promise<void> {
    await Promise.all(this.#inputs.map((input) => input.close()));
    await this.queue.close();
  }

  async reopenQueue(): Promise<void> {
    await this.queue.close();
    this.queue = this.#open();
  }
}

/** Fails unless `bodies` holds numbered(0..count-1) each exactly once, naming what is off. */
export function assertEachOnce(bodies: readonly string[], count: number): void {
  const seen = new Map<string, number>();
  for (const body of bodies) seen.set(body, (seen.get(body) ?? 0) + 1);
  const missing: number[] = [];
  const twice: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = seen.get(numbered(i)) ?? 0;
    if (n === 0) missing.push(i);
    if (n > 1) twice.push(i);
  }
  const unexpected = [...seen.keys()].filter((b) => !/^line \d{6}$/.test(b) || Number(b.slice(5)) >= count);
  assert.deepEqual(
    { missing: missing.slice(0, 20), duplicated: twice.slice(0, 20), unexpected: unexpected.slice(0, 20) },
    { missing: [], duplicated: [], unexpected: [] },
  );
  assert.equal(bodies.length, count);
}
