import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isOutpostError } from '../errors.ts';
import { classify, parseRetryAfter, RetryPolicy } from './retry-policy.ts';

test('retry-policy: classify follows docs/protocol.md, with 500 retryable and 401 never permanent', () => {
  for (const s of [200, 201, 204]) assert.equal(classify(s), 'success', String(s));
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(classify(s), 'retryable', String(s));
  for (const s of [400, 403, 404, 409, 413, 415, 422]) assert.equal(classify(s), 'permanent', String(s));
  assert.equal(classify(401), 'unauthorized');
  // A proxy redirect is a deployment fault, not a bad batch: keep the batch.
  assert.equal(classify(302), 'retryable');
});

test('retry-policy: full jitter stays within the exponential window and under the cap', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (attempt, r) => {
        const policy = new RetryPolicy({
          initialBackoffMs: 100,
          maxBackoffMs: 10_000,
          multiplier: 2,
          random: () => r,
        });
        const window = Math.min(10_000, 100 * 2 ** (attempt - 1));
        const delay = policy.delayFor(attempt);
        assert.ok(delay >= 0 && delay < window, `attempt ${attempt}: ${delay} not in [0, ${window})`);
        assert.equal(delay, Math.floor(r * window));
      },
    ),
  );
});

test('retry-policy: the top of the window grows by the multiplier until the cap', () => {
  const policy = new RetryPolicy({
    initialBackoffMs: 100,
    maxBackoffMs: 1000,
    multiplier: 3,
    random: () => 0.999999,
  });
  assert.deepEqual(
    [1, 2, 3, 4, 50].map((a) => policy.delayFor(a)),
    [99, 299, 899, 999, 999],
  );
});

test('retry-policy: Retry-After wins over backoff and is capped', () => {
  const policy = new RetryPolicy({ initialBackoffMs: 100, maxRetryAfterMs: 5000, random: () => 0.5 });
  assert.equal(policy.delayFor(1, 1000), 1000);
  assert.equal(policy.delayFor(1, 0), 0);
  assert.equal(policy.delayFor(1, 3_600_000), 5000);
  assert.equal(policy.delayFor(1, undefined), 50);
});

test('retry-policy: parseRetryAfter reads delta-seconds and HTTP dates, capped', () => {
  const now = Date.parse('Tue, 25 Nov 2025 10:00:00 GMT');
  assert.equal(parseRetryAfter('1', now), 1000);
  assert.equal(parseRetryAfter(' 120 ', now), 120_000);
  assert.equal(parseRetryAfter('Tue, 25 Nov 2025 10:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Tue, 25 Nov 2025 09:00:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfter(['2', '7'], now), 2000);
  assert.equal(parseRetryAfter('86400', now, 60_000), 60_000);
  assert.equal(new RetryPolicy({ maxRetryAfterMs: 10_000 }).parseRetryAfter('3600', now), 10_000);
  for (const bad of [undefined, null, '', 'soon', '-5', '1.5']) {
    assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
  }
});

test('retry-policy: impossible options are refused with E_SEND_CONFIG', () => {
  for (const options of [
    { initialBackoffMs: 0 },
    { initialBackoffMs: 100, maxBackoffMs: 50 },
    { multiplier: 0.5 },
    { maxRetryAfterMs: -1 },
    { initialBackoffMs: Number.NaN },
  ]) {
    assert.throws(
      () => new RetryPolicy(options),
      (err) => isOutpostError(err, 'E_SEND_CONFIG'),
      JSON.stringify(options),
    );
  }
});
