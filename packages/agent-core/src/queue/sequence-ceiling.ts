import fs from 'node:fs';
import path from 'node:path';

/** Seqs handed out per fsync of the ceiling file: one write per million records at most. */
export const RECORD_SEQ_BLOCK = 1_000_000;
export const BATCH_SEQ_BLOCK = 10_000;

export interface Ceilings {
  records: number;
  batches: number;
}

export type CeilingState = 'ok' | 'missing' | 'unreadable';

/**
 * Hi-lo reservation of the queue's sequence numbers, kept in a small file beside the queue and
 * outside its WAL. A seq is assigned only below a ceiling that was fsynced first, so a queue whose
 * WAL was lost (SQLite rolls back to the last checkpoint) restarts above every seq it may have sent:
 * the collector keeps records by (agent, seq) and batches by Idempotency-Key, so a reused record seq
 * would be skipped there as a duplicate and a reused batch seq refused with 409.
 * The price is a gap of up to one block in the seqs after a crash; a clean close settles the
 * ceiling to the last seqs used, so a clean restart leaves none.
 */
export class SequenceCeiling {
  /** Reads `file`; `state` says whether it was there and readable. */
  static load(file: string): { ceiling: SequenceCeiling; state: CeilingState } {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { ceiling: new SequenceCeiling(file, { records: 0, batches: 0 }), state: 'missing' };
      }
      return { ceiling: new SequenceCeiling(file, { records: 0, batches: 0 }), state: 'unreadable' };
    }
    const parsed = parseCeilings(text);
    if (parsed === null) {
      return { ceiling: new SequenceCeiling(file, { records: 0, batches: 0 }), state: 'unreadable' };
    }
    const ceiling = new SequenceCeiling(file, parsed);
    ceiling.#onDisk = true;
    return { ceiling, state: 'ok' };
  }

  readonly file: string;
  #value: Ceilings;
  /** A missing file must be written even at 0: its absence beside an existing queue means "unknown". */
  #onDisk = false;

  private constructor(file: string, value: Ceilings) {
    this.file = file;
    this.#value = value;
  }

  get value(): Readonly<Ceilings> {
    return this.#value;
  }

  /**
   * Makes seqs up to `upTo` of one kind safe to assign: past the ceiling, a new one (a block above
   * `upTo`) is fsynced before this returns. Throws the file system's error if it cannot be written;
   * nothing may then be assigned.
   */
  reserve(kind: keyof Ceilings, upTo: number): void {
    if (upTo <= this.#value[kind]) return;
    const block = kind === 'records' ? RECORD_SEQ_BLOCK : BATCH_SEQ_BLOCK;
    this.#write({ ...this.#value, [kind]: upTo + block });
  }

  /** Sets the ceiling to at least `floor` (seqs found in the database); writes only if it rises. */
  raiseTo(floor: Ceilings): void {
    const next = {
      records: Math.max(this.#value.records, floor.records),
      batches: Math.max(this.#value.batches, floor.batches),
    };
    if (!this.#onDisk || next.records !== this.#value.records || next.batches !== this.#value.batches) {
      this.#write(next);
    }
  }

  /**
   * After a clean close, when the database file holds every seq assigned: the ceiling comes down
   * to the last ones used, so the next start continues without a gap.
   */
  settle(last: Ceilings): void {
    if (this.#onDisk && last.records === this.#value.records && last.batches === this.#value.batches) return;
    this.#write({ ...last });
  }

  // Written to a temp file, fsynced and renamed over the old one, then the directory fsynced: a
  // crash leaves the old ceiling or the new one, never a torn file.
  #write(next: Ceilings): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${JSON.stringify({ version: 1, ...next })}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.#onDisk = true;
    const dir = fs.openSync(path.dirname(this.file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    this.#value = next;
  }
}

function parseCeilings(text: string): Ceilings | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const v = value as { version?: unknown; records?: unknown; batches?: unknown } | null;
  if (v === null || typeof v !== 'object' || v.version !== 1) return null;
  if (!Number.isSafeInteger(v.records) || !Number.isSafeInteger(v.batches)) return null;
  if ((v.records as number) < 0 || (v.batches as number) < 0) return null;
  return { records: v.records as number, batches: v.batches as number };
}
