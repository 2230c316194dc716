/**
 * Test fixture for crash.test.ts: tails `<glob>` into the queue at `<queuePath>` until killed. With a
 * third argument, it closes cleanly (exit 0) once the committed offsets add up to that many bytes.
 *   node crash-child.ts <queuePath> <glob> [finishAtBytes]
 */
import pino from 'pino';
import { isOutpostError } from '../../errors.ts';
import { Queue } from '../../queue/index.ts';
import { LogFileInput } from './index.ts';

const [queuePath, pattern, finishAt] = process.argv.slice(2) as [string, string, string | undefined];
const logger = pino({ level: 'silent' });
const queue = Queue.open({
  path: queuePath,
  maxBytes: 1024 ** 3,
  policy: 'drop_oldest',
  durability: 'normal',
  logger,
});
const input = new LogFileInput({
  name: 'crash',
  paths: [pattern],
  startAt: 'beginning',
  pollIntervalMs: 50,
  // Small batches: many commits, so a kill lands between and inside them.
  batchMaxRecords: 25,
  emit: async (records, options) => {
    try {
      queue.enqueue(records, options);
      return true;
    } catch (err) {
      if (isOutpostError(err, 'E_QUEUE_FULL')) return false;
      throw err;
    }
  },
  readCursors: (prefix) => queue.cursors(prefix),
  logger,
});
input.start();
process.stdout.write('started\n');

const committedBytes = () => {
  let sum = 0;
  for (const [key, value] of queue.cursors('logfile:crash:')) {
    if (!key.endsWith('@input')) sum += (JSON.parse(value) as { offset: number }).offset;
  }
  return sum;
};

// Keeps the process alive: the input's own timers are unref'd.
const timer = setInterval(async () => {
  if (finishAt === undefined || committedBytes() < Number(finishAt)) return;
  clearInterval(timer);
  await input.close();
  await queue.close();
  process.exit(0);
}, 50);
