/**
 * A WHERE clause built from optional filters: a filter whose value is undefined adds nothing, so a
 * query reads as the list of filters it accepts.
 */
export class Where {
  readonly params: Record<string, unknown>;
  readonly #clauses: string[] = [];

  constructor(params: Record<string, unknown> = {}) {
    this.params = params;
  }

  /** Adds `clause` (which refers to `@name`) when `value` is defined. */
  add(clause: string, name: string, value: unknown): this {
    if (value === undefined) return this;
    this.#clauses.push(clause);
    this.params[name] = value;
    return this;
  }

  /** Adds a clause that always applies, with the parameters it refers to (e.g. a paging position). */
  and(clause: string, params: Record<string, unknown> = {}): this {
    this.#clauses.push(clause);
    Object.assign(this.params, params);
    return this;
  }

  toString(): string {
    return this.#clauses.length ? `WHERE ${this.#clauses.join(' AND ')}` : '';
  }
}

/** Rows fetched with LIMIT limit + 1: the extra row only says whether there is more. */
export function page<Row, T>(
  rows: Row[],
  limit: number,
  map: (row: Row) => T,
): { items: T[]; more: boolean } {
  return { items: rows.slice(0, limit).map(map), more: rows.length > limit };
}
