import type Database from 'better-sqlite3';
import type { SerializedRun } from './section.ts';

/**
 * Fleet control state: enrollment tokens, agent revocation and labels, config documents and their
 * assignments, the plugin store and per-agent command queues.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the fleet-control work (issue 6)
export interface FleetStore {}

export class SqliteFleetStore implements FleetStore {
  readonly #db: Database.Database;
  readonly #run: SerializedRun;

  constructor(db: Database.Database, run: SerializedRun) {
    this.#db = db;
    this.#run = run;
  }
}
