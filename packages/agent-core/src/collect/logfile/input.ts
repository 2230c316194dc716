import type { BigIntStats } from 'node:fs';
import { glob, open, readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import type { FSWatcher } from 'chokidar';
import picomatch from 'picomatch';
import type { Logger } from 'pino';
import { inputClosed } from '../errors.ts';
import type { Emit, Input, InputStats } from '../input.ts';
import { logfileBadOptions } from './errors.ts';
import {
  INVALID_UTF8,
  LineAssembler,
  type LineAssemblerOptions,
  type LineCounters,
  type LineSink,
  PARTIAL,
} from './lines.ts';
import { FINGERPRINT_BYTES, type FileCursor, fileId, parseCursor, TailedFile } from './tailed-file.ts';

export interface LogFileInputOptions {
  /** Record name, and part of the cursor keys: letters, digits, ".", "_", "-". */
  name: string;
  /** Absolute globs. */
  paths: readonly string[];
  /** Globs; one without a slash matches the file name, else the whole path. */
  exclude?: readonly string[];
  /** Where to start in files found at the input's very first start. Default "end". */
  startAt?: 'beginning' | 'end';
  /** A line matching startPattern begins a record; the lines up to the next one are appended to it. */
  multiline?: { startPattern: string; maxLines?: number; timeoutMs?: number } | null;
  /** Longer lines (and multiline records) are split into parts flagged log.truncated. Default 64 KiB. */
  maxRecordBytes?: number;
  /** A last line without newline is emitted (flagged log.partial) after this long. Default 5 s. */
  partialLineTimeoutMs?: number;
  /** A rotated or deleted file is read until it has not grown for this long, then closed. Default 5 s. */
  rotateWaitMs?: number;
  encoding?: 'utf8' | 'latin1';
  /** Glob scan and stat of every file, so nothing depends on file system events alone. Default 1 s. */
  pollIntervalMs?: number;
  /** Attr host.name; default os.hostname(). */
  hostname?: string;
  /** Limits of one emit (one queue transaction). Defaults 1000 records, 1 MiB. */
  batchMaxRecords?: number;
  batchMaxBytes?: number;
  emit: Emit;
  /** Committed cursors whose key starts with the prefix, e.g. `(p) => queue.cursors(p)`. */
  readCursors: (prefix: string) => Map<string, string>;
  logger: Logger;
}

export interface LogFileInputStats extends InputStats {
  /** Files open now: at a matching path, or rotated away and read to their end. */
  filesWatched: number;
  bytesRead: number;
  lines: number;
  /** Files that left their path: renamed, replaced by a new file, or deleted. */
  rotations: number;
  /** Files found shorter than the read position, or with other first bytes: read again from 0. */
  truncations: number;
  /** Parts of lines or multiline records split at max_record_bytes (or max_lines). */
  splits: number;
  invalidUtf8: number;
  /** Last lines emitted without newline after partial_line_timeout. */
  partialLines: number;
  /** Emits the queue refused (full under policy "block"); each was offered again after a backoff. */
  refused: number;
}

const CHUNK_BYTES = 256 * 1024;
/** Read at most this much of one file before giving the others a turn. */
const PASS_BYTES_PER_FILE = 4 * 1024 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 2000;
const MAX_REMEMBERED_ERRORS = 64;
/** The cursor that says this input has started before: files without a cursor are then new. */
const STARTED_KEY = '@input';

/**
 * Tails files matching globs, one `log` record per line. Positions advance only through emit():
 * each batch of records is committed with the cursors of the files it came from, in one queue
 * transaction, so after a restart (or kill -9) reading resumes exactly after the last committed line.
 */
export class LogFileInput implements Input {
  readonly name: string;
  readonly #emit: Emit;
  readonly #readCursors: (prefix: string) => Map<string, string>;
  readonly #logger: Logger;
  readonly #paths: readonly string[];
  readonly #matches: (p: string) => boolean;
  readonly #startAt: 'beginning' | 'end';
  readonly #assembler: LineAssemblerOptions;
  readonly #rotateWaitMs: number;
  readonly #pollIntervalMs: number;
  readonly #hostname: string;
  readonly #batchMaxRecords: number;
  readonly #batchMaxBytes: number;
  readonly #prefix: string;
  readonly #buf: Buffer;

  /** Open files by `dev:ino`, in discovery order: older files are read first. */
  readonly #files = new Map<string, TailedFile>();
  /** Attached files by their path. */
  readonly #byPath = new Map<string, TailedFile>();
  /** Files that left a path, until a new file there has read them to their end or they close. */
  readonly #leftPath = new Map<string, TailedFile>();

  #records: OutpostRecord[] = [];
  #batchBytes = 0;
  #readAt = 0;
  /** Files whose cursor goes with the next emit. */
  #touched = new Set<TailedFile>();
  /** Other cursor writes for the next emit: deletions, the started marker. */
  #cursorUpdates = new Map<string, string | null>();

  #scanRequested = false;
  readonly #eventPaths = new Set<string>();
  #poked = false;
  #wake: (() => void) | null = null;
  #watchers: FSWatcher[] = [];
  #pollTimer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;
  #started = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #loggedErrors = new Set<string>();
  readonly #counters: LineCounters = { lines: 0, splits: 0, invalidUtf8: 0, partialLines: 0 };
  readonly #stats = {
    runs: 0,
    errors: 0,
    skipped: 0,
    lastError: null as string | null,
    lastDurationMs: null as number | null,
    records: 0,
    bytesRead: 0,
    rotations: 0,
    truncations: 0,
    refused: 0,
  };

  constructor(options: LogFileInputOptions) {
    const { name } = options;
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw logfileBadOptions(name, 'name must use letters, digits, ".", "_" or "-" only');
    }
    if (options.paths.length === 0) throw logfileBadOptions(name, 'paths must name at least one glob');
    for (const p of options.paths) {
      if (!path.isAbsolute(p)) throw logfileBadOptions(name, `path ${JSON.stringify(p)} must be absolute`);
    }
    this.name = name;
    this.#emit = options.emit;
    this.#readCursors = options.readCursors;
    this.#logger = options.logger;
    this.#paths = options.paths;
    const include = picomatch([...options.paths]);
    const exclude =
      (options.exclude ?? []).length > 0 ? picomatch([...(options.exclude ?? [])], { basename: true }) : null;
    this.#matches = (p) => include(p) && !(exclude?.(p) ?? false);
    this.#startAt = options.startAt ?? 'end';
    const maxRecordBytes = options.maxRecordBytes ?? 64 * 1024;
    if (!(maxRecordBytes >= 16))
      throw logfileBadOptions(name, `maxRecordBytes must be >= 16, got ${maxRecordBytes}`);
    let multiline: LineAssemblerOptions['multiline'] = null;
    if (options.multiline) {
      try {
        multiline = {
          startPattern: new RegExp(options.multiline.startPattern),
          maxLines: options.multiline.maxLines ?? 500,
          timeoutMs: options.multiline.timeoutMs ?? 2000,
        };
      } catch (err) {
        throw logfileBadOptions(name, `multiline start pattern: ${(err as Error).message}`);
      }
    }
    this.#assembler = {
      maxRecordBytes,
      encoding: options.encoding ?? 'utf8',
      multiline,
      partialLineTimeoutMs: options.partialLineTimeoutMs ?? 5000,
    };
    this.#rotateWaitMs = options.rotateWaitMs ?? 5000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.#hostname = options.hostname ?? os.hostname();
    this.#batchMaxRecords = options.batchMaxRecords ?? 1000;
    this.#batchMaxBytes = options.batchMaxBytes ?? 1024 * 1024;
    this.#prefix = `logfile:${name}:`;
    // An unfinished line (always shorter than maxRecordBytes) is copied in front of each chunk.
    this.#buf = Buffer.allocUnsafe(CHUNK_BYTES + maxRecordBytes);
  }

  start(): void {
    if (this.#closed) throw inputClosed(this.name, 'start');
    if (this.#started) return;
    this.#started = true;
    this.#loop = this.#run().catch((err: unknown) => {
      this.#reportError(err);
      this.#logger.error(
        { err, input: this.name },
        `log input ${this.name} stopped: ${(err as Error).message}`,
      );
    });
  }

  /**
   * A preview: the lines available now from each matching file's current position (at most 1000
   * records in all), without moving any position or committing anything.
   */
  async collectOnce(): Promise<OutpostRecord[]> {
    if (this.#closed) throw inputClosed(this.name, 'collectOnce');
    const committed = new Map<string, FileCursor>();
    for (const [key, value] of this.#readCursors(this.#prefix)) {
      const cursor = parseCursor(value);
      if (cursor !== null) committed.set(key.slice(this.#prefix.length), cursor);
    }
    const records: OutpostRecord[] = [];
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const counters: LineCounters = { lines: 0, splits: 0, invalidUtf8: 0, partialLines: 0 };
    for (const [filePath, st] of await this.#glob()) {
      if (records.length >= this.#batchMaxRecords) break;
      const id = fileId(st);
      const offset =
        this.#files.get(id)?.lines.mark ??
        committed.get(id)?.offset ??
        (this.#startAt === 'end' && !this.#started ? Number(st.size) : 0);
      const handle = await open(filePath, 'r');
      try {
        const { bytesRead } = await handle.read(buf, 0, CHUNK_BYTES, offset);
        const lines = new LineAssembler(this.#assembler, counters, offset);
        const view = buf.subarray(0, bytesRead);
        const fileName = path.basename(filePath);
        const now = Date.now();
        const sink: LineSink = (body, flags, part) =>
          records.push(this.#record(body, flags, part, filePath, fileName, now));
        lines.feed(view, 0, bytesRead, offset, now, sink, () => records.length >= this.#batchMaxRecords);
      } finally {
        await handle.close();
      }
    }
    return records;
  }

  stats(): LogFileInputStats {
    const { bytesRead, rotations, truncations, refused, ...base } = this.#stats;
    return {
      ...base,
      filesWatched: this.#files.size,
      bytesRead,
      lines: this.#counters.lines,
      rotations,
      truncations,
      splits: this.#counters.splits,
      invalidUtf8: this.#counters.invalidUtf8,
      partialLines: this.#counters.partialLines,
      refused,
    };
  }

  /** Stops watching and reading; a batch not committed yet is dropped and read again after a restart. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    clearInterval(this.#pollTimer);
    this.#poke();
    await this.#loop;
    await Promise.allSettled(this.#watchers.map((w) => w.close()));
    await Promise.allSettled([...this.#files.values()].map((file) => file.close()));
    this.#files.clear();
    this.#byPath.clear();
    this.#leftPath.clear();
  }

  async #run(): Promise<void> {
    const raw = this.#readCursors(this.#prefix);
    const firstStart = !raw.has(this.#prefix + STARTED_KEY);
    const cursors = new Map<string, FileCursor>();
    for (const [key, value] of raw) {
      if (key === this.#prefix + STARTED_KEY) continue;
      const id = key.slice(this.#prefix.length);
      const cursor = parseCursor(value);
      if (cursor === null || `${cursor.dev}:${cursor.ino}` !== id) {
        this.#logger.warn(
          { input: this.name, key, value },
          'log input: unreadable stored file position removed',
        );
        this.#cursorUpdates.set(key, null);
      } else cursors.set(id, cursor);
    }
    // Watch before the first scan, so a file created in between is not missed.
    await this.#watch();
    for (const [filePath, st] of await this.#glob()) {
      await this.#track(filePath, st, { cursors, firstStart });
    }
    await this.#adoptOrphans(cursors);
    if (firstStart) {
      this.#cursorUpdates.set(this.#prefix + STARTED_KEY, JSON.stringify({ v: 1, startedAt: Date.now() }));
    }
    if (!(await this.#flush()) || this.#closed) return;
    this.#pollTimer = setInterval(() => {
      this.#scanRequested = true;
      this.#poke();
    }, this.#pollIntervalMs);
    this.#pollTimer.unref();
    try {
      await this.#follow();
    } finally {
      clearInterval(this.#pollTimer);
    }
  }

  /** The main loop: events and polls in, batches out, one pass at a time. */
  async #follow(): Promise<void> {
    while (!this.#closed) {
      this.#poked = false;
      const started = performance.now();
      if (this.#scanRequested) {
        this.#scanRequested = false;
        await this.#scan();
      }
      for (const filePath of [...this.#eventPaths]) {
        this.#eventPaths.delete(filePath);
        await this.#checkPath(filePath);
      }
      if (!(await this.#readAll())) return;
      const now = Date.now();
      this.#readAt = now;
      for (const file of this.#files.values()) file.lines.expire(now, this.#sinkFor(file));
      await this.#retire(now);
      if (!(await this.#flush())) return;
      this.#stats.runs++;
      this.#stats.lastDurationMs = performance.now() - started;
      if (!this.#readable()) await this.#sleep();
    }
  }

  /** Chokidar has no globs since v4: watch each glob's static base dir and filter on the full path. */
  async #watch(): Promise<void> {
    // Loaded here: an agent without log inputs never needs chokidar.
    const { watch } = await import('chokidar');
    if (this.#closed) return;
    for (const pattern of this.#paths) {
      const { base, glob: rest, isGlob } = picomatch.scan(pattern);
      const depth = !isGlob ? 0 : rest.includes('**') ? undefined : rest.split('/').length - 1;
      const watcher = watch(isGlob ? base || '/' : path.dirname(pattern), {
        ignoreInitial: true,
        persistent: false,
        // A rename and a new file at the path must stay two events: merged into one "change",
        // the new file would only be noticed at the next poll, maybe after it was rotated away too.
        atomic: false,
        depth,
        ignored: (p: string, st?: { isFile(): boolean }) => st?.isFile() === true && !this.#matches(p),
      });
      watcher.on('all', (event, p) => this.#onEvent(event, p));
      watcher.on('error', (err) => this.#reportError(err));
      this.#watchers.push(watcher);
    }
  }

  #onEvent(event: string, p: string): void {
    if (this.#closed) return;
    if (event !== 'add' && event !== 'change' && event !== 'unlink') return;
    const file = this.#byPath.get(p);
    if (file !== undefined) file.dirty = true;
    if (!this.#matches(p) && !this.#byPath.has(p)) return;
    this.#eventPaths.add(p);
    this.#poke();
  }

  /** Every regular file at a path matching the globs, by path. */
  async #glob(): Promise<Map<string, BigIntStats>> {
    const found = new Map<string, BigIntStats>();
    for (const pattern of this.#paths) {
      try {
        for await (const p of glob(pattern)) {
          if (found.has(p) || !this.#matches(p)) continue;
          const st = await stat(p, { bigint: true }).catch(() => null);
          if (st?.isFile()) found.set(p, st);
        }
      } catch (err) {
        this.#reportError(err);
      }
    }
    return found;
  }

  /** The poll: finds new, renamed and vanished files and checks every open file for growth or truncation. */
  async #scan(): Promise<void> {
    const found = await this.#glob();
    for (const [filePath, st] of found) await this.#track(filePath, st, null);
    const now = Date.now();
    for (const file of [...this.#byPath.values()]) {
      if (!found.has(file.path)) this.#detach(file, now);
    }
    for (const file of this.#files.values()) {
      try {
        const st = await file.handle.stat();
        if (st.size !== file.readPos) file.dirty = true;
        if (st.mtimeMs !== file.lastMtimeMs) {
          file.lastMtimeMs = st.mtimeMs;
          if (!(await file.sameStart(st.size))) await this.#truncated(file, 'its first bytes changed');
        }
      } catch (err) {
        this.#reportError(err);
      }
    }
  }

  /** A file system event for one path: the quick way to see new, replaced and deleted files. */
  async #checkPath(filePath: string): Promise<void> {
    const st = await stat(filePath, { bigint: true }).catch(() => null);
    if (st?.isFile() && this.#matches(filePath)) {
      await this.#track(filePath, st, null);
      return;
    }
    const holder = this.#byPath.get(filePath);
    if (holder !== undefined) this.#detach(holder, Date.now());
  }

  /** Follows the file now at `filePath`: a known one that moved, or a new one opened. */
  async #track(
    filePath: string,
    st: BigIntStats,
    initial: { cursors: Map<string, FileCursor>; firstStart: boolean } | null,
  ): Promise<void> {
    const id = fileId(st);
    const known = this.#files.get(id);
    const holder = this.#byPath.get(filePath);
    const now = Date.now();
    if (holder !== undefined && holder !== known) this.#detach(holder, now);
    if (known !== undefined) {
      if (known.path !== filePath || !known.attached) {
        if (known.attached) {
          this.#stats.rotations++;
          if (this.#byPath.get(known.path) === known) this.#byPath.delete(known.path);
          this.#leftPath.set(known.path, known);
        }
        known.path = filePath;
        known.name = path.basename(filePath);
        known.attached = true;
        known.drainedOnce = false;
        known.dirty = true;
        this.#byPath.set(filePath, known);
      }
      if (Number(st.size) !== known.readPos) known.dirty = true;
      return;
    }
    const fallback = initial?.firstStart && this.#startAt === 'end' ? 'end' : 'start';
    let opened: Awaited<ReturnType<typeof TailedFile.open>>;
    try {
      opened = await TailedFile.open({
        filePath,
        expected: st,
        keyPrefix: this.#prefix,
        cursor: initial?.cursors.get(id) ?? null,
        fallback,
        assembler: this.#assembler,
        counters: this.#counters,
        now,
      });
    } catch (err) {
      this.#reportError(err);
      return;
    }
    if (opened === null || this.#closed) {
      await opened?.file.close();
      return;
    }
    const { file } = opened;
    if (opened.truncated)
      this.#truncationLog(file, 'it is shorter than the stored position or its first bytes changed');
    const previous = holder ?? this.#leftPath.get(filePath);
    if (previous !== undefined && previous !== file && !previous.closed) file.after = previous;
    this.#leftPath.delete(filePath);
    this.#files.set(id, file);
    this.#byPath.set(filePath, file);
    // Files found at start commit where they begin, so a restart knows them as not new.
    if (initial !== null || opened.truncated) this.#touched.add(file);
  }

  /**
   * Cursors of files no glob matches any more: a file renamed away while the agent was stopped is
   * looked for by inode in its directory and read to its end; the others are deleted.
   */
  async #adoptOrphans(cursors: Map<string, FileCursor>): Promise<void> {
    const now = Date.now();
    for (const [id, cursor] of cursors) {
      if (this.#files.has(id)) continue;
      let adopted = false;
      const dir = path.dirname(cursor.path);
      const entries = await readdir(dir).catch(() => [] as string[]);
      for (const entry of entries) {
        const candidate = path.join(dir, entry);
        const st = await stat(candidate, { bigint: true }).catch(() => null);
        if (st === null || !st.isFile() || fileId(st) !== id) continue;
        const opened = await TailedFile.open({
          filePath: candidate,
          expected: st,
          keyPrefix: this.#prefix,
          cursor,
          fallback: 'start',
          assembler: this.#assembler,
          counters: this.#counters,
          now,
        }).catch((err: unknown) => {
          this.#reportError(err);
          return null;
        });
        if (opened === null) break;
        if (opened.truncated) {
          await opened.file.close();
          break;
        }
        opened.file.attached = false;
        opened.file.detachedAt = now;
        this.#files.set(id, opened.file);
        const successor = this.#byPath.get(cursor.path);
        if (successor !== undefined) successor.after = opened.file;
        else this.#leftPath.set(cursor.path, opened.file);
        adopted = true;
        break;
      }
      if (!adopted) this.#cursorUpdates.set(this.#prefix + id, null);
    }
  }

  /** The file left its path (renamed, replaced or deleted): read it to its end, then let it go. */
  #detach(file: TailedFile, now: number): void {
    if (!file.attached) return;
    file.attached = false;
    file.detachedAt = now;
    file.drainedOnce = false;
    file.dirty = true;
    if (this.#byPath.get(file.path) === file) this.#byPath.delete(file.path);
    this.#leftPath.set(file.path, file);
    this.#stats.rotations++;
  }

  /** Closes detached files read to their end that stayed quiet for rotate_wait, deleting their cursors. */
  async #retire(now: number): Promise<void> {
    for (const file of [...this.#files.values()]) {
      if (file.attached || file.dirty || !file.drainedOnce) continue;
      if (now < Math.max(file.detachedAt, file.lastGrowthAt) + this.#rotateWaitMs) continue;
      file.lines.flushAll(now, this.#sinkFor(file));
      await file.close().catch((err: unknown) => this.#reportError(err));
      this.#files.delete(file.id);
      this.#touched.delete(file);
      this.#cursorUpdates.set(file.key, null);
      if (this.#leftPath.get(file.path) === file) this.#leftPath.delete(file.path);
    }
  }

  #readable(): boolean {
    for (const file of this.#files.values()) if (file.dirty && !this.#waiting(file)) return true;
    return this.#scanRequested || this.#eventPaths.size > 0;
  }

  /** A new file at a rotated file's path waits until the rotated one was read to its end. */
  #waiting(file: TailedFile): boolean {
    const before = file.after;
    if (before === null) return false;
    if (before.closed || before.drainedOnce) {
      file.after = null;
      return false;
    }
    return true;
  }

  async #readAll(): Promise<boolean> {
    for (const file of [...this.#files.values()]) {
      if (this.#closed) return false;
      if (!file.dirty || file.closed || this.#waiting(file)) continue;
      try {
        if (!(await this.#readFile(file))) return false;
      } catch (err) {
        this.#reportError(err);
      }
    }
    return true;
  }

  /** Reads what the file has from its position, emitting full batches on the way. False once closed. */
  async #readFile(file: TailedFile): Promise<boolean> {
    file.dirty = false;
    const buf = this.#buf;
    const sink = this.#sinkFor(file);
    const full = () =>
      this.#records.length >= this.#batchMaxRecords || this.#batchBytes >= this.#batchMaxBytes;
    let budget = PASS_BYTES_PER_FILE;
    while (budget > 0) {
      const carry = file.lines.carryLength;
      const { bytesRead } = await file.handle.read(buf, carry, CHUNK_BYTES, file.readPos);
      if (this.#closed) return false;
      if (bytesRead === 0) {
        const { size } = await file.handle.stat();
        if (size < file.readPos) {
          await this.#truncated(
            file,
            `it is shorter (${size} bytes) than the read position (${file.readPos})`,
          );
          continue;
        }
        file.drainedOnce = true;
        return true;
      }
      const now = Date.now();
      this.#readAt = now;
      file.lastGrowthAt = now;
      file.lines.takeCarry(buf);
      const base = file.readPos - carry;
      file.readPos += bytesRead;
      this.#stats.bytesRead += bytesRead;
      const end = carry + bytesRead;
      const view = buf.subarray(0, end);
      let pos = 0;
      for (;;) {
        pos = file.lines.feed(view, pos, end, base, now, sink, full);
        if (pos >= end) break;
        if (!(await this.#flush())) return false;
      }
      if (file.fp.len < FINGERPRINT_BYTES) await file.growFingerprint();
      budget -= bytesRead;
    }
    file.dirty = true;
    return true;
  }

  /** Truncated in place (copytruncate, `> file`): what is held goes out, then reading starts over at 0. */
  async #truncated(file: TailedFile, why: string): Promise<void> {
    file.lines.flushAll(Date.now(), this.#sinkFor(file));
    await file.restart();
    file.dirty = true;
    this.#touched.add(file);
    this.#truncationLog(file, why);
  }

  #truncationLog(file: TailedFile, why: string): void {
    this.#stats.truncations++;
    this.#logger.info(
      { input: this.name, path: file.path },
      `log file ${file.path} is read again from its start: ${why}`,
    );
  }

  #sinkFor(file: TailedFile): LineSink {
    return (body, flags, part) => {
      this.#records.push(this.#record(body, flags, part, file.path, file.name, this.#readAt));
      this.#batchBytes += body.length + 64;
      this.#touched.add(file);
    };
  }

  #record(
    body: string,
    flags: number,
    part: number,
    filePath: string,
    fileName: string,
    ts: number,
  ): OutpostRecord {
    const attrs: Record<string, AttrValue> = {
      'log.file.path': filePath,
      'log.file.name': fileName,
      'host.name': this.#hostname,
    };
    if (flags & INVALID_UTF8) attrs['log.invalid_utf8'] = true;
    if (flags & PARTIAL) attrs['log.partial'] = true;
    if (part >= 0) {
      attrs['log.truncated'] = true;
      attrs['log.part'] = part;
    }
    return { kind: 'log', ts, name: this.name, body, attrs, source: 'log' };
  }

  /**
   * Emits the batch with the cursors of the files it came from, retrying with backoff while the
   * queue refuses it. Nothing is read meanwhile, so memory stays bounded. False once closed.
   */
  async #flush(): Promise<boolean> {
    if (this.#records.length === 0 && this.#touched.size === 0 && this.#cursorUpdates.size === 0) return true;
    const records = this.#records;
    const cursors: Record<string, string | null> = {};
    for (const file of this.#touched) cursors[file.key] = file.cursor();
    for (const [key, value] of this.#cursorUpdates) cursors[key] = value;
    this.#records = [];
    this.#batchBytes = 0;
    this.#touched = new Set();
    this.#cursorUpdates = new Map();
    let backoff = BACKOFF_MIN_MS;
    for (;;) {
      let accepted = false;
      try {
        accepted = await this.#emit(records, { cursors });
      } catch (err) {
        this.#reportError(err);
      }
      if (accepted) {
        this.#stats.records += records.length;
        return true;
      }
      if (this.#closed) return false;
      this.#stats.refused++;
      try {
        await delay(backoff, undefined, { signal: this.#abort.signal, ref: false });
      } catch {
        return false;
      }
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  #poke(): void {
    this.#poked = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Until an event, the poll, or the next held line or rotated file falls due. */
  async #sleep(): Promise<void> {
    if (this.#poked || this.#closed) return;
    let due = Number.POSITIVE_INFINITY;
    for (const file of this.#files.values()) {
      const held = file.lines.deadline();
      if (held !== null) due = Math.min(due, held);
      if (!file.attached)
        due = Math.min(due, Math.max(file.detachedAt, file.lastGrowthAt) + this.#rotateWaitMs);
    }
    await new Promise<void>((resolve) => {
      const timer =
        due === Number.POSITIVE_INFINITY ? undefined : setTimeout(resolve, Math.max(0, due - Date.now()) + 1);
      timer?.unref();
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = null;
  }

  /** Counts a failure and logs it at warn the first time its message is seen, at debug after. */
  #reportError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.#stats.errors++;
    this.#stats.lastError = message;
    if (this.#loggedErrors.has(message)) {
      this.#logger.debug({ err, input: this.name }, 'log input error again');
      return;
    }
    if (this.#loggedErrors.size >= MAX_REMEMBERED_ERRORS) this.#loggedErrors.clear();
    this.#loggedErrors.add(message);
    this.#logger.warn(
      { err, input: this.name },
      `log input ${this.name}: ${message} (logged once; see stats for the count)`,
    );
  }
}
