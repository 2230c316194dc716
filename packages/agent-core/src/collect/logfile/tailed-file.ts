import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import path from 'node:path';
import { LineAssembler, type LineAssemblerOptions, type LineCounters } from './lines.ts';

/** Bytes at a file's start whose hash tells a re-created or rewritten file from the one a cursor names. */
export const FINGERPRINT_BYTES = 1024;

export interface Fingerprint {
  len: number;
  hash: string;
}

/** A committed position, stored as the JSON value of the cursor `logfile:<input>:<dev>:<ino>`. */
export interface FileCursor {
  v: 1;
  path: string;
  dev: string;
  ino: string;
  offset: number;
  fp: Fingerprint;
}

export const fileId = (stat: Pick<BigIntStats, 'dev' | 'ino'>) => `${stat.dev}:${stat.ino}`;

/** Null for a value this version cannot use: the file is then treated as new. */
export function parseCursor(value: string): FileCursor | null {
  try {
    const c = JSON.parse(value) as Partial<FileCursor>;
    const valid =
      c.v === 1 &&
      typeof c.path === 'string' &&
      typeof c.dev === 'string' &&
      typeof c.ino === 'string' &&
      Number.isSafeInteger(c.offset) &&
      (c.offset as number) >= 0 &&
      typeof c.fp?.len === 'number' &&
      typeof c.fp.hash === 'string';
    return valid ? (c as FileCursor) : null;
  } catch {
    return null;
  }
}

const hashOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 32);

/** One open log file, tracked by device and inode so it is followed through renames. */
export class TailedFile {
  readonly id: string;
  readonly key: string;
  readonly dev: string;
  readonly ino: string;
  readonly handle: FileHandle;
  readonly lines: LineAssembler;
  path: string;
  name: string;
  /** Still at a path that matches the input's globs; else rotated away or deleted, read to its end. */
  attached = true;
  detachedAt = 0;
  /** Next byte to read. */
  readPos: number;
  fp: Fingerprint;
  /** Something may be left to read (an event, a poll or a read that filled its buffer). */
  dirty = true;
  /** Read to its end since it last left a path, so the file now at that path may go next. */
  drainedOnce = false;
  /** mtime at the last poll: the first bytes are checked again only when it changes. */
  lastMtimeMs = 0;
  lastGrowthAt: number;
  /** The file that held this one's path before it: read to its end first, to keep lines in order. */
  after: TailedFile | null = null;
  closed = false;

  private constructor(
    handle: FileHandle,
    stat: BigIntStats,
    filePath: string,
    key: string,
    offset: number,
    fp: Fingerprint,
    lines: LineAssembler,
    now: number,
  ) {
    this.handle = handle;
    this.dev = String(stat.dev);
    this.ino = String(stat.ino);
    this.id = fileId(stat);
    this.key = key;
    this.path = filePath;
    this.name = path.basename(filePath);
    this.readPos = offset;
    this.fp = fp;
    this.lines = lines;
    this.lastGrowthAt = now;
  }

  /**
   * Opens `filePath` and decides where to read from: the cursor's offset if the cursor names this
   * very file (same first bytes) and it was not truncated below it, else `fallback`. Returns null if
   * the path now holds a different file than `expected` (it changed between stat and open).
   */
  static async open(options: {
    filePath: string;
    expected: BigIntStats;
    keyPrefix: string;
    cursor: FileCursor | null;
    /** Where to start without a usable cursor: 0 or the end of the file. */
    fallback: 'start' | 'end';
    assembler: LineAssemblerOptions;
    counters: LineCounters;
    now: number;
  }): Promise<{ file: TailedFile; truncated: boolean } | null> {
    const handle = await open(options.filePath, 'r');
    try {
      const stat = await handle.stat({ bigint: true });
      if (stat.dev !== options.expected.dev || stat.ino !== options.expected.ino || !stat.isFile()) {
        await handle.close();
        return null;
      }
      const size = Number(stat.size);
      const fp = await fingerprint(handle, size);
      let offset = options.fallback === 'end' ? size : 0;
      let truncated = false;
      const { cursor } = options;
      if (cursor !== null) {
        // Shorter than the bytes the cursor hashed, or other bytes there: truncated and written
        // again (copytruncate), or a new file that reuses the inode. Either way, all of it is new.
        const sameStart =
          cursor.fp.len <= fp.len &&
          (cursor.fp.len === fp.len
            ? cursor.fp.hash === fp.hash
            : (await hashHead(handle, cursor.fp.len)) === cursor.fp.hash);
        if (sameStart && cursor.offset <= size) offset = cursor.offset;
        else {
          offset = 0;
          truncated = true;
        }
      }
      const id = fileId(stat);
      const lines = new LineAssembler(options.assembler, options.counters, offset);
      const file = new TailedFile(
        handle,
        stat,
        options.filePath,
        `${options.keyPrefix}${id}`,
        offset,
        fp,
        lines,
        options.now,
      );
      return { file, truncated };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }

  /** The cursor to commit with the records handed out so far. */
  cursor(): string {
    const value: FileCursor = {
      v: 1,
      path: this.path,
      dev: this.dev,
      ino: this.ino,
      offset: this.lines.mark,
      fp: this.fp,
    };
    return JSON.stringify(value);
  }

  /** Hashes more of the file's start while it is shorter than FINGERPRINT_BYTES. */
  async growFingerprint(): Promise<void> {
    if (this.fp.len >= FINGERPRINT_BYTES || this.readPos <= this.fp.len) return;
    this.fp = await fingerprint(this.handle, this.readPos);
  }

  /** False when the bytes the fingerprint covers changed: truncated and written again (copytruncate). */
  async sameStart(size: number): Promise<boolean> {
    if (size < this.fp.len) return false;
    if (this.fp.len === 0) return true;
    return (await hashHead(this.handle, this.fp.len)) === this.fp.hash;
  }

  /** Starts over at offset 0, after a truncation. */
  async restart(): Promise<void> {
    this.readPos = 0;
    this.lines.reset(0);
    this.fp = await fingerprint(this.handle, 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

async function fingerprint(handle: FileHandle, size: number): Promise<Fingerprint> {
  const len = Math.min(size, FINGERPRINT_BYTES);
  return { len, hash: await hashHead(handle, len) };
}

async function hashHead(handle: FileHandle, len: number): Promise<string> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await handle.read(buf, got, len - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return hashOf(buf.subarray(0, got));
}
