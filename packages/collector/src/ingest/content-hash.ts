import { sha256Hex } from '../auth/index.ts';
import type { DataRequest } from './schemas.ts';

/** Marks a hash taken over the body's bytes after its agent block (a bare hex one is canonical). */
const TAIL = 'tail:';

/**
 * What an Idempotency-Key is bound to: the batch and its records, never the agent block, so a label
 * change between two attempts of one batch is no conflict. A body laid out as the agent writes it
 * (`{"agent":…,"batch":…,"records":[…]}`, compact JSON) is hashed over its bytes after the agent
 * block; re-serialising the parsed records for the hash cost about 0.7 of the collector's 9 CPU µs
 * per record. Any other layout is hashed over the canonical JSON of the validated batch and records.
 */
export class ContentHash {
  readonly value: string;
  readonly #request: DataRequest;
  #canonical: string | undefined;

  constructor(body: unknown, bytes: Buffer | undefined, request: DataRequest) {
    this.#request = request;
    const tail = bytes === undefined ? undefined : bytesAfterAgent(body, bytes);
    this.value = tail === undefined ? this.#canonicalHash() : `${TAIL}${sha256Hex(tail)}`;
  }

  /**
   * Whether `stored` (the hash kept with a key) is this body's. A canonical hash, which collectors
   * before the tail hash stored for every batch, is compared as such, so a retry across an upgrade
   * still gets its first answer.
   */
  matches(stored: string): boolean {
    if (stored.startsWith(TAIL)) return stored === this.value;
    return stored === this.#canonicalHash();
  }

  #canonicalHash(): string {
    this.#canonical ??= sha256Hex(JSON.stringify([this.#request.batch, this.#request.records]));
    return this.#canonical;
  }
}

/**
 * The bytes after `{"agent":<agent>,` when the body starts so, with <agent> exactly as JSON.stringify
 * writes the parsed agent block; undefined otherwise.
 */
function bytesAfterAgent(body: unknown, bytes: Buffer): Buffer | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const agent = (body as { agent?: unknown }).agent;
  if (agent === undefined) return undefined;
  const head = Buffer.from(`{"agent":${JSON.stringify(agent)},`);
  if (bytes.length <= head.length || bytes.compare(head, 0, head.length, 0, head.length) !== 0) {
    return undefined;
  }
  return bytes.subarray(head.length);
}
