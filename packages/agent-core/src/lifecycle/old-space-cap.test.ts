import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { OldSpaceCap } from './old-space-cap.ts';

const MiB = 1024 * 1024;

/**
 * Objects that outlive a few scavenges, so they are promoted into the old space, a batch at a time
 * with the event loop turning between batches (the cap looks after each collection, asynchronously).
 */
async function promote(kept: object[], batches: number): Promise<void> {
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < 20_000; i++) kept.push({ body: `line ${b}:${i}`, attrs: { n: i } });
    await turn();
  }
}

/** Turns the event loop, making garbage only, until `done` or `batches` run out. */
async function churn(batches: number, done: () => boolean = () => false): Promise<void> {
  for (let b = 0; b < batches && !done(); b++) {
    let garbage: object[] = [];
    for (let i = 0; i < 20_000; i++) garbage.push({ body: `line ${i}`, attrs: { n: i } });
    garbage = [];
    await turn();
  }
}

test('old space cap: asks for a major collection once the old space grew, then re-arms', async () => {
  const cap = new OldSpaceCap({ growthBytes: 4 * MiB });
  cap.start();
  try {
    let kept: object[] = [];
    await promote(kept, 20);
    await churn(200, () => cap.stats().collections > 0);
    const first = cap.stats();
    assert.ok(first.collections >= 1, `no collection after promoting ~20 MB: ${JSON.stringify(first)}`);
    assert.ok(first.lastCollectionAt !== null);

    // Released, the promoted objects are freed by the next collection, and growth counts again.
    kept = [];
    await promote(kept, 20);
    await churn(200, () => cap.stats().collections > first.collections);
    const second = cap.stats();
    assert.ok(second.collections > first.collections, `not re-armed: ${JSON.stringify(second)}`);
    assert.ok(second.freedBytes > 0, 'the released objects were freed');
    assert.ok(kept.length > 0);
  } finally {
    await cap.close();
  }
});

test('old space cap: a large live old space raises the floor instead of collecting again and again', async () => {
  const cap = new OldSpaceCap({ growthBytes: 4 * MiB });
  cap.start();
  try {
    const kept: object[] = [];
    await promote(kept, 30);
    await churn(100);
    const settled = cap.stats();
    assert.ok(settled.floorBytes > 4 * MiB, `floor ${settled.floorBytes} below the live objects`);
    // Garbage alone barely grows the old space: at most one more collection, not one per scavenge.
    await churn(200);
    const after = cap.stats();
    assert.ok(
      after.collections - settled.collections <= 1,
      `${after.collections - settled.collections} collections of garbage alone`,
    );
    assert.ok(kept.length > 0);
  } finally {
    await cap.close();
  }
});

test('old space cap: close() stops it, waits for a collection in progress, and is safe twice', async () => {
  const cap = new OldSpaceCap({ growthBytes: 4 * MiB });
  cap.start();
  const collecting = cap.collect();
  await cap.close();
  await collecting;
  assert.equal(cap.stats().collections, 1);
  await cap.close();

  const kept: object[] = [];
  await promote(kept, 20);
  await churn(100);
  assert.equal(cap.stats().collections, 1, 'collected after close()');
  assert.ok(kept.length > 0);
});
