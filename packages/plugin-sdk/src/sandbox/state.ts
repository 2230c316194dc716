import type { JsonValue } from '../plugin.ts';

/** Where a plugin's key-value state lives. The agent persists it; tests keep it in memory. */
export interface StateStore {
  get(key: string): JsonValue | undefined | Promise<JsonValue | undefined>;
  set(key: string, value: JsonValue): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

export interface Clock {
  /** Unix time in milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A StateStore in a Map; values are copied in and out, so nobody shares objects with the plugin. */
export class MemoryStateStore implements StateStore {
  readonly #values = new Map<string, JsonValue>();

  constructor(initial?: Record<string, JsonValue>) {
    for (const [key, value] of Object.entries(initial ?? {})) this.#values.set(key, structuredClone(value));
  }

  get(key: string): JsonValue | undefined {
    const value = this.#values.get(key);
    return value === undefined ? undefined : structuredClone(value);
  }

  set(key: string, value: JsonValue): void {
    this.#values.set(key, structuredClone(value));
  }

  delete(key: string): void {
    this.#values.delete(key);
  }

  /** A copy of everything stored, for assertions. */
  toJSON(): Record<string, JsonValue> {
    return structuredClone(Object.fromEntries(this.#values));
  }
}
