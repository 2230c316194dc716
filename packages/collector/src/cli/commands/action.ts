import type { Command } from 'commander';
import { isOutpostError, OutpostError } from '../../errors.ts';
import { AdminClient, type AdminFlags, flagsOf } from './admin-client.ts';

export type Done = (exitCode: number) => void;

export const usage = (message: string) => new OutpostError('E_USAGE', message);

export interface AdminContext<T> {
  client: AdminClient;
  flags: AdminFlags & T;
  /** Prints `data` as JSON with --json, else what `human` renders. */
  print<D>(data: D, human: (data: D) => string): void;
}

/**
 * Wraps an admin subcommand: builds the client from the flags, maps failures to one stderr line and
 * the exit code (2 for usage errors, 1 for anything else).
 */
export function adminAction<T extends object>(
  done: Done,
  handler: (ctx: AdminContext<T>, args: Array<string | undefined>) => Promise<unknown>,
) {
  return async (...received: unknown[]) => {
    const command = received.at(-1) as Command;
    // Positional arguments as commander passes them; a variadic one (an array) is spread in place.
    const args = received.slice(0, -2).flat() as Array<string | undefined>;
    try {
      const flags = flagsOf<T>(command);
      const client = AdminClient.from(flags);
      const code = await handler(
        {
          client,
          flags,
          print: (data, human) =>
            process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : human(data)),
        },
        args,
      );
      done(typeof code === 'number' ? code : 0);
    } catch (err) {
      if (!isOutpostError(err)) throw err;
      process.stderr.write(`outpost-collector: ${err.message}\n`);
      done(err.code === 'E_USAGE' ? 2 : 1);
    }
  };
}

/** "--labels env=prod,role=web" or "--agent <id>": exactly one. */
export function targetOf(flags: {
  agent?: string;
  labels?: string;
}): { agent: string } | { labels: Record<string, string> } {
  if ((flags.agent === undefined) === (flags.labels === undefined)) {
    throw usage('give exactly one of --agent <id> or --labels <k=v,...> (--labels "" targets every agent)');
  }
  if (flags.agent !== undefined) return { agent: flags.agent };
  return { labels: parsePairs(flags.labels!, '--labels') };
}

export function parsePairs(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw usage(`${flag}: "${part}" is not key=value`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
