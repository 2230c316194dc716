// Record checks without isolated-vm: the daemon, which must never load it, decodes plugin output
// and pushed records with these.
export { isOutpostError, OutpostError } from '../errors.ts';
export type { NormalizeOptions } from './normalize.ts';
export { normalizeRecord, normalizeRecords, RECORD_LIMITS, RecordProblem } from './normalize.ts';
export type { OutputMethod, PluginOutput } from './output.ts';
export { readPluginOutput } from './output.ts';
export { parseJsonPieces, RECORDS_PER_PIECE, toJsonPieces } from './pieces.ts';
