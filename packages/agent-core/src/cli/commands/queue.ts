import type { Command } from 'commander';
import type { DeadLetterBatch, QueueStats } from '../../queue/index.ts';
import { verifyQueueFile } from '../../queue/index.ts';
import { type CliContext, USAGE } from '../context.ts';
import { formatAgo, formatBytes } from '../format.ts';

interface QueueStatus {
  path: string;
  stats: QueueStats;
  deadLetters: DeadLetterBatch[];
}

/** agentctl queue ...: stats, verify, flush and the dead-letter table. */
export function registerQueueCommands(program: Command, ctx: CliContext): void {
  const queue = program.command('queue').description("inspect and repair the agent's durable queue");

  queue
    .command('stats')
    .description('depth, bytes, age of the oldest record, drops by reason and dead letters')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const status = await ctx.withAgent((client) => client.get<QueueStatus>('/v1/queue'));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const s = status.stats;
      const dropped = Object.entries(s.dropped).map(([reason, n]) => `${reason} ${n}`);
      process.stdout.write(
        [
          `file         ${status.path}`,
          `records      ${s.depth} (${formatBytes(s.bytes)}), ${s.batches} batches formed, ${s.leased} in flight`,
          `oldest       ${formatAgo(s.oldestTs)}`,
          `since start  ${s.enqueued} enqueued, ${s.acked} acknowledged`,
          `dropped      ${dropped.join(', ')}`,
          `dead letter  ${s.deadLetter} records${s.deadLetter > 0 ? ' (agentctl queue dead-letter list)' : ''}`,
          ...(s.walLostFrames > 0
            ? [
                `recovered    the WAL had lost ${s.walLostFrames} committed frames at open (see the agent log)`,
              ]
            : []),
          '',
        ].join('\n'),
      );
    });

  queue
    .command('verify')
    .description('check a queue file offline (works on a copy; safe while the agent runs)')
    .argument('<file>', 'the queue file, e.g. /var/lib/outpost/queue.db')
    .option('--json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const report = verifyQueueFile(file);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else if (report.ok) {
        process.stdout.write(
          `${file}: ok (schema ${report.schemaVersion}, ${report.records} records of which ${report.pendingRecords} pending, ` +
            `${report.batches} batches, ${report.deadLetter} dead letters, ${report.cursors} cursors, ` +
            `${formatBytes(report.fileBytes)} + ${formatBytes(report.walBytes)} WAL)\n`,
        );
      } else {
        process.stdout.write(`${file}: NOT OK\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      }
      if (!report.ok) process.exitCode = 1;
    });

  queue
    .command('flush')
    .description('send everything queued now (same as agentctl flush)')
    .action(async () => {
      const result = await ctx.withAgent((client) =>
        client.post<{ sent: number; remaining: number }>('/v1/flush'),
      );
      process.stdout.write(`sent ${result.sent} records, ${result.remaining} still queued\n`);
      if (result.remaining > 0) process.exitCode = 1;
    });

  const dead = queue
    .command('dead-letter')
    .description('batches the collector refused for good (4xx other than 408/429)');

  dead
    .command('list')
    .description('each dead-lettered batch with its records count and the reason')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { deadLetters } = await ctx.withAgent((client) => client.get<QueueStatus>('/v1/queue'));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(deadLetters, null, 2)}\n`);
        return;
      }
      if (deadLetters.length === 0) {
        process.stdout.write('the dead-letter table is empty\n');
        return;
      }
      for (const b of deadLetters) {
        process.stdout.write(
          `batch ${b.batchSeq}  ${b.records} records  ${formatBytes(b.bytes)}  ${formatAgo(b.deadAt)}  ` +
            `${b.status ?? '-'} ${b.code}: ${b.message}\n`,
        );
        for (const r of b.sample) process.stdout.write(`    #${r.seq} ${r.kind} ${r.name}\n`);
      }
    });

  const batchArg = (raw: string | undefined): string => {
    if (raw === undefined) return '';
    if (!/^[1-9]\d*$/.test(raw))
      dead.error(`batch must be a batch seq from "dead-letter list", got "${raw}"`, USAGE);
    return `?batch=${raw}`;
  };

  dead
    .command('retry')
    .description('queue dead-lettered records again (after fixing why they were refused)')
    .argument('[batch]', 'one batch seq; omit with --all for every batch')
    .option('--all', 'every dead-lettered batch')
    .action(async (batch: string | undefined, opts: { all?: boolean }) => {
      if (batch === undefined && !opts.all) dead.error('name a batch seq, or pass --all', USAGE);
      const query = batchArg(batch);
      const { retried } = await ctx.withAgent((client) =>
        client.post<{ retried: number }>(`/v1/queue/dead-letter/retry${query}`),
      );
      process.stdout.write(`${retried} records queued again\n`);
    });

  dead
    .command('purge')
    .description('delete dead-lettered records for good (counted as dropped "purged")')
    .argument('[batch]', 'one batch seq; omit with --all for every batch')
    .option('--all', 'every dead-lettered batch')
    .option('--yes', 'confirm: the records are deleted and cannot be sent any more')
    .action(async (batch: string | undefined, opts: { all?: boolean; yes?: boolean }) => {
      if (batch === undefined && !opts.all) dead.error('name a batch seq, or pass --all', USAGE);
      if (!opts.yes) dead.error('purging deletes records for good; add --yes to confirm', USAGE);
      const query = batchArg(batch);
      const { purged } = await ctx.withAgent((client) =>
        client.post<{ purged: number }>(`/v1/queue/dead-letter/purge${query}`),
      );
      process.stdout.write(`${purged} records purged\n`);
    });
}
