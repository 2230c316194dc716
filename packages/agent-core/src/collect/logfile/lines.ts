import { isUtf8 } from 'node:buffer';

/** Bits of `LineFlags`. */
export const INVALID_UTF8 = 1;
/** A last line emitted without its newline after partial_line_timeout. */
export const PARTIAL = 2;

/** One finished record's body. `part` is -1 unless the line or event was split at max_record_bytes. */
export type LineSink = (body: string, flags: number, part: number) => void;

export interface LineAssemblerOptions {
  maxRecordBytes: number;
  encoding: 'utf8' | 'latin1';
  multiline: { startPattern: RegExp; maxLines: number; timeoutMs: number } | null;
  partialLineTimeoutMs: number;
}

export interface LineCounters {
  lines: number;
  splits: number;
  invalidUtf8: number;
  partialLines: number;
}

interface Event {
  lines: string[];
  bytes: number;
  flags: number;
  /** -1, or the index of this piece of an event split at max_record_bytes / max_lines. */
  part: number;
  /** File offset just after its last line. */
  end: number;
  lastAt: number;
}

const NEWLINE = 10;
const CR = 13;

/**
 * Turns a file's bytes into record bodies: lines, multiline events, pieces of over-long lines, and
 * a held last line without newline. It tracks `mark`, the file offset up to which every byte is in
 * a body already handed to the sink: the offset to commit, because what lies past it (a held line
 * or event) is read again after a restart.
 */
export class LineAssembler {
  readonly #options: LineAssemblerOptions;
  readonly #counters: LineCounters;
  /** Bytes of an unfinished last line, from file offset `mark` or the held event's end. */
  #carry: Buffer | null = null;
  #carryAt = 0;
  /** Pieces already emitted of the line being read (an over-long line). */
  #linePart = 0;
  #event: Event | null = null;
  #nextEventPart = -1;
  mark: number;

  constructor(options: LineAssemblerOptions, counters: LineCounters, mark: number) {
    this.#options = options;
    this.#counters = counters;
    this.mark = mark;
  }

  get carryLength(): number {
    return this.#carry?.length ?? 0;
  }

  /** Copies the held unfinished line to the front of `buf`, where the next read continues it. */
  takeCarry(buf: Buffer): number {
    const carry = this.#carry;
    if (carry === null) return 0;
    carry.copy(buf, 0);
    this.#carry = null;
    return carry.length;
  }

  /**
   * Consumes complete lines of `buf[pos, end)` (`buf` must end at `end`) (whose first byte is at file offset `base`) until
   * `full()` says the sink has enough; returns where it stopped. At `end`, an unfinished last line
   * is held (copied) for the next read.
   */
  feed(
    buf: Buffer,
    pos: number,
    end: number,
    base: number,
    now: number,
    sink: LineSink,
    full: () => boolean,
  ): number {
    const utf8 = this.#options.encoding === 'utf8';
    const lastNewline = buf.lastIndexOf(NEWLINE, end - 1);
    // One check for the whole run of complete lines is far cheaper than one per line.
    const allValid = !utf8 || lastNewline < pos || isUtf8(buf.subarray(pos, lastNewline));
    while (pos < end) {
      if (full()) return pos;
      let nl = buf.indexOf(NEWLINE, pos);
      if (nl >= end) nl = -1;
      if (nl === -1) {
        pos = this.#splitLong(buf, pos, end, base, sink);
        const rest = end - pos;
        if (rest > 0) {
          // Held since it last grew: a writer that is still writing the line gets the full timeout.
          this.#carryAt = now;
          this.#carry = Buffer.from(buf.subarray(pos, end));
        }
        return end;
      }
      pos = this.#splitLong(buf, pos, nl, base, sink);
      let lineEnd = nl;
      if (lineEnd > pos && buf[lineEnd - 1] === CR) lineEnd--;
      let flags = 0;
      if (!allValid && !isUtf8(buf.subarray(pos, lineEnd))) flags |= INVALID_UTF8;
      const text = buf.toString(this.#options.encoding, pos, lineEnd);
      this.#line(text, lineEnd - pos, flags, base + nl + 1, now, sink);
      pos = nl + 1;
    }
    return pos;
  }

  /** The time at which held data is due (partial line or multiline event), or null. */
  deadline(): number | null {
    let due: number | null = null;
    if (this.#carry !== null) due = this.#carryAt + this.#options.partialLineTimeoutMs;
    const { multiline } = this.#options;
    if (this.#event !== null && multiline !== null) {
      const eventDue = this.#event.lastAt + multiline.timeoutMs;
      due = due === null ? eventDue : Math.min(due, eventDue);
    }
    return due;
  }

  /** Emits what is held past its timeout: the unfinished line (flagged partial), a quiet event. */
  expire(now: number, sink: LineSink): void {
    if (this.#carry !== null && now >= this.#carryAt + this.#options.partialLineTimeoutMs) {
      this.#flushCarry(now, sink);
    }
    const { multiline } = this.#options;
    if (this.#event !== null && multiline !== null && now >= this.#event.lastAt + multiline.timeoutMs) {
      this.#flushEvent(sink, false);
    }
  }

  /** Emits everything held, e.g. before a truncated file is read again from its start. */
  flushAll(now: number, sink: LineSink): void {
    if (this.#carry !== null) this.#flushCarry(now, sink);
    if (this.#event !== null) this.#flushEvent(sink, false);
  }

  /** Forgets held data and continues at `offset` (a truncated file read again from 0). */
  reset(offset: number): void {
    this.#carry = null;
    this.#event = null;
    this.#linePart = 0;
    this.#nextEventPart = -1;
    this.mark = offset;
  }

  #flushCarry(now: number, sink: LineSink): void {
    const carry = this.#carry as Buffer;
    this.#carry = null;
    this.#counters.partialLines++;
    let length = carry.length;
    if (length > 0 && carry[length - 1] === CR) length--;
    let flags = PARTIAL;
    if (this.#options.encoding === 'utf8' && !isUtf8(carry.subarray(0, length))) flags |= INVALID_UTF8;
    const end = this.#heldEnd() + carry.length;
    this.#line(carry.toString(this.#options.encoding, 0, length), length, flags, end, now, sink);
  }

  /** File offset where the carry starts: after the held event, else at the mark. */
  #heldEnd(): number {
    return this.#event?.end ?? this.mark;
  }

  /**
   * Emits max_record_bytes pieces of the line starting at `pos` while more than that is left
   * before `end`, so no line, finished or not, is held in memory whole.
   */
  #splitLong(buf: Buffer, pos: number, end: number, base: number, sink: LineSink): number {
    const max = this.#options.maxRecordBytes;
    while (end - pos > max) {
      let cut = pos + max;
      // Never cut inside a UTF-8 sequence: back up over continuation bytes (at most 3).
      if (this.#options.encoding === 'utf8') {
        for (let i = 0; i < 3 && cut > pos + 1 && ((buf[cut] as number) & 0xc0) === 0x80; i++) cut--;
      }
      this.#flushEvent(sink, false);
      let flags = 0;
      if (this.#options.encoding === 'utf8' && !isUtf8(buf.subarray(pos, cut))) flags |= INVALID_UTF8;
      if (flags & INVALID_UTF8) this.#counters.invalidUtf8++;
      this.#counters.splits++;
      sink(buf.toString(this.#options.encoding, pos, cut), flags, this.#linePart++);
      this.mark = base + cut;
      pos = cut;
    }
    return pos;
  }

  #line(text: string, bytes: number, flags: number, end: number, now: number, sink: LineSink): void {
    this.#counters.lines++;
    if (flags & INVALID_UTF8) this.#counters.invalidUtf8++;
    const { multiline } = this.#options;
    if (this.#linePart > 0) {
      // The last piece of an over-long line: it stands alone, flagged like the pieces before it.
      this.#flushEvent(sink, false);
      this.#counters.splits++;
      sink(text, flags, this.#linePart);
      this.#linePart = 0;
      this.mark = end;
      return;
    }
    if (multiline === null) {
      sink(text, flags, -1);
      this.mark = end;
      return;
    }
    let event = this.#event;
    if (event !== null && multiline.startPattern.test(text)) {
      this.#flushEvent(sink, false);
      event = null;
    }
    if (
      event !== null &&
      (event.lines.length >= multiline.maxLines || event.bytes + 1 + bytes > this.#options.maxRecordBytes)
    ) {
      this.#flushEvent(sink, true);
      event = null;
    }
    if (event === null) {
      event = { lines: [], bytes: -1, flags: 0, part: this.#nextEventPart, end, lastAt: now };
      this.#nextEventPart = -1;
      this.#event = event;
    }
    event.lines.push(text);
    event.bytes += 1 + bytes;
    event.flags |= flags;
    event.end = end;
    event.lastAt = now;
  }

  /** `continues`: the event was cut at a limit, so its next lines are the next piece of it. */
  #flushEvent(sink: LineSink, continues: boolean): void {
    const event = this.#event;
    if (event === null) {
      if (!continues) this.#nextEventPart = -1;
      return;
    }
    this.#event = null;
    let part = event.part;
    if (continues) {
      if (part === -1) part = 0;
      this.#nextEventPart = part + 1;
    } else this.#nextEventPart = -1;
    if (part !== -1) this.#counters.splits++;
    sink(event.lines.join('\n'), event.flags, part);
    this.mark = event.end;
  }
}
