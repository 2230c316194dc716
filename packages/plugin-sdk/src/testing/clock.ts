import type { Clock } from '../sandbox/index.ts';

/** A clock that moves only when the test says so. Starts at 2025-01-01T00:00:00Z unless told otherwise. */
export class FakeClock implements Clock {
  #now: number;

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward; returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance(${ms}): the clock only moves forward`);
    this.#now += ms;
    return this.#now;
  }

  set(ms: number): void {
    this.#now = ms;
  }
}
