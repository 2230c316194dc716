import type { OutpostRecord } from '@outpost/plugin-sdk';
import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.ts';

function positive(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: "${raw}"`);
  return n;
}

function render(r: OutpostRecord): string {
  const time = new Date(r.ts).toISOString().slice(11, 23);
  const what = r.kind === 'metric' ? `${r.value}${r.unit ? ` ${r.unit}` : ''}` : (r.body ?? '');
  const attrs = Object.entries(r.attrs)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${time} ${r.kind.padEnd(6)} ${r.source} ${r.name} ${what}${attrs ? `  ${attrs}` : ''}\n`;
}

/** agentctl tap: live records at any point of the agent's pipeline. */
export function registerTapCommands(program: Command, ctx: CliContext): void {
  program
    .command('tap')
    .description('show records live as they pass a point of the pipeline (Ctrl-C stops)')
    .option('--stage <stage>', '"input", a processor name (see status), or "output"', 'output')
    .option('--kind <kind>', 'only this kind: metric, log, event or alert')
    .option('--name <name>', 'only names matching this glob, e.g. "app.*"')
    .option('--source <source>', 'only this source, e.g. system, log, plugin:http-check')
    .option('-n, --count <n>', 'stop after this many records', positive)
    .option('--json', 'one JSON record per line')
    .action(
      async (opts: {
        stage: string;
        kind?: string;
        name?: string;
        source?: string;
        count?: number;
        json?: boolean;
      }) => {
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort());
        let seen = 0;
        const query: Record<string, string> = { stage: opts.stage };
        for (const key of ['kind', 'name', 'source'] as const) {
          const value = opts[key];
          if (value !== undefined) query[key] = value;
        }
        await ctx.withAgent((client) =>
          client.stream<OutpostRecord>(
            '/v1/tap',
            (record) => {
              if (abort.signal.aborted) return;
              process.stdout.write(opts.json ? `${JSON.stringify(record)}\n` : render(record));
              if (opts.count !== undefined && ++seen >= opts.count) abort.abort();
            },
            { query, signal: abort.signal },
          ),
        );
      },
    );
}
