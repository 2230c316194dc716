import { OutpostError } from '../errors.ts';

export const storeClosed = () => new OutpostError('E_STORE_CLOSED', 'the store is closed');

export const storeOpenFailed = (file: string, cause: unknown) =>
  new OutpostError(
    'E_STORE_OPEN_FAILED',
    `cannot open the collector database ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { file },
    { cause },
  );

export const schemaTooNew = (file: string, found: number, known: number) =>
  new OutpostError(
    'E_STORE_SCHEMA_TOO_NEW',
    `the collector database ${file} has schema version ${found}, newer than this collector knows (${known}); run a newer collector`,
    { file, found, known },
  );

export const transactionEnded = () =>
  new OutpostError('E_STORE_TRANSACTION_ENDED', 'this transaction has already committed or rolled back');

export const unknownAgent = (agentId: string) =>
  new OutpostError(
    'E_STORE_UNKNOWN_AGENT',
    `no agent "${agentId}" is registered; register it before storing its records`,
    {
      agentId,
    },
  );
