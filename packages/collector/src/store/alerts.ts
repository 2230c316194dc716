import type Database from 'better-sqlite3';
import type { SerializedRun } from './section.ts';

/**
 * Alerting state: rules, alert instances and their transitions, notification channels, silences,
 * the notification outbox and forwarding sink positions.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the alerting work (issue 7)
export interface AlertStore {}

export class SqliteAlertStore implements AlertStore {
  readonly #db: Database.Database;
  readonly #run: SerializedRun;

  constructor(db: Database.Database, run: SerializedRun) {
    this.#db = db;
    this.#run = run;
  }
}
