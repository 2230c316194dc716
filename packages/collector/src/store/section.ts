/**
 * Runs `fn` after every operation queued before it: the store's one better-sqlite3 connection is
 * synchronous and a transaction callback may await, so every section of the store goes through the
 * same queue and nothing runs inside another caller's open transaction. Rejects with E_STORE_CLOSED
 * after close().
 */
export type SerializedRun = <T>(fn: () => T | Promise<T>) => Promise<T>;
