import type Database from 'better-sqlite3';

/**
 * Prepares each SQL text once per connection, on first use: the tables exist only after the
 * migrations ran, and preparing costs more than running most of the store's small statements.
 */
export class StatementCache {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  get(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}
