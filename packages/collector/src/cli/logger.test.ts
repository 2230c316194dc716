import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { loadCollectorConfig } from '../config/index.ts';
import { createCollectorLogger } from './logger.ts';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { stream, text: () => text };
}

test('collector logs: JSON lines unless a terminal or format pretty; the level filters', async () => {
  const json = capture();
  const logger = createCollectorLogger({
    level: 'warn',
    format: 'auto',
    isTTY: false,
    destination: json.stream,
  });
  logger.info('hidden');
  logger.warn({ agents: 3 }, 'seen');
  await new Promise((r) => setImmediate(r));
  const lines = json.text().trim().split('\n');
  assert.equal(lines.length, 1);
  assert.deepEqual(
    (({ name, msg, agents, level }) => ({ name, msg, agents, level }))(JSON.parse(lines[0] as string)),
    { name: 'outpost-collector', msg: 'seen', agents: 3, level: 40 },
  );

  for (const options of [
    { format: 'pretty' as const, isTTY: false },
    { format: 'auto' as const, isTTY: true },
  ]) {
    const pretty = capture();
    createCollectorLogger({ level: 'info', ...options, destination: pretty.stream }).info(
      { agents: 3 },
      'ready',
    );
    await new Promise((r) => setImmediate(r));
    assert.match(pretty.text(), /INFO.*\(outpost-collector\): ready\n\s+agents: 3/);
    assert.ok(!pretty.text().trim().startsWith('{'), pretty.text());
  }
});

test('collector logs: log.format from the file, --log-format over it, bad values refused', async () => {
  const config = await loadCollectorConfig({ values: { log: { format: 'pretty' } }, env: {} });
  assert.deepEqual(config.log, { level: 'info', format: 'pretty' });
  const flagged = await loadCollectorConfig({
    values: { log: { format: 'pretty', level: 'warn' } },
    flags: { logFormat: 'json' },
    env: {},
  });
  assert.deepEqual(flagged.log, { level: 'warn', format: 'json' });
  assert.deepEqual((await loadCollectorConfig({ env: {} })).log, { level: 'info', format: 'auto' });
  await assert.rejects(loadCollectorConfig({ values: { log: { format: 'fancy' } }, env: {} }), {
    code: 'E_CONFIG_INVALID',
  });
});
