import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactSecrets } from './redact.ts';

test('redactSecrets: credentials under any secret-looking key, nested or in lists, and URL passwords', () => {
  const config = {
    collector: {
      url: 'https://agent:pa55@collector.example.com/',
      enrollment_token: 'abc',
      request_timeout: 10,
    },
    outputs: [{ headers: { Authorization: 'Bearer x', 'X-Api-Key': 'k', accept: 'json' } }],
    db: { password: 'p', passwd: 'p', client_secret: 's', private_key: 'pem', user: 'outpost' },
    empty: { token: '', secret: null },
    plain: 'https://collector.example.com/path',
    count: 3,
  };
  assert.deepEqual(redactSecrets(config), {
    collector: {
      url: `https://agent:${REDACTED}@collector.example.com/`,
      enrollment_token: REDACTED,
      request_timeout: 10,
    },
    outputs: [{ headers: { Authorization: REDACTED, 'X-Api-Key': REDACTED, accept: 'json' } }],
    db: {
      password: REDACTED,
      passwd: REDACTED,
      client_secret: REDACTED,
      private_key: REDACTED,
      user: 'outpost',
    },
    // Not set stays visible as not set.
    empty: { token: '', secret: null },
    plain: 'https://collector.example.com/path',
    count: 3,
  });
  assert.equal(config.collector.enrollment_token, 'abc', 'the input is not modified');
});
