import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Command } from 'commander';
import { createLogger, logFormatOption, logLevelOption } from './index.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk) => {
    text += chunk;
  });
  return { stream, text: () => text };
}

test('log: JSON lines by default when stdout is not a terminal, at the configured level', () => {
  const out = capture();
  const logger = createLogger({
    level: 'info',
    name: 'outpost-agent',
    destination: out.stream,
    isTTY: false,
  });
  logger.debug('hidden');
  logger.info({ queue: 3 }, 'agent started');
  const lines = out.text().trim().split('\n');
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0] as string);
  assert.equal(line.msg, 'agent started');
  assert.equal(line.name, 'outpost-agent');
  assert.equal(line.queue, 3);
  assert.equal(line.level, 30);
});

test('log: pretty lines on a terminal, or when asked for; json when asked for on a terminal', () => {
  const pretty = capture();
  createLogger({
    level: 'info',
    name: 'outpost-agent',
    format: 'auto',
    destination: pretty.stream,
    isTTY: true,
  }).warn({ queue: 3 }, 'queue filling up');
  assert.match(pretty.text(), /WARN.*\(outpost-agent\): queue filling up/);
  assert.match(pretty.text(), /queue: 3/);
  assert.throws(() => JSON.parse(pretty.text()));

  const forced = capture();
  createLogger({ level: 'info', name: 'a', format: 'pretty', destination: forced.stream, isTTY: false }).info(
    'hi',
  );
  assert.match(forced.text(), /INFO.*: hi/);

  const json = capture();
  createLogger({ level: 'info', name: 'a', format: 'json', destination: json.stream, isTTY: true }).info(
    'hi',
  );
  assert.equal(JSON.parse(json.text()).msg, 'hi');
});

test('log: lines carry the pid and no host name unless the daemon gives its own fields', () => {
  const plain = capture();
  createLogger({ level: 'info', name: 'a', destination: plain.stream, isTTY: false }).info('hi');
  const line = JSON.parse(plain.text());
  assert.equal(line.pid, process.pid);
  assert.equal('hostname' in line, false);

  const based = capture();
  createLogger({
    level: 'info',
    name: 'a',
    base: { pid: 1, hostname: 'collector-1' },
    destination: based.stream,
    isTTY: false,
  }).info('hi');
  assert.deepEqual((({ pid, hostname }) => ({ pid, hostname }))(JSON.parse(based.text())), {
    pid: 1,
    hostname: 'collector-1',
  });
});

test('log: --log-level takes the levels of the daemon, --log-format the three formats; others are usage errors', () => {
  const program = () =>
    new Command('daemon')
      .exitOverride()
      .configureOutput({ writeErr: () => {} })
      .addOption(logLevelOption(['info', 'warn']))
      .addOption(logFormatOption());
  assert.deepEqual(
    program().parse(['--log-level', 'warn', '--log-format', 'json'], { from: 'user' }).opts(),
    {
      logLevel: 'warn',
      logFormat: 'json',
    },
  );
  assert.throws(() => program().parse(['--log-level', 'debug'], { from: 'user' }), {
    code: 'commander.invalidArgument',
  });
  assert.throws(() => program().parse(['--log-format', 'fancy'], { from: 'user' }), {
    code: 'commander.invalidArgument',
  });
});
