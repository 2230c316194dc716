import type { OutpostRecord } from '../record.ts';
import { outputInvalid } from './errors.ts';
import { normalizeRecords, RecordProblem } from './normalize.ts';
import { isJsonPieces, PiecesProblem, parseJsonPieces } from './pieces.ts';

export type OutputMethod = 'collect' | 'process' | 'rule' | 'action';

/**
 * What one plugin call produced, as the isolate wrote it: JSON text nobody has checked yet. It is
 * plain data, so the plugin host passes it on (over IPC) without decoding the records; whoever
 * decodes them does so with readPluginOutput, which checks every record.
 */
export interface PluginOutput {
  plugin: string;
  method: OutputMethod;
  /** What the call returned, as JSON pieces (toJsonPieces): `["null"]` when it returned nothing. */
  returned: string[];
  /** The records given to ctx.emit, as JSON pieces of one array. */
  emitted: string[];
  /** `ts` of records that have none: the sandbox's clock when the call ended. */
  now: number;
  /** The plugin's limits.maxRecordsPerCall. */
  maxRecords: number;
}

/**
 * Decodes a call's output into fresh records, each checked with normalizeRecord and completed (ts,
 * attrs, source). Anything wrong fails the whole output with E_PLUGIN_OUTPUT naming the plugin, the
 * method and the field, e.g. `returned[2].attrs.host`.
 */
export function readPluginOutput(output: PluginOutput): OutpostRecord[] {
  const { plugin, method } = output;
  if (!isJsonPieces(output.returned) || !isJsonPieces(output.emitted)) {
    throw outputInvalid(plugin, method, 'not a call output (returned and emitted as JSON pieces)');
  }
  let returned: unknown;
  let emitted: unknown;
  try {
    returned = parseJsonPieces(output.returned) ?? null;
    emitted = parseJsonPieces(output.emitted);
  } catch (err) {
    if (err instanceof PiecesProblem) throw outputInvalid(plugin, method, err.message);
    throw err;
  }
  if (!Array.isArray(emitted)) {
    throw outputInvalid(plugin, method, 'not a call output (the emitted records are not an array)');
  }
  if (method === 'process' && !Array.isArray(returned)) {
    throw outputInvalid(
      plugin,
      method,
      'process() must return an array of records (return [] to drop them all)',
    );
  }
  if (method !== 'action' && returned !== null && !Array.isArray(returned)) {
    throw outputInvalid(plugin, method, `${method}() must return an array of records or nothing`);
  }
  const fromReturn = method === 'action' ? [] : ((returned as unknown[] | null) ?? []);
  const total = fromReturn.length + emitted.length;
  if (total > output.maxRecords) {
    throw outputInvalid(
      plugin,
      method,
      `${total} records, more than ${output.maxRecords} (limits.maxRecordsPerCall)`,
    );
  }
  const options = {
    now: output.now,
    source: `plugin:${plugin}`,
    keepSource: method === 'process',
    alertsOnly: method === 'rule',
  };
  try {
    const records = normalizeRecords(fromReturn, 'returned', options);
    for (const record of normalizeRecords(emitted, 'emitted', options)) records.push(record);
    return records;
  } catch (err) {
    if (err instanceof RecordProblem) throw outputInvalid(plugin, method, err.message);
    throw err;
  }
}
