import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { saveIdentity } from './identity.ts';
import { identityPath, loadIdentity } from './index.ts';

test('identity: saved with mode 0600 and loaded back; absent means not registered', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-identity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(loadIdentity(dir), null);
  const identity = {
    agentId: 'agt_1',
    secret: 's3cret',
    collectorUrl: 'http://127.0.0.1:7410',
    registeredAt: 1,
  };
  saveIdentity(join(dir, 'state'), identity);
  assert.deepEqual(loadIdentity(join(dir, 'state')), identity);
  assert.equal(statSync(identityPath(join(dir, 'state'))).mode & 0o777, 0o600);
});

test('identity: a damaged file is a clear error that names the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-identity-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(identityPath(dir), '{"agentId": "agt_1"');
  assert.throws(() => loadIdentity(dir), {
    code: 'E_IDENTITY_INVALID',
    message: /identity\.json: not valid JSON/,
  });
  writeFileSync(identityPath(dir), '{"agentId": "agt_1"}');
  assert.throws(() => loadIdentity(dir), { code: 'E_IDENTITY_INVALID' });
});
