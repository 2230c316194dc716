import { setTimeout as sleep } from 'node:timers/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { TopSnapshot } from '../../lifecycle/index.ts';
import type { CliContext } from '../context.ts';
import { renderTop, topView } from '../top-screen.ts';

function seconds(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0.2 || n > 3600) {
    throw new InvalidArgumentError(`expected seconds between 0.2 and 3600, got "${raw}"`);
  }
  return n;
}

function positive(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: "${raw}"`);
  return n;
}

// Home, then clear to the end: redraws in place without the flicker of a full clear.
const REDRAW = '\x1b[H\x1b[J';

/** agentctl top: per-input, per-stage and per-plugin rates and the agent's own CPU and memory, live. */
export function registerTopCommands(program: Command, ctx: CliContext): void {
  program
    .command('top')
    .description(
      'live resource view of the running agent: inputs, stages, plugins, own CPU and RSS (Ctrl-C stops)',
    )
    .option('-i, --interval <seconds>', 'seconds between refreshes (rates are over this span)', seconds, 2)
    .option('-n, --iterations <n>', 'stop after this many refreshes', positive)
    .option('--json', 'print one snapshot (rates over one interval) as JSON and exit')
    .action(async (opts: { interval: number; iterations?: number; json?: boolean }) => {
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      const redraw = process.stdout.isTTY && !opts.json;
      try {
        await ctx.withAgent(async (client) => {
          const take = () => client.get<TopSnapshot>('/v1/top');
          let before = await take();
          const frames = opts.json ? 1 : (opts.iterations ?? Number.POSITIVE_INFINITY);
          for (let frame = 0; frame < frames; frame++) {
            try {
              await sleep(opts.interval * 1000, undefined, { signal: abort.signal });
            } catch {
              return;
            }
            const after = await take();
            const view = topView(before, after);
            before = after;
            if (opts.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
            else if (redraw) process.stdout.write(`${REDRAW}${renderTop(view)}`);
            else process.stdout.write(`${frame > 0 ? '\n' : ''}${renderTop(view)}`);
          }
        });
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
