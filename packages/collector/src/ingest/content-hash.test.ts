import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isOutpostError } from '../errors.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { decodeBody, ingestBatch } from './index.ts';

const AGENT = 'agt_hash';
const records = [
  { seq: 1, kind: 'metric', ts: 1_000, name: 'm', value: 0.5, attrs: { cpu: 0 }, source: 'system' },
  { seq: 2, kind: 'log', ts: 1_001, name: 'app', body: 'GET /', attrs: {}, source: 'log' },
];

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-hash-'));
  const store = await openSqliteStore({ file: path.join(dir, 'collector.db') });
  try {
    await store.registerAgent({
      id: AGENT,
      hostname: 'h',
      labels: {},
      version: '1',
      secretSha256: 'x',
      registeredAt: 0,
    });
    await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sends `json` (text) as the route does: decoded, then ingested under `key`. */
function send(store: Store, key: string, json: string) {
  const { value, bytes } = decodeBody(Buffer.from(json), undefined, { maxDecompressedBytes: 2 ** 20 });
  return ingestBatch(store, {
    agentId: AGENT,
    idempotencyKey: key,
    body: value,
    bytes,
    maxRecordsPerBatch: 100,
    now: 5,
  });
}

const isConflict = (err: unknown) => isOutpostError(err, 'E_IDEMPOTENCY_CONFLICT');

test('ingest: a body in the agent layout is bound to its bytes after the agent block', async () => {
  await withStore(async (store) => {
    const agent = { id: AGENT, labels: { env: 'prod' } };
    const batch = { seq: 1, createdAt: 9 };
    const first = await send(store, `${AGENT}-1`, JSON.stringify({ agent, batch, records }));
    assert.equal(first.replayed, false);
    const stored = await store.transaction((tx) => tx.getIdempotency(`${AGENT}-1`));
    assert.match(stored!.contentSha256, /^tail:[0-9a-f]{64}$/);

    const relabelled = { agent: { ...agent, labels: { env: 'changed' } }, batch, records };
    const retry = await send(store, `${AGENT}-1`, JSON.stringify(relabelled));
    assert.deepEqual([retry.replayed, retry.response], [true, first.response]);

    const other = { agent, batch, records: records.slice(0, 1) };
    await assert.rejects(send(store, `${AGENT}-1`, JSON.stringify(other)), isConflict);
    // The same content in another layout is not the same bytes: a retry must resend the batch.
    await assert.rejects(send(store, `${AGENT}-1`, JSON.stringify({ batch, records, agent })), isConflict);
  });
});

test('ingest: a key stored with the canonical hash (other layouts, older collectors) still replays', async () => {
  await withStore(async (store) => {
    const batch = { seq: 2 };
    // Another layout: hashed over the canonical JSON of the validated batch and records.
    const first = await send(store, `${AGENT}-2`, JSON.stringify({ records, batch, agent: { id: AGENT } }));
    const stored = await store.transaction((tx) => tx.getIdempotency(`${AGENT}-2`));
    assert.match(stored!.contentSha256, /^[0-9a-f]{64}$/);
    const validated = records.map(({ seq, kind, ts, name, value, body, attrs, source }) => ({
      seq,
      kind,
      ts,
      name,
      value,
      body,
      attrs,
      source,
    }));
    const canonical = createHash('sha256')
      .update(JSON.stringify([batch, validated]))
      .digest('hex');
    assert.equal(stored!.contentSha256, canonical, 'the hash collectors before the tail hash stored');

    const retry = await send(store, `${AGENT}-2`, JSON.stringify({ agent: { id: AGENT }, batch, records }));
    assert.deepEqual([retry.replayed, retry.response], [true, first.response]);
    await assert.rejects(
      send(store, `${AGENT}-2`, JSON.stringify({ agent: { id: AGENT }, batch, records: records.slice(1) })),
      isConflict,
    );
    const page = await store.queryRecords({ limit: 10 });
    assert.equal(page.records.length, 2, 'no record stored twice');
  });
});
