import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { isOutpostError } from '../errors.ts';
import {
  newAgentId,
  newSecret,
  parseAgentCredentials,
  parseBearer,
  resolveTokens,
  secretMatches,
  sha256Hex,
  tokenMatches,
} from './index.ts';

const logger = pino({ level: 'silent' });
const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-auth-'));

test('auth: bearer and agent credentials parse strictly', () => {
  assert.equal(parseBearer('Bearer abc.def'), 'abc.def');
  assert.equal(parseBearer('bearer   tok'), 'tok');
  assert.equal(parseBearer('Basic abc'), undefined);
  assert.equal(parseBearer(undefined), undefined);
  assert.deepEqual(parseAgentCredentials('agt_1.sec.ret'), { agentId: 'agt_1', secret: 'sec.ret' });
  assert.equal(parseAgentCredentials('nodot'), undefined);
  assert.equal(parseAgentCredentials('.secret'), undefined);
  assert.equal(parseAgentCredentials('agt_1.'), undefined);
  assert.doesNotMatch(newAgentId(), /\./);
});

test('auth: secrets compare by hash; unknown agents never match', () => {
  const secret = newSecret();
  assert.equal(secretMatches(secret, sha256Hex(secret)), true);
  assert.equal(secretMatches(`${secret}x`, sha256Hex(secret)), false);
  assert.equal(secretMatches(secret, undefined), false);
  assert.equal(tokenMatches('admin-token-0123456789', 'admin-token-0123456789'), true);
  assert.equal(tokenMatches('admin-token-0123456789', 'admin-token-012345678'), false);
});

test('auth: tokens are generated once with mode 0600 and reused', async () => {
  const dataDir = tempDir();
  const first = await resolveTokens({ dataDir, logger });
  assert.equal(first.enrollmentTokenFile, path.join(dataDir, 'enrollment-token'));
  assert.equal(first.adminTokenFile, path.join(dataDir, 'admin-token'));
  assert.notEqual(first.enrollmentToken, first.adminToken);
  assert.equal(statSync(first.adminTokenFile!).mode & 0o777, 0o600);
  assert.equal(statSync(first.enrollmentTokenFile!).mode & 0o777, 0o600);
  assert.equal(readFileSync(first.adminTokenFile!, 'utf8').trim(), first.adminToken);
  const second = await resolveTokens({ dataDir, logger });
  assert.deepEqual(second, first);
});

test('auth: configured tokens win and leave no file behind', async () => {
  const dataDir = tempDir();
  const tokens = await resolveTokens({ dataDir, logger, adminToken: 'configured-admin-0123456789' });
  assert.equal(tokens.adminToken, 'configured-admin-0123456789');
  assert.equal(tokens.adminTokenFile, null);
  assert.throws(() => statSync(path.join(dataDir, 'admin-token')), { code: 'ENOENT' });
});

test('auth: an empty token file is refused with a fix', async () => {
  const dataDir = tempDir();
  writeFileSync(path.join(dataDir, 'admin-token'), '\n', { mode: 0o600 });
  await assert.rejects(resolveTokens({ dataDir, logger }), (err) => {
    assert.ok(isOutpostError(err, 'E_TOKEN_FILE_INVALID'));
    assert.match(err.message, /admin-token is empty.*delete it/);
    return true;
  });
});
