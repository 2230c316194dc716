import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { type CliContext, USAGE } from '../context.ts';

const KINDS = ['metric', 'log', 'event', 'alert'] as const;

function collectAttr(pair: string, attrs: Record<string, string | number | boolean>) {
  const eq = pair.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError(`attributes are key=value, got "${pair}"`);
  const raw = pair.slice(eq + 1);
  // Numbers and booleans keep their type, so `--attr code=500` can be compared as a number later.
  const value =
    raw === 'true'
      ? true
      : raw === 'false'
        ? false
        : raw !== '' && Number.isFinite(Number(raw))
          ? Number(raw)
          : raw;
  return { ...attrs, [pair.slice(0, eq)]: value };
}

function parseNumber(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`not a number: "${raw}"`);
  return n;
}

/** agentctl emit: push records into the agent's queue from a shell or a script. */
export function registerEmitCommands(program: Command, ctx: CliContext): void {
  program
    .command('emit')
    .description(
      'send records through the agent (durable once this returns): one from the flags, or NDJSON from --file (- for stdin)',
    )
    .option('--kind <kind>', `record kind: ${KINDS.join(', ')}`, 'event')
    .option('--name <name>', 'metric name, log source, event or alert name')
    .option('--value <number>', 'the value of a metric', parseNumber)
    .option('--unit <unit>', 'unit of a metric, e.g. "1", "By", "s"')
    .option('--body <text>', 'the text of a log record')
    .option('--attr <key=value>', 'an attribute (repeatable)', collectAttr, {})
    .option('--source <source>', 'where the record comes from', 'agentctl')
    .option('-f, --file <file>', 'NDJSON records, one per line (- reads stdin)')
    .addHelpText(
      'after',
      '\nExamples:\n  agentctl emit --kind event --name deploy.finished --attr version=1.4.2\n' +
        '  agentctl emit --kind metric --name queue.jobs --value 12 --unit "{job}"\n' +
        '  my-script | agentctl emit --file -\n',
    )
    .action(
      async (opts: {
        kind: string;
        name?: string;
        value?: number;
        unit?: string;
        body?: string;
        attr: Record<string, string | number | boolean>;
        source: string;
        file?: string;
      }) => {
        const command = program.commands.find((c) => c.name() === 'emit');
        let records: unknown[];
        if (opts.file !== undefined) {
          const text = opts.file === '-' ? await readStdin() : await readFile(opts.file, 'utf8');
          records = text
            .split('\n')
            .map((line, i) => ({ line, n: i + 1 }))
            .filter(({ line }) => line.trim() !== '')
            .map(({ line, n }) => {
              try {
                return JSON.parse(line) as unknown;
              } catch (err) {
                return command?.error(`${opts.file}:${n}: not JSON: ${(err as Error).message}`, USAGE);
              }
            });
          if (records.length === 0) command?.error(`${opts.file}: no records in it`, USAGE);
        } else {
          if (!KINDS.includes(opts.kind as (typeof KINDS)[number])) {
            command?.error(`--kind must be one of ${KINDS.join(', ')}, got "${opts.kind}"`, USAGE);
          }
          if (!opts.name) command?.error('--name is required (or give records with --file)', USAGE);
          records = [
            {
              kind: opts.kind,
              name: opts.name,
              value: opts.value,
              unit: opts.unit,
              body: opts.body,
              attrs: opts.attr,
              source: opts.source,
            },
          ];
        }
        const { accepted } = await ctx.withAgent((client) =>
          client.post<{ accepted: number }>('/v1/records', { records }),
        );
        process.stdout.write(`accepted ${accepted} record${accepted === 1 ? '' : 's'}\n`);
      },
    );
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
