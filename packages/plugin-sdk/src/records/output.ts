import type { OutpostRecord } from '../record.ts';
import { outputInvalid } from './errors.ts';
import { normalizeRecords, RecordProblem } from './normalize.ts';

export type OutputMethod = 'collect' | 'process' | 'rule' | 'action';

/**
 * What one plugin call produced, as the isolate wrote it: JSON text nobody has checked yet. It is
 * plain data, so the plugin host passes it on (over IPC) without decoding the records; whoever
 * decodes them does so with readPluginOutput, which checks every record.
 */
export interface PluginOutput {
  plugin: string;
  method: OutputMethod;
  /** `{"returned": <what the call returned>, "emitted": [<records given to ctx.emit>]}` */
  json: string;
  /** `ts` of records that have none: the sandbox's clock when the call ended. */
  now: number;
  /** The plugin's limits.maxRecordsPerCall. */
  maxRecords: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes a call's output into fresh records, each checked with normalizeRecord and completed (ts,
 * attrs, source). Anything wrong fails the whole output with E_PLUGIN_OUTPUT naming the plugin, the
 * method and the field, e.g. `returned[2].attrs.host`.
 */
export function readPluginOutput(output: PluginOutput): OutpostRecord[] {
  const { plugin, method } = output;
  let parsed: unknown;
  try {
    parsed = JSON.parse(output.json);
  } catch (err) {
    throw outputInvalid(plugin, method, `not JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed.emitted)) {
    throw outputInvalid(plugin, method, 'not a call output ({ returned, emitted })');
  }
  const returned = parsed.returned ?? null;
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
  const emitted = parsed.emitted;
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
