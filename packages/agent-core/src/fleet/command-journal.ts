import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFile } from './state-file.ts';

export const COMMAND_JOURNAL_FILE = 'commands.json';
/** Enough to outlive any redelivery: the collector expires commands long before this many more arrive. */
const KEEP = 500;

export type CommandOutcome = 'succeeded' | 'failed' | 'awaiting_verification';

export interface CommandResult {
  status: CommandOutcome;
  message: string;
  data?: Record<string, unknown>;
}

const entrySchema = z.object({
  id: z.string(),
  type: z.string(),
  startedAt: z.number(),
  result: z
    .object({
      status: z.enum(['succeeded', 'failed', 'awaiting_verification']),
      message: z.string(),
      data: z.record(z.string(), z.unknown()).optional(),
    })
    .nullable(),
});
export type JournalEntry = z.infer<typeof entrySchema>;

/**
 * Commands this agent has started, kept in the state dir so that a command delivered again (the
 * result did not reach the collector, or the agent restarted) is never run twice: its stored result
 * is reported instead.
 */
export class CommandJournal {
  readonly #path: string;
  #entries: JournalEntry[];

  constructor(stateDir: string, onDamaged: (err: unknown) => void) {
    this.#path = join(stateDir, COMMAND_JOURNAL_FILE);
    this.#entries = [];
    try {
      const parsed = z.array(entrySchema).safeParse(readJsonFile(this.#path) ?? []);
      if (parsed.success) this.#entries = parsed.data;
      else onDamaged(new Error(`${this.#path}: unexpected content`));
    } catch (err) {
      onDamaged(err);
    }
  }

  get(id: string): JournalEntry | undefined {
    return this.#entries.find((entry) => entry.id === id);
  }

  /** Written before the command runs: a crash midway must not lead to a second run. */
  started(id: string, type: string): void {
    this.#entries.push({ id, type, startedAt: Date.now(), result: null });
    if (this.#entries.length > KEEP) this.#entries = this.#entries.slice(-KEEP);
    this.#save();
  }

  finished(id: string, result: CommandResult): void {
    const entry = this.get(id);
    if (entry) entry.result = result;
    this.#save();
  }

  #save(): void {
    writeJsonFile(this.#path, this.#entries);
  }
}
