/**
 * What the crash harness knows about each producer number: whether the agent accepted it or the
 * push was cut off (uncertain), and how often the collector stored it. Numbers count up from 1, so
 * typed arrays indexed by number hold it; a JS Set or Map tops out at 2^24 entries, which a long
 * run passes (a 1000-cycle run accepts about 36 million records at full speed).
 */
const NONE = 0;
const ACCEPTED = 1;
const UNCERTAIN = 2;

export interface LedgerTally {
  /** Records the agent answered 200 for: each must be stored exactly once. */
  accepted: number;
  /** Pushes cut off mid-request: each record may be stored at most once. */
  uncertain: number;
  uncertainStored: number;
  stored: number;
  lost: number;
  duplicated: number;
  /** Stored numbers the producer never pushed, or values that are no producer number (must be 0). */
  unknown: number;
  /** Example numbers, to start debugging from. */
  lostExamples: number[];
  duplicatedExamples: number[];
}

export class CrashLedger {
  #outcome = new Uint8Array(1 << 20);
  /** Times stored, saturating at 255: anything above 1 is a duplicate all the same. */
  #stored = new Uint8Array(1 << 20);
  #highest = 0;
  #notNumbers = 0;
  #storedTotal = 0;
  accepted = 0;
  uncertain = 0;

  markAccepted(numbers: number[]): void {
    for (const n of numbers) this.#mark(n, ACCEPTED);
    this.accepted += numbers.length;
  }

  markUncertain(numbers: number[]): void {
    for (const n of numbers) this.#mark(n, UNCERTAIN);
    this.uncertain += numbers.length;
  }

  /** One stored record's producer number, as the collector returned it. */
  markStored(value: unknown): void {
    this.#storedTotal++;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) {
      this.#notNumbers++;
      return;
    }
    this.#stored = grown(this.#stored, n);
    if (this.#stored[n] !== 255) this.#stored[n] = (this.#stored[n] ?? 0) + 1;
    if (n > this.#highest) this.#highest = n;
  }

  tally(): LedgerTally {
    const result: LedgerTally = {
      accepted: this.accepted,
      uncertain: this.uncertain,
      uncertainStored: 0,
      stored: this.#storedTotal,
      lost: 0,
      duplicated: 0,
      unknown: this.#notNumbers,
      lostExamples: [],
      duplicatedExamples: [],
    };
    for (let n = 1; n <= this.#highest; n++) {
      const outcome = this.#outcome[n] ?? NONE;
      const stored = this.#stored[n] ?? 0;
      if (outcome === ACCEPTED && stored === 0) {
        result.lost++;
        if (result.lostExamples.length < 10) result.lostExamples.push(n);
      }
      if (stored > 1) {
        result.duplicated++;
        if (result.duplicatedExamples.length < 10) result.duplicatedExamples.push(n);
      }
      if (stored > 0 && outcome === NONE) result.unknown++;
      if (stored > 0 && outcome === UNCERTAIN) result.uncertainStored++;
    }
    return result;
  }

  #mark(n: number, outcome: number): void {
    this.#outcome = grown(this.#outcome, n);
    this.#outcome[n] = outcome;
    if (n > this.#highest) this.#highest = n;
  }
}

function grown(array: Uint8Array<ArrayBuffer>, index: number): Uint8Array<ArrayBuffer> {
  if (index < array.length) return array;
  let length = array.length;
  while (length <= index) length *= 2;
  const bigger = new Uint8Array(length);
  bigger.set(array);
  return bigger;
}
