import fs from 'node:fs';
import path from 'node:path';
import type { JsonValue } from '@outpost/plugin-sdk';
import type { StateStore } from '@outpost/plugin-sdk/sandbox';
import { stateTooLarge } from './errors.ts';

export const DEFAULT_MAX_STATE_BYTES = 1024 * 1024;

/** Writes `data` to `file` so that a crash leaves either the old or the new content, never half. */
export function writeFileAtomic(file: string, data: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * A plugin's key-value state in one JSON file, rewritten whole on each change. Plugin state is
 * small (a cursor, a few counters), so the simplicity beats an incremental format.
 */
export class FileStateStore implements StateStore {
  readonly file: string;
  readonly #plugin: string;
  readonly #maxBytes: number;
  #values: Record<string, JsonValue>;

  constructor(options: { file: string; plugin: string; maxBytes?: number }) {
    this.file = options.file;
    this.#plugin = options.plugin;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_STATE_BYTES;
    this.#values = FileStateStore.#read(options.file);
  }

  static #read(file: string): Record<string, JsonValue> {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new Error(`${file}: plugin state must be a JSON object`);
    }
    return parsed as Record<string, JsonValue>;
  }

  get(key: string): JsonValue | undefined {
    const value = Object.hasOwn(this.#values, key) ? this.#values[key] : undefined;
    return value === undefined ? undefined : structuredClone(value);
  }

  set(key: string, value: JsonValue): void {
    this.#commit({ ...this.#values, [key]: structuredClone(value) });
  }

  delete(key: string): void {
    if (!Object.hasOwn(this.#values, key)) return;
    const next = { ...this.#values };
    delete next[key];
    this.#commit(next);
  }

  toJSON(): Record<string, JsonValue> {
    return structuredClone(this.#values);
  }

  #commit(next: Record<string, JsonValue>): void {
    const text = JSON.stringify(next);
    const bytes = Buffer.byteLength(text);
    if (bytes > this.#maxBytes) throw stateTooLarge(this.#plugin, bytes, this.#maxBytes);
    writeFileAtomic(this.file, text);
    this.#values = next;
  }
}
